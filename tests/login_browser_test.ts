/**
 * `cdx login` (the browser flow) in process, against the local fake of
 * codex's authorize and token endpoints, with a scripted browser: codex
 * 0.169.0's parameters, PKCE and redirect_uri checked by the fake, the saved
 * record, the callback server's rules (state, paths, pages, closing), a
 * denial, a failed exchange, the bound, Ctrl-C, paste-back and the decision
 * to open a browser.
 */
import assert from "node:assert/strict";
import { type LoginOptions, runLogin } from "../commands/login.ts";
import { noBrowserReason } from "../lib/open_browser.ts";
import { CancelledError, InterruptSignal } from "../lib/cancel.ts";
import { CdxError, ExitCode } from "../lib/errors.ts";
import type { Context, Input } from "../lib/context.ts";
import { mapEnv, MemoryOutput } from "../lib/context.ts";
import { CODEX_BROWSER_SCOPE, startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { authContext, exists, modeOf, tempHome } from "./helpers/auth_context.ts";
import { authorizeUrlIn, playBrowser, visit, waitFor } from "./helpers/browser.ts";

function loginOptions(extra: Partial<LoginOptions> = {}): LoginOptions {
  return {
    command: "login",
    noBrowser: true,
    port: 0,
    store: "file",
    ...extra,
  } as LoginOptions;
}

/** Starts `cdx login` and returns it with the authorize URL once printed. */
async function startLogin(
  ctx: Context & { stderr: MemoryOutput },
  extra: Partial<LoginOptions> = {},
) {
  const login = runLogin(ctx, loginOptions(extra));
  login.catch(() => {}); // observed by the test below
  const url = await waitFor(() => authorizeUrlIn(ctx.stderr.text()), "the authorize URL");
  return { login, url };
}

async function refused(url: string): Promise<boolean> {
  try {
    await (await fetch(url)).body?.cancel();
    return false;
  } catch {
    return true;
  }
}

Deno.test("browser login (codex flavour): codex's authorize request, PKCE exchange, API key, auth.json as codex 0.169.0 writes it", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ email: "b@example.com", plan: "pro" });
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
  const { login, url } = await startLogin(ctx);

  const authorize = new URL(url);
  assert.equal(`${authorize.origin}${authorize.pathname}`, `${fake.url}/oauth/authorize`);
  const page = await playBrowser(url);
  assert.equal(await login, 0);

  // The request codex 0.169.0 sends, key for key and in its order.
  const [request] = fake.authorizeRequests;
  assert.deepEqual(request.keys, [
    "response_type",
    "client_id",
    "redirect_uri",
    "code_challenge",
    "code_challenge_method",
    "state",
    "scope",
    "id_token_add_organizations",
    "codex_cli_simplified_flow",
    "originator",
  ]);
  const port = Number(new URL(request.params.get("redirect_uri")!).port);
  assert.equal(request.params.get("redirect_uri"), `http://127.0.0.1:${port}/auth/callback`);
  assert.equal(request.params.get("scope"), CODEX_BROWSER_SCOPE);
  assert.match(url, /scope=openid\+profile\+email\+offline_access\+api\.connectors\.read/);

  // The fake exchanged the code only because the verifier matched the challenge.
  assert.equal(fake.exchangedCodes.length, 1);
  const exchange = fake.requests.find((r) =>
    r.path === "/oauth/token" && r.body.startsWith("grant_type=authorization_code")
  )!;
  const form = new URLSearchParams(exchange.body);
  assert.deepEqual([...form.keys()], [
    "grant_type",
    "client_id",
    "code",
    "redirect_uri",
    "code_verifier",
  ]);
  assert.match(form.get("code_verifier")!, /^[A-Za-z0-9_-]{86}$/); // 64 bytes
  assert.equal(fake.apiKeysIssued.length, 1);

  const text = await Deno.readTextFile(`${home.path}/auth.json`);
  const saved = JSON.parse(text);
  assert.deepEqual(Object.keys(saved), ["auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"]);
  assert.equal(saved.auth_mode, "chatgpt");
  assert.equal(saved.OPENAI_API_KEY, fake.apiKeysIssued[0]);
  assert.deepEqual(Object.keys(saved.tokens), [
    "id_token",
    "access_token",
    "refresh_token",
    "oauth_provenance",
    "login_owner_id",
    "account_id",
  ]);
  assert.deepEqual(saved.tokens.oauth_provenance, {
    issuer: fake.url,
    client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
  });
  assert.equal(saved.tokens.account_id, "acct-123");
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);

  // The page: small, self-contained, not cached, no referrer, no secret in it.
  assert.equal(page.status, 200);
  assert.match(page.body, /Signed in to cdx/);
  assert.equal(page.headers.get("cache-control"), "no-store");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
  assert.doesNotMatch(page.body, /<script|<link|src=|https?:\/\//);
  const secrets = [
    page.callback.searchParams.get("code")!,
    form.get("code_verifier")!,
    saved.tokens.access_token,
    saved.tokens.refresh_token,
    saved.tokens.id_token,
    saved.OPENAI_API_KEY,
  ];
  for (const s of secrets) {
    assert.ok(!page.body.includes(s), "secret in the page");
    assert.ok(!ctx.stderr.text().includes(s), "secret on stderr");
  }
  assert.equal(ctx.stdout.text(), "");
  assert.match(
    ctx.stderr.text(),
    /forward the port before you sign in: ssh -L \d+:127\.0\.0\.1:\d+/,
  );
  assert.doesNotMatch(ctx.stderr.text(), /paste/, "no paste offer without a terminal");
  assert.match(ctx.stderr.text(), /Successfully logged in\n$/);
  // Closed after success.
  assert.ok(await refused(`http://127.0.0.1:${port}/auth/callback`), "server still listening");
});

