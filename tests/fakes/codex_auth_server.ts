/**
 * A local stand-in for codex's auth endpoints, following the wire format of
 * codex-interop.md §4–§8 exactly:
 *
 * - `POST /api/accounts/deviceauth/usercode` (JSON `{client_id}`) →
 *   `{device_auth_id, user_code, interval}` with `interval` a **string**;
 * - `POST /api/accounts/deviceauth/token` (JSON `{device_auth_id, user_code}`)
 *   → 403 (or 404) while pending, then `{authorization_code, code_challenge,
 *   code_verifier}` (server-generated PKCE);
 * - `POST /oauth/token`: form `grant_type=authorization_code` (exchange) or
 *   JSON `grant_type=refresh_token` (refresh, rotating the refresh token);
 * - `POST /oauth/revoke` (JSON);
 * - no OIDC discovery (404), so cdx uses codex's flow against it.
 *
 * Tokens are JWTs (unsigned, as cdx never verifies) carrying the claims
 * codex reads. Every request is recorded for assertions.
 *
 * @example
 * ```ts
 * await using fake = await startCodexAuthServer({ autoApproveAfterPolls: 1 });
 * // CDX_ISSUER=fake.url cdx login
 * ```
 *
 * @module
 */

/** One recorded request. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Options of {@linkcode startCodexAuthServer}. */
export interface CodexAuthServerOptions {
  /** `interval` sent with the user code (a string, as codex's server does). Default "0". */
  interval?: string;
  /** Approve the code on this poll (1-based); default: only when `approve()` is called. */
  autoApproveAfterPolls?: number;
  /** Status for "pending": 403 (default) or 404. */
  pendingStatus?: 403 | 404;
  /** 404 on the user-code endpoint (device login disabled). */
  deviceCodeDisabled?: boolean;
  /** Lifetime of minted access tokens in seconds (negative: already expired). Default 3600. */
  accessTokenTtlS?: number;
  /** Delay before answering a refresh, ms (widens race windows). */
  refreshDelayMs?: number;
  /** Claims put in id tokens. */
  email?: string;
  plan?: string;
  accountId?: string;
  /**
   * Known values instead of random ones (tests that search every output for
   * the secrets cdx handled): the device code pair, the server-generated PKCE
   * pair, and token sets handed out in order by the code exchange and the
   * refreshes (random ones once the list is used up).
   */
  known?: {
    deviceAuthId?: string;
    userCode?: string;
    authorizationCode?: string;
    codeVerifier?: string;
    tokenSets?: Array<{ id_token: string; access_token: string; refresh_token: string }>;
  };
}

