/**
 * A browser login at trace level leaves no secret anywhere: the code, the
 * PKCE verifier, the tokens, the exchanged API key and the login owner id
 * appear in no output, not in `cdx.log`, not in a feedback bundle (the
 * state appears only in the link cdx prints for the user to open). The logs
 * searched are not empty: they hold the login's trace lines.
 */
import assert from "node:assert/strict";
import { runCdx, spawnCdx } from "./helpers/cli.ts";
import { startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { makeJwt } from "./fakes/codex_auth_server.ts";
import { tempHome } from "./helpers/auth_context.ts";
import { playBrowser, watchCdx } from "./helpers/browser.ts";

function random(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function readTree(dir: string): Promise<string> {
  let all = "";
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    all += entry.isDirectory ? await readTree(path) : await Deno.readTextFile(path);
  }
  return all;
}

Deno.test("browser login at trace level: no code, verifier, token, API key or owner id in any output, cdx.log or feedback bundle", async () => {
  await using home = await tempHome();
  const tokens = {
    id_token: makeJwt({
      email: "s@example.com",
      "https://api.openai.com/auth": { chatgpt_account_id: "acct-s" },
      nonce: random("idtok-"),
    }),
    access_token: makeJwt({ exp: 4_000_000_000, jti: random("at-") }),
    refresh_token: random("rt_secret_"),
  };
  const code = random("ac_browser_secret_");
  const apiKey = random("sk-proj-secret-");
  await using fake = await startCodexAuthServer({
    known: { tokenSets: [tokens], browserCodes: [code], apiKeys: [apiKey] },
  });
  const env = { CODEX_HOME: home.path, CDX_CREDENTIALS_STORE: "file", CDX_ISSUER: fake.url };
  const cdx = watchCdx(spawnCdx(["login", "--no-browser", "--port", "0", "--log-level", "trace"], {
    env,
  }));
  const url = await cdx.authorizeUrl();
  const page = await playBrowser(url);
  const login = await cdx.done();
  assert.equal(login.code, 0, login.stderr);
  assert.equal(page.callback.searchParams.get("code"), code);

  const exchange = fake.requests.find((r) => r.body.includes("grant_type=authorization_code"))!;
  const verifier = new URLSearchParams(exchange.body).get("code_verifier")!;
  const state = new URL(url).searchParams.get("state")!;
  const saved = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
  assert.equal(saved.OPENAI_API_KEY, apiKey);

  const zipPath = `${home.path}/report.zip`;
  const report = await runCdx(
    ["feedback", "--classification", "bug", "--note", "browser", "--output", zipPath, "--yes"],
    { env },
  );
  assert.equal(report.code, 0, report.stderr);
  const unzipped = await Deno.makeTempDir({ dir: home.path, prefix: "unzipped-" });
  const unzip = await new Deno.Command("unzip", { args: ["-q", zipPath, "-d", unzipped] }).output();
  assert.equal(unzip.code, 0);
  const cdxLog = await Deno.readTextFile(`${home.path}/log/cdx.log`);
  // Not vacuous: the login's own trace lines are there.
  assert.match(cdxLog, /waiting for the sign-in on 127\.0\.0\.1:\d+/);
  assert.match(login.stderr, /waiting for the sign-in on 127\.0\.0\.1:\d+/);

  const places: Record<string, string> = {
    "login stdout": login.stdout,
    "login stderr": login.stderr,
    "cdx.log": cdxLog,
    "bundle": await readTree(unzipped),
    "feedback output": report.stdout + report.stderr,
    "cdx's page": page.body,
  };
  const secrets: Record<string, string> = {
    code,
    verifier,
    apiKey,
    id_token: tokens.id_token,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    login_owner_id: saved.tokens.login_owner_id,
  };
  for (const [where, text] of Object.entries(places)) {
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(!text.includes(value), `${name} found in ${where}`);
    }
    // The state is in the link the user must open, and nowhere else.
    if (where !== "login stderr") assert.ok(!text.includes(state), `state found in ${where}`);
  }
});
