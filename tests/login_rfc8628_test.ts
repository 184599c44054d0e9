/**
 * Standard RFC 8628 login against the real `oidc-provider` (npm): discovery,
 * its missing `interval` (→ 5 s), `authorization_pending`, injected
 * `slow_down` (+5 s for good), denial, expiry, and refresh with rotated
 * refresh tokens (a reused one is rejected: permanent failure).
 */
import assert from "node:assert/strict";
import { deviceLogin, type DeviceLoginOptions } from "../lib/auth/login.ts";
import { recoverUnauthorized } from "../lib/auth/mod.ts";
import { authStatus } from "../lib/auth/status.ts";
import { CdxError } from "../lib/errors.ts";
import type { Context } from "../lib/context.ts";
import { OIDC_ACCOUNT, type OidcTestProvider, startOidcProvider } from "./helpers/oidc.ts";
import { authContext, exists, tempHome } from "./helpers/auth_context.ts";

/** Login options that record every poll wait and act on the code when shown. */
function recordingLogin(
  op: OidcTestProvider,
  onCode: (userCode: string) => Promise<void> | void,
): { options: DeviceLoginOptions; sleeps: number[]; shown: string[] } {
  const sleeps: number[] = [];
  const shown: string[] = [];
  return {
    sleeps,
    shown,
    options: {
      issuer: op.issuer,
      clientId: op.clientId,
      scope: "openid offline_access email",
      store: "file",
      sleep: (ms) => {
        sleeps.push(ms);
        return new Promise((r) => setTimeout(r, 5));
      },
      onCode: async (prompt) => {
        shown.push(prompt.flow, prompt.verificationUri, prompt.verificationUriComplete ?? "");
        await onCode(prompt.userCode);
      },
    },
  };
}

async function ctxFor(home: string): Promise<Context> {
  return await authContext(home, { keyring: null });
}

Deno.test({
  name: "rfc8628: full login via discovery; missing interval means 5 s; tokens and claims saved",
  async fn() {
    await using home = await tempHome();
    await using op = await startOidcProvider();
    let polls = 0;
    const run = recordingLogin(op, () => {});
    const originalSleep = run.options.sleep!;
    let userCode = "";
    run.options.onCode = (prompt) => {
      userCode = prompt.userCode;
      run.shown.push(prompt.flow, prompt.verificationUriComplete ?? "");
    };
    // Approve after two pending polls.
    run.options.sleep = async (ms, signal) => {
      if (++polls === 3) await op.approve(userCode);
      await originalSleep(ms, signal);
    };
    const ctx = await ctxFor(home.path);
    const result = await deviceLogin(ctx, run.options);
    assert.equal(run.shown[0], "rfc8628");
    assert.match(run.shown[1], /\/device\?user_code=/);
    assert.deepEqual(run.sleeps, [5000, 5000, 5000]);
    const tokens = result.auth.tokens!;
    assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token);
    assert.equal(tokens.account_id, OIDC_ACCOUNT.accountId);
    assert.deepEqual(tokens.oauth_provenance, { issuer: op.issuer, client_id: op.clientId });
    const status = await authStatus(ctx, { store: "file" });
    assert.equal(status.email, OIDC_ACCOUNT.email);
    assert.equal(status.plan, OIDC_ACCOUNT.plan);
  },
});

Deno.test({
  name: "rfc8628: slow_down adds 5 s to this and every later poll",
  async fn() {
    await using home = await tempHome();
    await using op = await startOidcProvider();
    op.slowDown(2);
    let userCode = "";
    let polls = 0;
    const run = recordingLogin(op, (code) => {
      userCode = code;
    });
    const inner = run.options.sleep!;
    run.options.sleep = async (ms, signal) => {
      if (++polls === 4) await op.approve(userCode);
      await inner(ms, signal);
    };
    await deviceLogin(await ctxFor(home.path), run.options);
    assert.deepEqual(run.sleeps, [5000, 10000, 15000, 15000]);
  },
});

Deno.test({
  name: "rfc8628: a denied code stops with a plain message and saves nothing",
  async fn() {
    await using home = await tempHome();
    await using op = await startOidcProvider();
    const run = recordingLogin(op, (code) => op.deny(code));
    await assert.rejects(
      deviceLogin(await ctxFor(home.path), run.options),
      (e) => e instanceof CdxError && e.message === "the login was denied" && e.exitCode === 1,
    );
    assert.equal(await exists(`${home.path}/auth.json`), false);
  },
});

Deno.test({
  name: "rfc8628: an expired code stops with a plain message and saves nothing",
  async fn() {
    await using home = await tempHome();
    await using op = await startOidcProvider({ deviceCodeTtlS: 1 });
    const run = recordingLogin(op, () => {});
    // Let the code expire on the server before the first poll.
    run.options.sleep = () => new Promise((r) => setTimeout(r, 1300));
    run.options.pollScale = 10; // keep cdx's own deadline out of the way
    await assert.rejects(
      deviceLogin(await ctxFor(home.path), run.options),
      /the code expired before the login was approved/,
    );
    assert.equal(await exists(`${home.path}/auth.json`), false);
  },
});

Deno.test({
  name:
    "rfc8628: refresh rotates the refresh token at the issuer's token endpoint; a reused one fails permanently",
  async fn() {
    await using home = await tempHome();
    await using op = await startOidcProvider();
    let userCode = "";
    const run = recordingLogin(op, (code) => {
      userCode = code;
    });
    const inner = run.options.sleep!;
    run.options.sleep = async (ms, signal) => {
      await op.approve(userCode);
      await inner(ms, signal);
    };
    const ctx = await ctxFor(home.path);
    const first = (await deviceLogin(ctx, run.options)).auth.tokens!;

    const failed = { kind: "chatgpt" as const, accessToken: first.access_token };
    const next = await recoverUnauthorized(ctx, { store: "file" }, failed);
    assert.equal(next?.kind, "chatgpt");
    const saved = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
    assert.notEqual(saved.tokens.refresh_token, first.refresh_token, "rotated");
    assert.notEqual(saved.tokens.access_token, first.access_token);
    assert.equal(saved.tokens.account_id, OIDC_ACCOUNT.accountId, "account id unchanged");

    // Another copy still holding the old refresh token: the issuer rejects the reuse.
    const stale = { ...saved, tokens: { ...saved.tokens, refresh_token: first.refresh_token } };
    await Deno.writeTextFile(`${home.path}/auth.json`, JSON.stringify(stale, null, 2));
    const ctx2 = await ctxFor(home.path);
    await assert.rejects(
      recoverUnauthorized(ctx2, { store: "file" }, {
        kind: "chatgpt",
        accessToken: saved.tokens.access_token,
      }),
      (e) => e instanceof CdxError && /Please log out and sign in again/.test(e.message),
    );
  },
});