/** A running fake. */
export interface CodexAuthServer {
  /** Base URL (the issuer), e.g. `http://127.0.0.1:43210`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Refresh requests answered with new tokens. */
  readonly refreshCount: number;
  /** Revoked tokens, in order. */
  readonly revoked: string[];
  /** The refresh token currently valid. */
  readonly currentRefreshToken: string | undefined;
  /** Approves the pending device code. */
  approve(): void;
  /** Answers the next refreshes with this error (status, body), `times` times (default forever). */
  failRefresh(status: number, body: unknown, times?: number): void;
  /** Answers revocations with this status (and optional delay). */
  failRevoke(status: number, delayMs?: number): void;
  /** Mints a fresh token set (as a login would) and makes its refresh token current. */
  mintTokens(options?: { accessTokenTtlS?: number }): {
    id_token: string;
    access_token: string;
    refresh_token: string;
  };
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/** An unsigned JWT with `payload` (cdx decodes without verifying). */
export function makeJwt(payload: Record<string, unknown>): string {
  return `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
    b64url(JSON.stringify(payload))
  }.${b64url("fake-signature")}`;
}

function randomToken(prefix: string): string {
  return `${prefix}${b64url(crypto.getRandomValues(new Uint8Array(24)))}`;
}

/** Starts the fake on 127.0.0.1, port 0. */
export function startCodexAuthServer(
  options: CodexAuthServerOptions = {},
): Promise<CodexAuthServer> {
  const requests: RecordedRequest[] = [];
  const revoked: string[] = [];
  let refreshCount = 0;
  let approved = false;
  let polls = 0;
  let currentRefresh: string | undefined;
  let refreshFailure: { status: number; body: unknown; times: number } | undefined;
  let revokeFailure: { status: number; delayMs: number } | undefined;
  const known = options.known ?? {};
  const device = {
    id: known.deviceAuthId ?? randomToken("dev_"),
    userCode: known.userCode ?? "ABCD-1234",
  };
  const pkce = {
    code: known.authorizationCode ?? randomToken("ac_"),
    verifier: known.codeVerifier ?? randomToken("ver_"),
  };
  const knownTokenSets = [...(known.tokenSets ?? [])];
  const email = options.email ?? "user@example.com";

  const mint = (ttl = options.accessTokenTtlS ?? 3600) => {
    const next = knownTokenSets.shift();
    if (next) {
      currentRefresh = next.refresh_token;
      return { ...next };
    }
    const now = Math.floor(Date.now() / 1000);
    const auth = {
      chatgpt_account_id: options.accountId ?? "acct-123",
      chatgpt_plan_type: options.plan ?? "plus",
      chatgpt_user_id: "user-1",
    };
    const tokens = {
      id_token: makeJwt({ email, "https://api.openai.com/auth": auth, exp: now + 3600 }),
      access_token: makeJwt({ sub: "user-1", exp: now + ttl, jti: randomToken("") }),
      refresh_token: randomToken("rt_"),
    };
    currentRefresh = tokens.refresh_token;
    return tokens;
  };

  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const body = await req.text();
    requests.push({
      method: req.method,
      path: url.pathname,
      headers: Object.fromEntries(req.headers),
      body,
    });
    const path = url.pathname;
    if (req.method !== "POST") return new Response("not found", { status: 404 });
    if (path === "/api/accounts/deviceauth/usercode") {
      if (options.deviceCodeDisabled) return new Response("", { status: 404 });
      return json(200, {
        device_auth_id: device.id,
        user_code: device.userCode,
        interval: options.interval ?? "0",
      });
    }
    if (path === "/api/accounts/deviceauth/token") {
      const parsed = JSON.parse(body || "{}");
      if (parsed.device_auth_id !== device.id || parsed.user_code !== device.userCode) {
        return json(400, { error: "bad device code" });
      }
      polls++;
      if (options.autoApproveAfterPolls !== undefined && polls >= options.autoApproveAfterPolls) {
        approved = true;
      }
      if (!approved) return new Response("", { status: options.pendingStatus ?? 403 });
      return json(200, {
        authorization_code: pkce.code,
        code_challenge: "challenge-not-checked",
        code_verifier: pkce.verifier,
      });
    }
    if (path === "/oauth/token") {
      const type = req.headers.get("content-type") ?? "";
      if (type.startsWith("application/x-www-form-urlencoded")) {
        const form = new URLSearchParams(body);
        if (
          form.get("grant_type") !== "authorization_code" || form.get("code") !== pkce.code ||
          form.get("code_verifier") !== pkce.verifier
        ) {
          return json(400, { error: "invalid_grant", error_description: "bad code" });
        }
        return json(200, mint());
      }
      const parsed = JSON.parse(body || "{}");
      if (parsed.grant_type !== "refresh_token") {
        return json(400, { error: "unsupported_grant_type" });
      }
      if (options.refreshDelayMs) await new Promise((r) => setTimeout(r, options.refreshDelayMs));
      if (refreshFailure && refreshFailure.times > 0) {
        refreshFailure.times--;
        return json(refreshFailure.status, refreshFailure.body);
      }
      if (parsed.refresh_token !== currentRefresh) {
        return json(401, { error: { code: "refresh_token_reused", message: "already used" } });
      }
      refreshCount++;
      const tokens = mint();
      return json(200, tokens);
    }
    if (path === "/oauth/revoke") {
      const parsed = JSON.parse(body || "{}");
      if (revokeFailure?.delayMs) await new Promise((r) => setTimeout(r, revokeFailure!.delayMs));
      if (revokeFailure) return json(revokeFailure.status, { error: "server_error" });
      revoked.push(parsed.token);
      return new Response(null, { status: 200 });
    }
    return new Response("not found", { status: 404 });
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: (addr) => {
        const url = `http://127.0.0.1:${addr.port}`;
        const close = async () => {
          await server.shutdown();
        };
        resolve({
          url,
          requests,
          revoked,
          get refreshCount() {
            return refreshCount;
          },
          get currentRefreshToken() {
            return currentRefresh;
          },
          approve: () => {
            approved = true;
          },
          failRefresh: (status, body, times = Infinity) => {
            refreshFailure = { status, body, times };
          },
          failRevoke: (status, delayMs = 0) => {
            revokeFailure = { status, delayMs };
          },
          mintTokens: (o = {}) => mint(o.accessTokenTtlS),
          close,
          [Symbol.asyncDispose]: close,
        });
      },
    }, handler);
  });
}
