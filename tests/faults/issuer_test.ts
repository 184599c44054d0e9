/**
 * The strict rotating issuer stand-in the fault suite measures "lost"
 * with: a refresh rotates the refresh token; the old one sent again is
 * `refresh_token_reused` and revokes the whole grant (the newest token
 * stops working too), as a real rotating issuer does; a revoked grant is
 * `refresh_token_invalidated`; logins are separate grants.
 */
import assert from "node:assert/strict";
import { startCodexAuthServer } from "../fakes/codex_auth_server.ts";

async function refresh(url: string, refreshToken: string) {
  const res = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
      grant_type: "refresh_token",
      refresh_token: refreshToken,
    }),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("strict issuer: rotation, reuse revokes the grant, other grants live on", async () => {
  await using issuer = await startCodexAuthServer();
  const first = issuer.mintTokens();
  const other = issuer.mintTokens();
  assert.ok(issuer.accepts(first.refresh_token));

  const rotated = await refresh(issuer.url, first.refresh_token);
  assert.equal(rotated.status, 200);
  assert.notEqual(rotated.body.refresh_token, first.refresh_token);
  assert.ok(issuer.accepts(rotated.body.refresh_token));
  assert.equal(issuer.accepts(first.refresh_token), false, "the old token is retired");

  const reused = await refresh(issuer.url, first.refresh_token);
  assert.equal(reused.status, 401);
  assert.equal(reused.body.error.code, "refresh_token_reused");
  assert.equal(issuer.reuseCount, 1);
  assert.equal(issuer.accepts(rotated.body.refresh_token), false, "reuse revoked the grant");
  const after = await refresh(issuer.url, rotated.body.refresh_token);
  assert.equal(after.status, 401);
  assert.equal(after.body.error.code, "refresh_token_invalidated");

  assert.ok(issuer.accepts(other.refresh_token), "another login is another grant");
  assert.equal((await refresh(issuer.url, other.refresh_token)).status, 200);
  assert.ok(issuer.issuedSecrets().includes(rotated.body.refresh_token));
});

Deno.test("strict issuer: a revoked refresh token kills its grant", async () => {
  await using issuer = await startCodexAuthServer();
  const tokens = issuer.mintTokens();
  const res = await fetch(`${issuer.url}/oauth/revoke`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: tokens.refresh_token, token_type_hint: "refresh_token" }),
  });
  await res.body?.cancel();
  assert.equal(res.status, 200);
  assert.equal(issuer.accepts(tokens.refresh_token), false);
  assert.equal(
    (await refresh(issuer.url, tokens.refresh_token)).body.error.code,
    "refresh_token_invalidated",
  );
});

Deno.test("issuer with onReuse 'reject': a reused token fails, the grant's current token still works", async () => {
  await using issuer = await startCodexAuthServer({ onReuse: "reject" });
  const first = issuer.mintTokens();
  const rotated = await refresh(issuer.url, first.refresh_token);
  assert.equal(rotated.status, 200);
  const reused = await refresh(issuer.url, first.refresh_token);
  assert.equal(reused.status, 401);
  assert.equal(reused.body.error.code, "refresh_token_reused");
  assert.equal(issuer.reuseCount, 1);
  assert.ok(issuer.accepts(rotated.body.refresh_token), "the grant lives on");
  assert.equal((await refresh(issuer.url, rotated.body.refresh_token)).status, 200);
});

Deno.test("overlapRefreshesWith holds both refreshes of one token and answers the chosen one first", async () => {
  await using issuer = await startCodexAuthServer({ onReuse: "reject" });
  const first = issuer.mintTokens();
  const send = (agent: string) =>
    fetch(`${issuer.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": agent },
      body: JSON.stringify({ grant_type: "refresh_token", refresh_token: first.refresh_token }),
    }).then(async (res) => ({ agent, status: res.status, body: await res.json() }));
  // The later arrival is picked to win: the earlier one is held until it comes.
  issuer.overlapRefreshesWith(
    first.refresh_token,
    2,
    30_000,
    (r) => r.headers["user-agent"] === "late",
  );
  const early = send("early");
  const late = send("late");
  const [a, b] = await Promise.all([early, late]);
  assert.equal(b.status, 200, "the chosen request rotated the token");
  assert.equal(a.status, 401);
  assert.equal(a.body.error.code, "refresh_token_reused");
});