Deno.test("a forged or missing state gets an error page, is never exchanged, and the login keeps waiting for the right one", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
  const { login, url } = await startLogin(ctx);
  const redirect = await fetch(url, { redirect: "manual" });
  const callback = new URL(redirect.headers.get("location")!);

  const forged = new URL(callback);
  forged.searchParams.set("state", "forged-state-forged-state-forged-state-abc");
  const bad = await visit(forged);
  assert.equal(bad.status, 400);
  assert.match(bad.body, /Not the sign-in cdx is waiting for/);
  assert.equal(bad.headers.get("cache-control"), "no-store");
  const missing = new URL(callback);
  missing.searchParams.delete("state");
  assert.equal((await visit(missing)).status, 400);
  const deniedForged = new URL(`${callback.origin}${callback.pathname}?error=access_denied`);
  assert.equal((await visit(deniedForged)).status, 400, "a forged error does not end the login");
  // Other paths and methods.
  assert.equal((await visit(`${callback.origin}/`)).status, 404);
  assert.equal((await visit(`${callback.origin}/auth/callback/x`)).status, 404);
  const post = await fetch(callback, { method: "POST" });
  await post.body?.cancel();
  assert.equal(post.status, 405);

  assert.equal(fake.requests.filter((r) => r.path === "/oauth/token").length, 0, "exchanged");
  assert.equal(await exists(`${home.path}/auth.json`), false);

  const good = await visit(callback);
  assert.equal(good.status, 200);
  assert.equal(await login, 0);
  assert.equal(fake.exchangedCodes.length, 1);
});

