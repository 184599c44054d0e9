/**
 * `cdx login --device-auth` with codex's device-code flow against the local fake of
 * codex's endpoints (codex-interop.md §4): wire format, pending statuses,
 * the string interval, the 15-minute cap, Ctrl-C, what gets saved.
 */
import assert from "node:assert/strict";
import { runLogin } from "../commands/login.ts";
import type { LoginOptions } from "../commands/login.ts";
import { CancelledError, InterruptSignal } from "../lib/cancel.ts";
import { CdxError } from "../lib/errors.ts";
import { memoryInput, MemoryOutput } from "../lib/context.ts";
import { startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { authContext, exists, modeOf, tempHome } from "./helpers/auth_context.ts";

function loginOptions(extra: Partial<LoginOptions> = {}): LoginOptions {
  return {
    command: "login",
    withApiKey: undefined,
    deviceAuth: true,
    issuer: undefined,
    clientId: undefined,
    scope: undefined,
    noBrowser: true,
    store: "file",
    ...extra,
  } as LoginOptions;
}

Deno.test("device login: user code, polls until approved, exchange, saves codex's ChatGPT auth.json", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ interval: " 1 ", autoApproveAfterPolls: 3 });
  const ctx = await authContext(home.path, {
    env: { CDX_ISSUER: fake.url, CDX_TEST_POLL_SCALE: "0.01" },
  });
  assert.equal(await runLogin(ctx, loginOptions()), 0);

  const err = ctx.stderr.text();
  assert.match(err, new RegExp(`${fake.url}/codex/device`));
  assert.match(err, /ABCD-1234/);
  assert.match(err, /expires in 15 minutes/);
  assert.match(err, /Successfully logged in\n$/);

  const paths = fake.requests.map((r) => r.path);
  assert.deepEqual(paths, [
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/api/accounts/deviceauth/usercode",
    "/api/accounts/deviceauth/token",
    "/api/accounts/deviceauth/token",
    "/api/accounts/deviceauth/token",
    "/oauth/token",
  ]);
  const usercode = fake.requests[2];
  assert.equal(usercode.body, '{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann"}');
  assert.equal(usercode.headers["content-type"], "application/json");
  assert.equal(usercode.headers["originator"], undefined);
  const exchange = new URLSearchParams(fake.requests[6].body);
  assert.deepEqual([...exchange.keys()], [
    "grant_type",
    "client_id",
    "code",
    "redirect_uri",
    "code_verifier",
  ]);
  assert.equal(exchange.get("redirect_uri"), `${fake.url}/deviceauth/callback`);

  const text = await Deno.readTextFile(`${home.path}/auth.json`);
  assert.ok(!text.endsWith("\n"));
  const saved = JSON.parse(text);
  assert.deepEqual(Object.keys(saved), ["auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"]);
  assert.equal(saved.auth_mode, "chatgpt");
  assert.equal(saved.OPENAI_API_KEY, null);
  assert.equal(saved.tokens.account_id, "acct-123");
  assert.deepEqual(saved.tokens.oauth_provenance, {
    issuer: fake.url,
    client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
  });
  assert.match(saved.tokens.login_owner_id, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);
  // No token in anything printed.
  for (const t of [saved.tokens.access_token, saved.tokens.refresh_token, saved.tokens.id_token]) {
    assert.ok(!err.includes(t));
    assert.ok(!ctx.stdout.text().includes(t));
  }
});

Deno.test("device login: 404 while polling also means pending", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ pendingStatus: 404, autoApproveAfterPolls: 2 });
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
  assert.equal(await runLogin(ctx, loginOptions()), 0);
  assert.ok(await exists(`${home.path}/auth.json`));
});

