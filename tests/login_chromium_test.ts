/**
 * The browser login in a real browser: Debian's Chromium (headless, fresh
 * profile, nothing beyond 127.0.0.1) opens the URL the real cdx CLI prints,
 * signs in on oidc-provider's own login and consent pages — or the codex
 * fake's approve page — follows the redirect to cdx's callback, and the
 * test reads cdx's page from the DOM. Skipped, saying so in the test name,
 * where chromium is not installed (`.ci/run` installs it).
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { runCdx, spawnCdx } from "./helpers/cli.ts";
import { OIDC_ACCOUNT, startOidcProvider } from "./helpers/oidc.ts";
import { startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { exists, tempHome } from "./helpers/auth_context.ts";
import { CHROMIUM, launchChromium, NO_CHROMIUM, watchCdx } from "./helpers/browser.ts";
import { assertSchema } from "./helpers/schema.ts";

// puppeteer keeps a websocket and timers across steps; each test closes its browser itself.
const browserTest = { ignore: !CHROMIUM, sanitizeOps: false, sanitizeResources: false };

function fileEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CODEX_HOME: home, CDX_CREDENTIALS_STORE: "file", ...extra };
}

async function text(page: Page, selector: string): Promise<string> {
  await page.waitForSelector(selector);
  return await page.$eval(selector, (e) => e.textContent ?? "");
}

/** oidc-provider's devInteractions: its login form, then its consent form (or Cancel). */
async function signInAtOidcProvider(page: Page, consent: "continue" | "cancel"): Promise<void> {
  await page.waitForSelector("input[name=login]");
  await page.type("input[name=login]", OIDC_ACCOUNT.sub);
  await page.type("input[name=password]", "any password");
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  await page.waitForSelector("button[type=submit]");
  assert.match(await page.content(), /Authorize/);
  if (consent === "continue") {
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  } else {
    await Promise.all([page.waitForNavigation(), page.click("a[href*='/abort']")]);
  }
}

Deno.test({
  name:
    `chromium: standard OIDC issuer (oidc-provider's real login and consent pages) → cdx's success page, tokens saved${NO_CHROMIUM}`,
  ...browserTest,
  async fn() {
    await using home = await tempHome();
    await using op = await startOidcProvider({ authorizationCode: true });
    await using chromium = await launchChromium();
    const cdx = watchCdx(spawnCdx(
      [
        "login",
        "--issuer",
        op.issuer,
        "--client-id",
        op.clientId,
        "--no-browser",
        "--port",
        "0",
        "--log-level",
        "trace",
      ],
      { env: fileEnv(home.path) },
    ));
    const url = await cdx.authorizeUrl();
    assert.ok(url.startsWith(`${op.issuer}/auth?`), url);
    const params = new URL(url).searchParams;
    assert.equal(params.get("code_challenge_method"), "S256");
    assert.equal(params.get("prompt"), "consent");
    assert.match(params.get("redirect_uri")!, /^http:\/\/127\.0\.0\.1:\d+\/auth\/callback$/);

    const page = await chromium.newPage();
    await page.goto(url);
    await signInAtOidcProvider(page, "continue");
    assert.equal(await text(page, "#title"), "Signed in to cdx");
    assert.match(await page.content(), /You can close this tab/);

    const result = await cdx.done();
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`Successfully logged in to ${op.issuer} as ${OIDC_ACCOUNT.email}\\n$`),
    );
    const saved = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
    assert.deepEqual(saved.tokens.oauth_provenance, { issuer: op.issuer, client_id: op.clientId });
    assert.ok(saved.tokens.refresh_token, "offline_access granted: a refresh token");
    for (
      const secret of [saved.tokens.access_token, saved.tokens.refresh_token, saved.tokens.id_token]
    ) {
      assert.ok(!result.stderr.includes(secret), "token in the trace log");
    }
    // The callback URL (holding the code) was requested, nothing else of cdx's page but itself.
    const callbackPort = new URL(params.get("redirect_uri")!).port;
    const ours = chromium.requests.filter((r) => new URL(r).port === callbackPort);
    assert.ok(ours.length >= 1);
    for (const r of ours) assert.match(new URL(r).pathname, /^\/(auth\/callback|favicon\.ico)$/);
    const code = new URL(ours[0]).searchParams.get("code")!;
    assert.ok(!result.stderr.includes(code), "the code in the trace log");

    const status = await runCdx(["login", "status", "--json"], { env: fileEnv(home.path) });
    assert.equal(status.code, 0, status.stderr);
    const json = assertSchema("status", JSON.parse(status.stdout));
    assert.equal(json.issuer, op.issuer);
    assert.equal(json.email, OIDC_ACCOUNT.email);
    const human = await runCdx(["login", "status"], { env: fileEnv(home.path) });
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^Logged in to ${op.issuer} as ${OIDC_ACCOUNT.email}\n`));
  },
});

Deno.test({
  name:
    `chromium: denied consent ends the login with the issuer's message and a failure page; nothing saved${NO_CHROMIUM}`,
  ...browserTest,
  async fn() {
    await using home = await tempHome();
    await using op = await startOidcProvider({ authorizationCode: true });
    await using chromium = await launchChromium();
    const cdx = watchCdx(spawnCdx(
      ["login", "--issuer", op.issuer, "--client-id", op.clientId, "--no-browser", "--port", "0"],
      { env: fileEnv(home.path) },
    ));
    const page = await chromium.newPage();
    await page.goto(await cdx.authorizeUrl());
    await signInAtOidcProvider(page, "cancel");
    assert.equal(await text(page, "#title"), "Sign-in failed");
    assert.match(await page.content(), /End-User aborted interaction/);
    const result = await cdx.done();
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /error: Error logging in: Sign-in failed: End-User aborted interaction\n/,
    );
    assert.equal(await exists(`${home.path}/auth.json`), false);
  },
});

Deno.test({
  name:
    `chromium: codex flavour against the codex fake — a forged state is refused, then approve → signed in${NO_CHROMIUM}`,
  ...browserTest,
  async fn() {
    await using home = await tempHome();
    await using fake = await startCodexAuthServer({ authorize: "form", email: "c@example.com" });
    await using chromium = await launchChromium();
    const cdx = watchCdx(spawnCdx(["login", "--no-browser", "--port", "0"], {
      env: fileEnv(home.path, { CDX_ISSUER: fake.url }),
    }));
    const url = await cdx.authorizeUrl();
    const redirectUri = new URL(url).searchParams.get("redirect_uri")!;
    const page = await chromium.newPage();

    // A page elsewhere tries to complete this login with its own code.
    await page.goto(`${redirectUri}?code=attacker-code&state=attacker-state`);
    assert.equal(await text(page, "#title"), "Not the sign-in cdx is waiting for");

    await page.goto(url);
    await page.waitForSelector("#approve");
    await Promise.all([page.waitForNavigation(), page.click("#approve")]);
    assert.equal(await text(page, "#title"), "Signed in to cdx");
    const result = await cdx.done();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: ignored a sign-in response that is not for this login/);
    assert.deepEqual(fake.exchangedCodes.length, 1);
    const saved = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
    assert.equal(saved.auth_mode, "chatgpt");
    assert.equal(saved.OPENAI_API_KEY, fake.apiKeysIssued[0]);
    // Every request the browser made stayed on this machine.
    for (const r of chromium.requests) {
      assert.match(new URL(r).hostname, /^(127\.0\.0\.1|localhost)$/);
    }
  },
});