Deno.test("the issuer's error= callback ends the login with its message; the page says so; nothing saved", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ authorize: "deny" });
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
  const { login, url } = await startLogin(ctx);
  const page = await playBrowser(url);
  await assert.rejects(login, (e) => {
    assert.ok(e instanceof CdxError);
    assert.equal(e.exitCode, ExitCode.FAILURE);
    assert.equal(
      e.message,
      "Error logging in: Sign-in failed: The user denied access to the stand-in issuer",
    );
    return true;
  });
  assert.equal(page.status, 400);
  assert.match(page.body, /Sign-in failed/);
  assert.match(page.body, /The user denied access/);
  assert.equal(fake.requests.filter((r) => r.path === "/oauth/token").length, 0);
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("GET /cancel (what a newer codex login sends to a busy port) ends the waiting login; nothing saved", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
  const { login, url } = await startLogin(ctx);
  const port = new URL(new URL(url).searchParams.get("redirect_uri")!).port;
  const res = await fetch(`http://127.0.0.1:${port}/cancel`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /Login cancelled/);
  await assert.rejects(login, (e) => {
    assert.ok(e instanceof CdxError);
    assert.equal(e.exitCode, ExitCode.FAILURE);
    assert.match(
      e.message,
      /the sign-in was cancelled: another login \(codex login or cdx login\) took over port \d+/,
    );
    return true;
  });
  assert.ok(
    await refused(`http://127.0.0.1:${port}/auth/callback`),
    "server closed",
  );
  // The browser arriving afterwards is never exchanged.
  assert.equal(fake.requests.filter((r) => r.path === "/oauth/token").length, 0);
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("a failing code exchange ends the login with the issuer's detail and a failure page; nothing saved", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
  const { login, url } = await startLogin(ctx);
  const page = await playBrowser(url, (cb) => cb.searchParams.set("code", "ac_not_issued_by_fake"));
  await assert.rejects(
    login,
    /Error logging in: Token exchange failed: token endpoint returned status 400: bad code$/,
  );
  assert.equal(page.status, 400);
  assert.match(page.body, /Token exchange failed/);
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("the API-key exchange is best effort: when it fails the login still succeeds with OPENAI_API_KEY null", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ apiKeyExchangeStatus: 500 });
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
  const { login, url } = await startLogin(ctx);
  await playBrowser(url);
  assert.equal(await login, 0);
  const saved = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
  assert.equal(saved.OPENAI_API_KEY, null);
  assert.equal(saved.auth_mode, "chatgpt");
});

Deno.test("waiting is bounded: no sign-in within the (scaled) 15 minutes is a timeout, exit 124, server closed", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const ctx = await authContext(home.path, {
    env: { CDX_ISSUER: fake.url, CDX_TEST_POLL_SCALE: "0.0002" }, // 180 ms
  });
  const { login, url } = await startLogin(ctx);
  const redirectUri = new URL(url).searchParams.get("redirect_uri")!;
  await assert.rejects(login, (e) => {
    assert.ok(e instanceof CdxError);
    assert.equal(e.exitCode, ExitCode.TIMEOUT);
    assert.match(e.message, /no sign-in arrived within/);
    return true;
  });
  assert.ok(await refused(redirectUri));
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("Ctrl-C while waiting for the browser cancels at once, closes the server and saves nothing", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const controller = new AbortController();
  const ctx = await authContext(home.path, {
    env: { CDX_ISSUER: fake.url },
    signal: controller.signal,
  });
  const { login, url } = await startLogin(ctx);
  controller.abort(new InterruptSignal("SIGINT"));
  await assert.rejects(login, CancelledError);
  assert.ok(await refused(new URL(url).searchParams.get("redirect_uri")!));
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

/** A terminal stdin whose lines the test types. */
function typedInput(): Input & { type(line: string): void } {
  const lines: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  return {
    isTTY: true,
    readable: new ReadableStream(),
    readLine: () =>
      new Promise((resolve) => {
        const next = lines.shift();
        if (next !== undefined) resolve(next);
        else waiters.push(resolve);
      }),
    type(line) {
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    },
  };
}

Deno.test("no browser here and a terminal: the pasted address of the failed page completes the login, with the same state check", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const stdin = typedInput();
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url }, stdin });
  const { login, url } = await startLogin(ctx, { noBrowser: undefined });
  const err = () => ctx.stderr.text();
  assert.match(err(), /cdx did not open a browser \(no graphical session/);
  assert.match(err(), /copy the address of the page that fails to load and paste it below/);
  assert.match(err(), /Paste the address here \(or wait for the browser\): $/);

  // The browser runs elsewhere: it gets the redirect, which cannot reach this machine.
  const redirect = await fetch(url, { redirect: "manual" });
  const callback = new URL(redirect.headers.get("location")!);
  const forged = new URL(callback);
  forged.searchParams.set("state", "x".repeat(43));
  stdin.type("not an address");
  await waitFor(() => /That is not the sign-in redirect/.test(err()), "the not-a-redirect notice");
  stdin.type(forged.toString());
  await waitFor(() => /belongs to another login/.test(err()), "the state notice");
  assert.equal(fake.exchangedCodes.length, 0);
  stdin.type(`  ${callback}  `);
  assert.equal(await login, 0);
  assert.equal(fake.exchangedCodes.length, 1);
  assert.ok(await exists(`${home.path}/auth.json`));
  assert.ok(!err().includes(callback.searchParams.get("code")!), "code echoed by cdx");
});

