/**
 * Refresh, recovery and revoke against the local codex auth fake: codex's
 * request format, which fields change, permanent vs transient failures, and
 * the getRequestAuth / recoverUnauthorized contract `cdx run` relies on.
 */
import assert from "node:assert/strict";
import { type AuthData, chatgptAuth, serializeAuthFile } from "../lib/auth/auth_json.ts";
import { getRequestAuth, recoverUnauthorized } from "../lib/auth/mod.ts";
import { revokeAuth } from "../lib/auth/revoke.ts";
import { CdxError } from "../lib/errors.ts";
import { type CodexAuthServer, startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { authContext, modeOf, tempHome } from "./helpers/auth_context.ts";

async function seed(
  home: string,
  fake: CodexAuthServer,
  ttlS: number,
  extra: Partial<AuthData> = {},
): Promise<AuthData> {
  const tokens = fake.mintTokens({ accessTokenTtlS: ttlS });
  const auth: AuthData = {
    ...chatgptAuth({ ...tokens, account_id: "acct-123" }, Date.UTC(2026, 0, 1)),
    ...extra,
  };
  await Deno.writeTextFile(`${home}/auth.json`, serializeAuthFile(auth), { mode: 0o600 });
  return auth;
}

function envFor(fake: CodexAuthServer): Record<string, string> {
  return { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${fake.url}/oauth/token` };
}

const fast = { refresh: { backoffMs: 1 } };

Deno.test("an expired access token is refreshed once with codex's request; only returned fields change", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer();
  const old = await seed(home.path, fake, -60, { custom_field: "kept" });
  const ctx = await authContext(home.path, { env: envFor(fake) });
  const auth = await getRequestAuth(ctx, { store: "file" });
  assert.equal(fake.refreshCount, 1);
  const req = fake.requests.find((r) => r.path === "/oauth/token")!;
  assert.deepEqual(JSON.parse(req.body), {
    client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
    grant_type: "refresh_token",
    refresh_reason: "proactive_expiry",
    refresh_token: old.tokens!.refresh_token,
  });
  assert.equal(req.headers["content-type"], "application/json");
  assert.equal(req.headers["originator"], "codex_cli_rs");
  const saved = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
  assert.equal(auth.kind, "chatgpt");
  assert.equal(auth.kind === "chatgpt" && auth.accessToken, saved.tokens.access_token);
  assert.equal(auth.kind === "chatgpt" && auth.accountId, "acct-123");
  assert.notEqual(saved.tokens.refresh_token, old.tokens!.refresh_token, "rotated token saved");
  assert.equal(saved.tokens.account_id, "acct-123");
  assert.equal(saved.custom_field, "kept");
  assert.match(saved.last_refresh, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.notEqual(saved.last_refresh, old.last_refresh);
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);
});

Deno.test("a valid token is used without any network call", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer();
  const old = await seed(home.path, fake, 3600);
  const ctx = await authContext(home.path, { env: envFor(fake) });
  const auth = await getRequestAuth(ctx, { store: "file" });
  assert.deepEqual(auth, {
    kind: "chatgpt",
    accessToken: old.tokens!.access_token,
    accountId: "acct-123",
  });
  assert.equal(fake.requests.length, 0);
});

Deno.test("CODEX_API_KEY / OPENAI_API_KEY win when allowed; not logged in is exit 1 with a hint", async () => {
  await using home = await tempHome();
  const env = { OPENAI_API_KEY: "sk-env-openai-0001", CODEX_API_KEY: "sk-env-codex-0001" };
  const ctx = await authContext(home.path, { env });
  assert.deepEqual(await getRequestAuth(ctx, { allowEnvApiKey: true }), {
    kind: "apikey",
    apiKey: "sk-env-codex-0001",
    source: "env",
  });
  assert.equal(ctx.secrets.redact("sk-env-codex-0001"), "[REDACTED]");
  await assert.rejects(
    getRequestAuth(ctx, { allowEnvApiKey: false, store: "file" }),
    (e) => e instanceof CdxError && e.message === "not logged in" && e.exitCode === 1 && !!e.hint,
  );
});

const PERMANENT: Array<[number, unknown, RegExp]> = [
  [400, { error: { code: "refresh_token_expired" } }, /refresh token has expired\. Please log out/],
  [400, { error: "refresh_token_reused" }, /was already used\. Please log out/],
  [400, { code: "refresh_token_invalidated" }, /was revoked\. Please log out/],
  [401, { error: "whatever" }, /^Your access token could not be refreshed\. Please log out/],
];
for (const [status, body, message] of PERMANENT) {
  Deno.test(`refresh answered ${status} ${JSON.stringify(body)} is permanent: codex's message, exit 1, no retry`, async () => {
    await using home = await tempHome();
    await using fake = await startCodexAuthServer();
    await seed(home.path, fake, -60);
    fake.failRefresh(status, body);
    const ctx = await authContext(home.path, { env: envFor(fake) });
    await assert.rejects(
      getRequestAuth(ctx, { store: "file", ...fast }),
      (e) => e instanceof CdxError && message.test(e.message) && e.exitCode === 1,
    );
    assert.equal(fake.requests.length, 1);
    // Cached for this credential: a second attempt makes no request.
    await assert.rejects(getRequestAuth(ctx, { store: "file", ...fast }), CdxError);
    assert.equal(fake.requests.length, 1);
  });
}