Deno.test("device login disabled on the server: codex's message, exit 1, nothing saved", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ deviceCodeDisabled: true });
  const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
  await assert.rejects(runLogin(ctx, loginOptions()), (e) => {
    assert.ok(e instanceof CdxError);
    assert.equal(
      e.message,
      "Error logging in with device code: device code login is not enabled for this Codex server. Use the browser login or verify the server URL.",
    );
    assert.equal(e.exitCode, 1);
    return true;
  });
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("device login gives up after the (scaled) 15-minute cap", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ interval: "5" });
  const ctx = await authContext(home.path, {
    env: { CDX_ISSUER: fake.url, CDX_TEST_POLL_SCALE: "0.0002" }, // cap 180 ms, interval 1 ms
  });
  await assert.rejects(runLogin(ctx, loginOptions()), /device auth timed out after 15 minutes/);
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("Ctrl-C while polling cancels at once and saves nothing", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ interval: "30" });
  const controller = new AbortController();
  const ctx = await authContext(home.path, {
    env: { CDX_ISSUER: fake.url },
    signal: controller.signal,
  });
  const started = performance.now();
  const login = runLogin(ctx, loginOptions());
  // Abort once the first poll has happened (the code is on screen).
  while (!fake.requests.some((r) => r.path === "/api/accounts/deviceauth/token")) {
    await new Promise((r) => setTimeout(r, 5));
  }
  controller.abort(new InterruptSignal("SIGINT"));
  await assert.rejects(login, CancelledError);
  assert.ok(performance.now() - started < 10_000, "did not wait for the 30 s interval");
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("a new login revokes the refresh token it replaced", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ autoApproveAfterPolls: 1 });
  const env = {
    CDX_ISSUER: fake.url,
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${fake.url}/oauth/revoke`,
  };
  assert.equal(await runLogin(await authContext(home.path, { env }), loginOptions()), 0);
  const first = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
  assert.equal(await runLogin(await authContext(home.path, { env }), loginOptions()), 0);
  assert.deepEqual(fake.revoked, [first.tokens.refresh_token]);
});

Deno.test("on a terminal: a countdown until the code expires, and the browser opens with the URL only", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ autoApproveAfterPolls: 2 });
  const spawned: Array<{ cmd: string; args: readonly string[] }> = [];
  const ctx = await authContext(home.path, {
    env: { CDX_ISSUER: fake.url, DISPLAY: ":0" },
  });
  const tty = new MemoryOutput(true);
  const runner = {
    run: (cmd: string, args: readonly string[]) => {
      spawned.push({ cmd, args });
      return Promise.resolve({
        code: 0,
        signal: null,
        stdout: new Uint8Array(),
        stderr: new Uint8Array(),
      });
    },
  };
  const ttyCtx = { ...ctx, stderr: tty, runner, os: "linux" as const };
  assert.equal(await runLogin(ttyCtx, loginOptions({ noBrowser: undefined })), 0);
  assert.match(tty.text(), /Waiting for approval\.\.\. the code expires in 1[45]:\d\d/);
  assert.ok(tty.text().endsWith("\r\x1b[2KSuccessfully logged in\n"), "countdown line cleared");
  assert.deepEqual(spawned, [{ cmd: "xdg-open", args: [`${fake.url}/codex/device`] }]);

  // --no-browser: nothing is spawned.
  spawned.length = 0;
  await runLogin(ttyCtx, loginOptions({ noBrowser: true }));
  assert.deepEqual(spawned, []);
});

Deno.test("--with-api-key on a terminal is a usage error with codex's hint; forced_login_method is enforced", async () => {
  await using home = await tempHome();
  const ctx = await authContext(home.path, { stdin: memoryInput("", true) });
  await assert.rejects(
    runLogin(ctx, loginOptions({ withApiKey: true, deviceAuth: undefined })),
    (e) =>
      e instanceof CdxError && e.exitCode === 2 &&
      e.message ===
        "--with-api-key expects the API key on stdin. Try piping it, e.g. `printenv OPENAI_API_KEY | cdx login --with-api-key`.",
  );
  await Deno.writeTextFile(`${home.path}/config.toml`, 'forced_login_method = "chatgpt"\n');
  const forced = await authContext(home.path, { stdin: memoryInput("sk-x-12345678") });
  await assert.rejects(
    runLogin(forced, loginOptions({ withApiKey: true, deviceAuth: undefined })),
    /API key login is disabled\. Use ChatGPT login instead\./,
  );
  await Deno.writeTextFile(`${home.path}/config.toml`, 'forced_login_method = "api"\n');
  await assert.rejects(
    runLogin(await authContext(home.path), loginOptions()),
    /ChatGPT login is disabled\. Use API key login instead\./,
  );
  assert.equal(await exists(`${home.path}/auth.json`), false);
});