Deno.test("with a paste prompt open, the browser's callback still wins and the prompt line is ended before any other line", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url }, stdin: typedInput() });
  const { login, url } = await startLogin(ctx, { noBrowser: true });
  await playBrowser(url);
  assert.equal(await login, 0);
  // (--store file is recorded in config.toml, and says so: on its own line, after the prompt's.)
  assert.match(
    ctx.stderr.text(),
    /\(or wait for the browser\): \nnote: saved cli_auth_credentials_store = "file" in .*\nSuccessfully logged in\n$/,
  );
});

Deno.test("a desktop session opens the browser with the URL as the only argument; a failing opener falls back to the printed link", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const spawned: Array<{ cmd: string; args: readonly string[] }> = [];
  let exitCode = 0;
  const runner = {
    run: (cmd: string, args: readonly string[]) => {
      spawned.push({ cmd, args });
      return Promise.resolve({
        code: exitCode,
        signal: null,
        stdout: new Uint8Array(),
        stderr: new Uint8Array(),
      });
    },
  };
  for (const code of [0, 3]) {
    exitCode = code;
    spawned.length = 0;
    const base = await authContext(home.path, { env: { CDX_ISSUER: fake.url, DISPLAY: ":0" } });
    const ctx = { ...base, runner, os: "linux" as const };
    const { login, url } = await startLogin(ctx, { noBrowser: undefined });
    assert.deepEqual(spawned, [{ cmd: "xdg-open", args: [url] }]);
    const text = ctx.stderr.text();
    if (code === 0) assert.match(text, /Your browser should have opened this link/);
    else assert.match(text, /cdx did not open a browser \(xdg-open exited with status 3\)/);
    await playBrowser(url);
    assert.equal(await login, 0);
  }
});

Deno.test("whether a browser can be opened: not over SSH, not without a display on Linux", () => {
  const reason = (env: Record<string, string>, os: typeof Deno.build.os = "linux") =>
    noBrowserReason({ env: mapEnv(env), os });
  assert.equal(reason({ DISPLAY: ":0" }), undefined);
  assert.equal(reason({ WAYLAND_DISPLAY: "wayland-0" }), undefined);
  assert.match(reason({})!, /DISPLAY and WAYLAND_DISPLAY are not set/);
  assert.match(reason({ DISPLAY: ":0", SSH_CONNECTION: "1 2 3 4" })!, /SSH session/);
  assert.match(reason({ SSH_TTY: "/dev/pts/1" }, "darwin")!, /SSH session/);
  assert.equal(reason({}, "darwin"), undefined);
  assert.equal(reason({}, "windows"), undefined);
});

Deno.test("on a terminal: a waiting line that counts down and is cleared before anything else is written", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const base = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
  const tty = new MemoryOutput(true);
  const ctx = { ...base, stderr: tty };
  const login = runLogin(ctx, loginOptions());
  const url = await waitFor(() => authorizeUrlIn(tty.text()), "the authorize URL");
  await waitFor(
    () => /Waiting for the sign-in in the browser\.\.\. 1[45]:\d\d left/.test(tty.text()),
    "the waiting line",
  );
  // The log sink writes through this same Output object, synchronously.
  tty.writeSync("warning: a warning while waiting\n");
  await playBrowser(url);
  assert.equal(await login, 0);
  // Whatever the logger printed started on a cleared line, never glued to the waiting text.
  assert.doesNotMatch(tty.text(), /left[^\r\n]*warning/);
  assert.ok(tty.text().endsWith("\r\x1b[2KSuccessfully logged in\n"));
});
