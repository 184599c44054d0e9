/**
 * The real CLI as a subprocess (the binary's permission set): login with an
 * API key or a device code against the local codex fake, status, token,
 * logout, Ctrl-C, and parallel processes sharing one expired token.
 */
import assert from "node:assert/strict";
import { runCdx, spawnCdx } from "./helpers/cli.ts";
import { type CodexAuthServer, startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { chatgptAuth, serializeAuthFile } from "../lib/auth/auth_json.ts";
import { exists, modeOf, tempHome } from "./helpers/auth_context.ts";
import { assertSchema } from "./helpers/schema.ts";

const KEY = "sk-proj-cli-test-abcdefghij12345";

function fileEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CODEX_HOME: home, CDX_CREDENTIALS_STORE: "file", ...extra };
}

function assertNoSecret(text: string, secrets: string[]): void {
  for (const s of secrets) assert.ok(!text.includes(s), `secret leaked: ${text}`);
}

Deno.test("cli: API-key login, status, token, logout — codex's messages and exit codes", async () => {
  await using home = await tempHome();
  const env = fileEnv(home.path);
  const login = await runCdx(["login", "--with-api-key"], { env, stdin: `  ${KEY}\n` });
  assert.equal(login.code, 0, login.stderr);
  assert.equal(
    login.stderr,
    "Reading API key from stdin...\nAPI key saved. Authentication is checked when you send a request.\n",
  );
  assert.equal(
    await Deno.readTextFile(`${home.path}/auth.json`),
    `{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "${KEY}"\n}`,
  );
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);

  // The report is data: on stdout (codex prints it on stderr; cdx keeps stderr for messages).
  const status = await runCdx(["login", "status"], { env });
  assert.equal(status.code, 0);
  assert.equal(status.stderr, "");
  assert.match(status.stdout, /^API key configured - sk-proj-\*\*\*12345\n/);
  assert.match(status.stdout, new RegExp(`Stored in: file ${home.path}/auth\\.json`));
  assertNoSecret(status.stdout, [KEY]);

  const json = await runCdx(["login", "status", "--json"], { env });
  const parsed = assertSchema("status", JSON.parse(json.stdout));
  assert.equal(parsed.version, 1);
  assert.equal(parsed.logged_in, true);
  assert.equal(parsed.api_key, "sk-proj-***12345");
  assert.equal(parsed.store.location, "file");

  const token = await runCdx(["login", "token"], { env });
  assert.equal(token.stdout, `${KEY}\n`);
  const tokenJson = assertSchema(
    "token",
    JSON.parse((await runCdx(["login", "token", "--json"], { env })).stdout),
  );
  assert.equal(tokenJson.auth_mode, "apikey");
  assert.equal(tokenJson.kind, "apikey");
  assert.equal(tokenJson.token, KEY);

  const logout = await runCdx(["logout"], { env });
  assert.equal(logout.code, 0);
  assert.equal(logout.stderr, "Successfully logged out\n");
  assert.equal(await exists(`${home.path}/auth.json`), false);
  const again = await runCdx(["logout"], { env });
  assert.deepEqual([again.code, again.stderr], [0, "Not logged in\n"]);
  const after = await runCdx(["login", "status"], { env });
  assert.equal(after.code, 1);
  assert.match(after.stdout, /^Not logged in\n/);
  const afterJson = await runCdx(["login", "status", "--json"], { env });
  assert.equal(afterJson.code, 1);
  assert.equal(assertSchema("status", JSON.parse(afterJson.stdout)).logged_in, false);
  const noToken = await runCdx(["login", "token"], { env });
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /error: not logged in\nhint: run `cdx login`/);
});

Deno.test("cli: empty stdin is a usage error (exit 2) with codex's message", async () => {
  await using home = await tempHome();
  const r = await runCdx(["login", "--with-api-key"], { env: fileEnv(home.path), stdin: " \n" });
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /Reading API key from stdin\.\.\.\nerror: No API key provided via stdin\.\n/,
  );
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("cli: auto mode without a reachable keychain saves auth.json and says so", async () => {
  await using home = await tempHome();
  const r = await runCdx(["login", "--with-api-key"], {
    env: { CODEX_HOME: home.path, DBUS_SESSION_BUS_ADDRESS: `unix:path=${home.path}/no-bus` },
    stdin: KEY,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stderr.includes(`credentials saved to ${home.path}/auth.json`), r.stderr);
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);
  assertNoSecret(r.stderr, [KEY]);
});

async function deviceLogin(home: string, fake: CodexAuthServer) {
  // Trace logging on: the tests below prove no token reaches the logs either.
  return await runCdx(["login", "--device-auth", "--no-browser", "--log-level", "trace"], {
    env: fileEnv(home, { CDX_ISSUER: fake.url, CDX_TEST_POLL_SCALE: "0.01" }),
  });
}

Deno.test("cli: device login end to end, then status shows the account and token prints it", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({
    interval: "1",
    autoApproveAfterPolls: 2,
    email: "dev@example.com",
    plan: "pro",
  });
  const login = await deviceLogin(home.path, fake);
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stderr, /ABCD-1234/);
  assert.match(login.stderr, /Successfully logged in\n$/);
  const saved = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
  const secrets = [saved.tokens.access_token, saved.tokens.refresh_token, saved.tokens.id_token];
  assertNoSecret(login.stderr + login.stdout, secrets);

  const status = await runCdx(["login", "status"], { env: fileEnv(home.path) });
  assert.equal(status.code, 0);
  assert.match(
    status.stdout,
    /^Logged in using ChatGPT\nAccount: dev@example\.com, plan pro, account acct-123\n/,
  );
  assert.match(status.stdout, /Access token: expires \d{4}-/);
  assertNoSecret(status.stdout + status.stderr, secrets);
  const token = await runCdx(["login", "token", "--json"], { env: fileEnv(home.path) });
  const parsed = assertSchema("token", JSON.parse(token.stdout));
  assert.equal(parsed.token, saved.tokens.access_token);
  assert.equal(parsed.account_id, "acct-123");
  assert.match(parsed.expires_at, /^\d{4}-/);
});

