/**
 * The pure parts of the browser login: PKCE and state values, reading an
 * authorization response (from the callback or pasted), the authorize URL of
 * a standard issuer, and the status line that owns a terminal line.
 */
import assert from "node:assert/strict";
import { base64url, generatePkce, randomState, s256Challenge } from "../lib/auth/pkce.ts";
import { parseCallback } from "../lib/auth/callback_server.ts";
import { authorizeUrl } from "../lib/auth/browser_login.ts";
import { MemoryOutput } from "../lib/context.ts";
import { startStatusLine } from "../lib/status_line.ts";

Deno.test("PKCE: RFC 7636 appendix B vector; codex's sizes (64-byte verifier, 32-byte state), base64url without padding", async () => {
  assert.equal(
    await s256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  );
  assert.equal(base64url(new Uint8Array([251, 255, 191])), "-_-_");
  const a = await generatePkce();
  const b = await generatePkce();
  assert.match(a.verifier, /^[A-Za-z0-9_-]{86}$/);
  assert.equal(a.challenge, await s256Challenge(a.verifier));
  assert.notEqual(a.verifier, b.verifier);
  assert.match(randomState(), /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(randomState(), randomState());
});

Deno.test("an authorization response is read from the callback or from what was pasted, state first", () => {
  const s = "state-123";
  const cb = "http://127.0.0.1:1455/auth/callback";
  assert.deepEqual(parseCallback(new URL(`${cb}?code=c1&state=${s}`), s), {
    kind: "code",
    code: "c1",
  });
  assert.deepEqual(parseCallback(`  "${cb}?code=c1&state=${s}&iss=https%3A%2F%2Fi"  `, s), {
    kind: "code",
    code: "c1",
    iss: "https://i",
  });
  assert.deepEqual(parseCallback(`?code=c2&state=${s}`, s), { kind: "code", code: "c2" });
  assert.deepEqual(parseCallback(`code=c3&state=${s}`, s), { kind: "code", code: "c3" });
  assert.deepEqual(parseCallback(`${cb}?error=access_denied&error_description=no&state=${s}`, s), {
    kind: "error",
    error: "access_denied",
    description: "no",
  });
  // State is checked before anything else, errors included.
  assert.deepEqual(parseCallback(`${cb}?error=access_denied&state=other`, s), {
    kind: "wrong-state",
  });
  assert.deepEqual(parseCallback(`${cb}?code=c1`, s), { kind: "wrong-state" });
  assert.deepEqual(parseCallback(`${cb}?code=c1&state=${s}x`, s), { kind: "wrong-state" });
  assert.deepEqual(parseCallback(`${cb}?state=${s}`, s), { kind: "no-code" });
  assert.deepEqual(parseCallback("http://127.0.0.1:1455/other?code=c&state=s", s), {
    kind: "not-a-callback",
  });
  assert.deepEqual(parseCallback("hello", s), { kind: "not-a-callback" });
  assert.deepEqual(parseCallback("", s), { kind: "not-a-callback" });
});

Deno.test("a standard issuer's authorize URL: its endpoint (query kept), PKCE S256, state, scope, consent for offline_access", () => {
  const base = {
    flavour: "oidc" as const,
    issuer: "https://id.example.com",
    clientId: "cdx",
    metadata: { authorization_endpoint: "https://id.example.com/authorize?tenant=t1" },
    redirectUri: "http://127.0.0.1:5000/auth/callback",
    challenge: "ch",
    state: "st",
  };
  const url = new URL(authorizeUrl(base));
  assert.equal(url.origin + url.pathname, "https://id.example.com/authorize");
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    tenant: "t1",
    response_type: "code",
    client_id: "cdx",
    redirect_uri: "http://127.0.0.1:5000/auth/callback",
    scope: "openid profile email offline_access",
    state: "st",
    code_challenge: "ch",
    code_challenge_method: "S256",
    prompt: "consent",
  });
  const noRefresh = new URL(authorizeUrl({ ...base, scope: "openid email" }));
  assert.equal(noRefresh.searchParams.get("scope"), "openid email");
  assert.equal(noRefresh.searchParams.get("prompt"), null);
});

Deno.test("status line: drawn on a terminal, cleared before any other write and redrawn after a full line; nothing on a pipe", () => {
  const tty = new MemoryOutput(true, false, 40);
  const line = startStatusLine(tty, "Waiting... 14:59 left");
  tty.writeSync("warning: something\n");
  line.set("Waiting... 14:58 left");
  line.stop();
  tty.writeSync("done\n");
  assert.equal(
    tty.text(),
    "\r\x1b[2KWaiting... 14:59 left" +
      "\r\x1b[2Kwarning: something\n\r\x1b[2KWaiting... 14:59 left" +
      "\r\x1b[2KWaiting... 14:58 left" +
      "\r\x1b[2K" +
      "done\n",
  );
  // Longer than the terminal: cut, so that clearing one row clears all of it.
  const narrow = new MemoryOutput(true, false, 10);
  startStatusLine(narrow, "a very long waiting line").stop();
  assert.ok(narrow.text().startsWith("\r\x1b[2Ka very l…"));
  const pipe = new MemoryOutput(false);
  startStatusLine(pipe, "Waiting").stop();
  assert.equal(pipe.text(), "");
});