Deno.test("transient refresh failures are retried with backoff, then succeed", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer();
  await seed(home.path, fake, -60);
  fake.failRefresh(503, { error: "overloaded" }, 2);
  const ctx = await authContext(home.path, { env: envFor(fake) });
  const auth = await getRequestAuth(ctx, { store: "file", ...fast });
  assert.equal(auth.kind, "chatgpt");
  assert.equal(fake.requests.filter((r) => r.path === "/oauth/token").length, 3);
  assert.equal(fake.refreshCount, 1);
});

Deno.test("when every retry fails transiently, the old token is kept (codex) for the request to try", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer();
  const old = await seed(home.path, fake, -60);
  fake.failRefresh(500, {});
  const ctx = await authContext(home.path, { env: envFor(fake) });
  const auth = await getRequestAuth(ctx, { store: "file", ...fast });
  assert.equal(auth.kind === "chatgpt" && auth.accessToken, old.tokens!.access_token);
});

Deno.test("recoverUnauthorized: newer stored tokens are used without a call; else one unauthorized_recovery refresh", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer();
  const old = await seed(home.path, fake, 3600);
  const ctx = await authContext(home.path, { env: envFor(fake) });
  const failed = { kind: "chatgpt" as const, accessToken: "an-older-token-0001" };
  const reloaded = await recoverUnauthorized(ctx, { store: "file" }, failed);
  assert.equal(reloaded?.kind === "chatgpt" && reloaded.accessToken, old.tokens!.access_token);
  assert.equal(fake.requests.length, 0);

  const same = { kind: "chatgpt" as const, accessToken: old.tokens!.access_token };
  const next = await recoverUnauthorized(ctx, { store: "file" }, same);
  assert.equal(fake.refreshCount, 1);
  assert.equal(JSON.parse(fake.requests[0].body).refresh_reason, "unauthorized_recovery");
  assert.notEqual(next?.kind === "chatgpt" && next.accessToken, old.tokens!.access_token);
  assert.equal(
    await recoverUnauthorized(ctx, {}, { kind: "apikey", apiKey: "sk-x-000000", source: "env" }),
    undefined,
  );
});

Deno.test("a refresh after another account signed in fails permanently instead of mixing accounts", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer();
  const old = await seed(home.path, fake, 3600);
  const ctx = await authContext(home.path, { env: envFor(fake) });
  // Someone else logs in with another account meanwhile.
  const other = { ...old, tokens: { ...old.tokens!, account_id: "acct-other" } };
  await Deno.writeTextFile(`${home.path}/auth.json`, serializeAuthFile(other));
  const { refreshStored } = await import("../lib/auth/refresh.ts");
  const { resolveAuthStore } = await import("../lib/auth/store.ts");
  await assert.rejects(
    refreshStored(ctx, resolveAuthStore(ctx, { store: "file" }), old, "unauthorized_recovery"),
    /signed in to another account/,
  );
  assert.equal(fake.requests.length, 0);
});

Deno.test("revoke: codex's JSON body to the URL derived from CODEX_REFRESH_TOKEN_URL_OVERRIDE", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer();
  const auth = await seed(home.path, fake, 3600);
  const ctx = await authContext(home.path, {
    env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${fake.url}/oauth/token?x=1` },
  });
  await revokeAuth(ctx, auth);
  const req = fake.requests.find((r) => r.path === "/oauth/revoke")!;
  assert.deepEqual(JSON.parse(req.body), {
    token: auth.tokens!.refresh_token,
    token_type_hint: "refresh_token",
    client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
  });
  assert.equal(req.headers["originator"], "codex_cli_rs");
  assert.deepEqual(fake.revoked, [auth.tokens!.refresh_token]);
});

Deno.test("revoke is bounded: a hanging endpoint fails after the timeout with a secret-free message naming the host", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer();
  const auth = await seed(home.path, fake, 3600);
  fake.failRevoke(500, 300);
  const ctx = await authContext(home.path, {
    env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${fake.url}/oauth/revoke` },
  });
  await assert.rejects(revokeAuth(ctx, auth, { timeoutMs: 50 }), (e: Error) => {
    assert.match(e.message, /^127\.0\.0\.1:\d+ did not answer within 50 ms \(token revocation\)$/);
    assert.ok(!e.message.includes(auth.tokens!.refresh_token));
    return true;
  });
});