Deno.test("cli: logout revokes the refresh token; a failing revoke is a warning; --no-revoke skips it", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ autoApproveAfterPolls: 1 });
  const env = fileEnv(home.path, { CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${fake.url}/oauth/revoke` });
  assert.equal((await deviceLogin(home.path, fake)).code, 0);
  const rt = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`)).tokens.refresh_token;
  const out = await runCdx(["logout"], { env });
  assert.deepEqual([out.code, out.stderr], [0, "Successfully logged out\n"]);
  assert.deepEqual(fake.revoked, [rt]);

  assert.equal((await deviceLogin(home.path, fake)).code, 0);
  fake.failRevoke(503);
  const failing = await runCdx(["logout"], { env });
  assert.equal(failing.code, 0);
  assert.match(
    failing.stderr,
    /warning: token revocation failed with status 503; the token was not revoked\nSuccessfully logged out\n/,
  );
  assert.equal(await exists(`${home.path}/auth.json`), false);

  assert.equal((await deviceLogin(home.path, fake)).code, 0);
  const before = fake.requests.length;
  const skip = await runCdx(["logout", "--no-revoke"], { env });
  assert.equal(skip.code, 0);
  assert.equal(fake.requests.length, before);
});

Deno.test("cli: Ctrl-C while waiting for approval exits 130 promptly and saves nothing", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ interval: "30" });
  const child = spawnCdx(["login", "--device-auth", "--no-browser"], {
    env: fileEnv(home.path, { CDX_ISSUER: fake.url }),
  });
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ABCD-1234")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  while (!fake.requests.some((r) => r.path === "/api/accounts/deviceauth/token")) {
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGINT");
  const rest = await reader.read().then(async function drain(r): Promise<string> {
    if (r.done) return "";
    return r.value + await reader.read().then(drain);
  });
  const status = await child.status;
  await child.stdout.cancel();
  assert.equal(status.code, 130);
  assert.match(seen + rest, /interrupted/);
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("cli: parallel processes with an expired token make exactly one refresh and all get the new token", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ refreshDelayMs: 200 });
  const tokens = fake.mintTokens({ accessTokenTtlS: -60 });
  const auth = chatgptAuth({ ...tokens, account_id: "acct-123" }, Date.now() - 1000);
  await Deno.writeTextFile(`${home.path}/auth.json`, serializeAuthFile(auth), { mode: 0o600 });
  const env = fileEnv(home.path, { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${fake.url}/oauth/token` });
  const results = await Promise.all(
    Array.from({ length: 4 }, () => runCdx(["login", "token", "--log-level", "trace"], { env })),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.equal(fake.refreshCount, 1);
  assert.equal(fake.requests.filter((r) => r.path === "/oauth/token").length, 1);
  const saved = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
  assert.notEqual(saved.tokens.access_token, tokens.access_token);
  for (const r of results) {
    assert.equal(r.stdout, `${saved.tokens.access_token}\n`);
    assertNoSecret(r.stderr, [saved.tokens.access_token, saved.tokens.refresh_token]);
    assertNoSecret(r.stderr, [tokens.access_token, tokens.refresh_token]);
  }
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);
});

Deno.test("cli: a permanently failing refresh ends with codex's 'log in again' message, exit 1", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer();
  const tokens = fake.mintTokens({ accessTokenTtlS: -60 });
  const auth = chatgptAuth({ ...tokens, account_id: "acct-123" }, Date.now());
  await Deno.writeTextFile(`${home.path}/auth.json`, serializeAuthFile(auth), { mode: 0o600 });
  fake.failRefresh(400, { error: { code: "refresh_token_expired" } });
  const r = await runCdx(["login", "token"], {
    env: fileEnv(home.path, { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${fake.url}/oauth/token` }),
  });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /^error: Your access token could not be refreshed because your refresh token has expired\. Please log out and sign in again\.\nhint: run `cdx login`/,
  );
  assertNoSecret(r.stderr, [tokens.refresh_token, tokens.access_token]);
});
