/**
 * A local stand-in for codex's auth endpoints, following the wire format of
 * codex-interop.md §4–§8 exactly:
 *
 * - `POST /api/accounts/deviceauth/usercode` (JSON `{client_id}`) →
 *   `{device_auth_id, user_code, interval}` with `interval` a **string**;
 * - `POST /api/accounts/deviceauth/token` (JSON `{device_auth_id, user_code}`)
 *   → 403 (or 404) while pending, then `{authorization_code, code_challenge,
 *   code_verifier}` (server-generated PKCE);
 * - `GET /oauth/authorize` (browser login, codex-interop.md §5): checks every
 *   parameter codex sends (client id, `redirect_uri=http://127.0.0.1:<port>/auth/callback`,
 *   scope, S256 challenge, state, originator) and answers with a redirect to
 *   the callback carrying `code` + `state` (`authorize: "auto"`), a small
 *   approve/deny page (`"form"`, for a real browser), or `error=access_denied`;
 * - `POST /oauth/token`: form `grant_type=authorization_code` (device or
 *   browser code; a browser code must come with the verifier of its S256
 *   challenge and the same redirect_uri, once), form `grant_type=…token-exchange`
 *   (the API-key exchange: `requested_token=openai-api-key`, the id token as
 *   subject), or JSON `grant_type=refresh_token` (refresh, rotating the refresh token);
 * - `POST /oauth/revoke` (JSON);
 *
 * It is strict the way a real rotating issuer is: every login (code
 * exchange or {@linkcode CodexAuthServer.mintTokens}) starts a *grant*; a
 * refresh answers with a new refresh token and retires the old one; a
 * retired refresh token sent again is answered `refresh_token_reused` and
 * (option `onReuse`, default `"revoke-grant"`) revokes the whole grant (its
 * current token stops working too) as RFC 9700 §4.14.2 recommends, or only
 * rejects that request (`"reject"`: the grant's current token still works,
 * the behaviour issue 10 describes for OpenAI's issuer); a revoked or unknown
 * token is `refresh_token_invalidated`. So "a credential
 * was lost" is measurable: {@linkcode CodexAuthServer.accepts} says whether
 * the issuer would still refresh a stored token.
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

/** See {@linkcode CodexAuthServerOptions.onReuse}. */
export type ReusePolicy = "revoke-grant" | "reject";

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
  /**
   * What `GET /oauth/authorize` does with a valid request: redirect to the
   * callback at once (`"auto"`, default), show an approve/deny page
   * (`"form"`), or redirect with `error=access_denied` (`"deny"`).
   */
  authorize?: "auto" | "form" | "deny";
  /** Ports accepted in the redirect_uri (default: any; the real issuer allows only 1455 and 1457). */
  redirectPorts?: number[];
  /**
   * Requests it records and then never answers (until `close()`), to prove
   * cdx's bounds and interrupts: e.g. `(r) => r.path === "/oauth/token"`.
   */
  hang?: (request: RecordedRequest) => boolean;
  /** Answer the API-key token exchange with this status instead of a key. */
  apiKeyExchangeStatus?: number;
  /** What a reused (rotated) refresh token does: revoke its grant (default) or only fail. */
  onReuse?: ReusePolicy;
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
    /** Codes handed out by `/oauth/authorize`, in order (random ones afterwards). */
    browserCodes?: string[];
    /** API keys handed out by the token exchange, in order. */
    apiKeys?: string[];
  };
}

/** One accepted `GET /oauth/authorize`, its query as sent. */
export interface AuthorizeRequest {
  params: URLSearchParams;
  /** The order of the query keys, as sent. */
  keys: string[];
}

/** The scope codex's browser login asks for. */
export const CODEX_BROWSER_SCOPE =
  "openid profile email offline_access api.connectors.read api.connectors.invoke";

/** See {@linkcode CodexAuthServer.answerRefreshWith}. */
export interface RefreshOverride {
  pad?: { field: "access_token" | "id_token" | "refresh_token"; bytes: number };
  fail?: { status: number; body: unknown };
}

/** A running fake. */
export interface CodexAuthServer {
  /** Base URL (the issuer), e.g. `http://127.0.0.1:43210`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Accepted browser authorize requests. */
  readonly authorizeRequests: AuthorizeRequest[];
  /** Browser codes exchanged for tokens (each works once). */
  readonly exchangedCodes: string[];
  /** API keys handed out by the token exchange. */
  readonly apiKeysIssued: string[];
  /** Refresh requests answered with new tokens. */
  readonly refreshCount: number;
  /** Revoked tokens, in order. */
  readonly revoked: string[];
  /** The refresh token minted last (the current one of the newest grant). */
  readonly currentRefreshToken: string | undefined;
  /** The access token of every successful refresh answer, in order. */
  readonly refreshAnswers: readonly string[];
  /** Refresh requests answered `refresh_token_reused` (under `revoke-grant` each revoked its grant). */
  readonly reuseCount: number;
  /** Changes what a reused refresh token does from now on. */
  setReusePolicy(policy: ReusePolicy): void;
  /** Whether a refresh with `refreshToken` would succeed now (the current token of a live grant). */
  accepts(refreshToken: string | undefined): boolean;
  /** Every token and code this server handed out (for leak searches). */
  issuedSecrets(): string[];
  /** The access token minted last. */
  readonly currentAccessToken: string | undefined;
  /** Lifetime of access tokens minted from now on (negative: already expired). */
  setAccessTokenTtl(seconds: number): void;
  /** Approves the pending device code. */
  approve(): void;
  /**
   * Answers the next refreshes with this error (status, body), `times` times
   * (default forever). A string body is sent as is, as an HTML page (a proxy's
   * error page); anything else as JSON.
   */
  failRefresh(status: number, body: unknown, times?: number): void;
  /**
   * How to answer the refresh request that sends `refreshToken` (once):
   * `pad` makes one token of the answer `bytes` longer (an oversize token;
   * the grant then expects the padded refresh token), `fail` answers with an
   * error instead (a string body is an HTML page, as a proxy sends).
   */
  answerRefreshWith(refreshToken: string, answer: RefreshOverride): void;
  /**
   * Runs `hook` when a refresh request with `refreshToken` arrives, before it
   * is answered (the test changes the world while the client waits: fills
   * its disk). Once.
   */
  beforeRefreshWith(refreshToken: string, hook: () => Promise<void> | void): void;
  /**
   * Holds refresh requests that send `refreshToken` until `count` of them
   * have arrived (or `boundMs` passed), then answers the one `first` picks
   * first, the others in arrival order: forces two clients' refreshes of the
   * same token to overlap and chooses who wins. Once.
   */
  overlapRefreshesWith(
    refreshToken: string,
    count: number,
    boundMs: number,
    first?: (request: RecordedRequest) => boolean,
  ): void;
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

async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(digest));
}

const CODEX_CLIENT = "app_EMoamEEZ73f0CkXaXp7hrann";

function html(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(
    `<!doctype html><meta charset="utf-8"><title>Stand-in issuer</title>${body}`,
    {
      status,
      headers: { "content-type": "text/html; charset=utf-8", ...headers },
    },
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Why a browser authorize request is not what codex sends, or undefined when it is. */
function checkAuthorize(params: URLSearchParams, ports?: number[]): string | undefined {
  const expected: Record<string, string> = {
    response_type: "code",
    client_id: CODEX_CLIENT,
    scope: CODEX_BROWSER_SCOPE,
    code_challenge_method: "S256",
    id_token_add_organizations: "true",
    codex_cli_simplified_flow: "true",
    originator: "codex_cli_rs",
  };
  for (const [key, value] of Object.entries(expected)) {
    if (params.get(key) !== value) return `${key} must be ${value}, not ${params.get(key)}`;
  }
  // codex 0.169.0 sends 127.0.0.1 (older builds: localhost); the issuer's allow-list has both.
  const redirect = /^http:\/\/(?:127\.0\.0\.1|localhost):(\d+)\/auth\/callback$/.exec(
    params.get("redirect_uri") ?? "",
  );
  if (!redirect) return `redirect_uri is not http://127.0.0.1:<port>/auth/callback`;
  if (ports && !ports.includes(Number(redirect[1]))) {
    return `redirect_uri port ${redirect[1]} is not on the allow-list`;
  }
  if (!/^[A-Za-z0-9_-]{43}$/.test(params.get("code_challenge") ?? "")) {
    return "code_challenge is not a base64url SHA-256";
  }
  if (!/^[A-Za-z0-9_-]{43}$/.test(params.get("state") ?? "")) return "state is not 32 random bytes";
  return undefined;
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
  let currentAccess: string | undefined;
  let reuseCount = 0;
  let reusePolicy: ReusePolicy = options.onReuse ?? "revoke-grant";
  const refreshAnswers: string[] = [];
  const refreshHooks = new Map<string, () => Promise<void> | void>();
  const overlaps = new Map<string, (request: RecordedRequest) => Promise<() => void>>();
  let accessTtl = options.accessTokenTtlS ?? 3600;
  // Grants: each refresh token maps to its grant; a grant knows its current token.
  interface Grant {
    current: string;
    revoked: boolean;
  }
  const grantOf = new Map<string, Grant>();
  const issued = new Set<string>();
  let refreshFailure: { status: number; body: unknown; times: number } | undefined;
  const overrides = new Map<string, RefreshOverride>();
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
  const knownBrowserCodes = [...(known.browserCodes ?? [])];
  const knownApiKeys = [...(known.apiKeys ?? [])];
  const authorizeRequests: AuthorizeRequest[] = [];
  const exchangedCodes: string[] = [];
  const apiKeysIssued: string[] = [];
  const idTokens = new Set<string>();
  /** Browser codes not yet exchanged → what the authorize request bound them to. */
  const browserCodes = new Map<string, { challenge: string; redirectUri: string }>();
  /** Pending "form" approvals by id. */
  const pendingForms = new Map<string, URLSearchParams>();
  const email = options.email ?? "user@example.com";

  const remember = (
    tokens: { id_token: string; access_token: string; refresh_token: string },
    grant?: Grant,
  ) => {
    for (const value of Object.values(tokens)) issued.add(value);
    const g = grant ?? { current: tokens.refresh_token, revoked: false };
    g.current = tokens.refresh_token;
    grantOf.set(tokens.refresh_token, g);
    currentRefresh = tokens.refresh_token;
    currentAccess = tokens.access_token;
    return tokens;
  };

  const mint = (ttl = accessTtl, grant?: Grant) => {
    const next = knownTokenSets.shift();
    if (next) {
      idTokens.add(next.id_token);
      return remember({ ...next }, grant);
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
    idTokens.add(tokens.id_token);
    return remember(tokens, grant);
  };
  for (const value of [device.id, device.userCode, pkce.code, pkce.verifier]) issued.add(value);

  const accepts = (token: string | undefined) => {
    const grant = token === undefined ? undefined : grantOf.get(token);
    return !!grant && !grant.revoked && grant.current === token;
  };

  /** The redirect back to cdx's callback, with a fresh code bound to the request's PKCE challenge. */
  const approve = (params: URLSearchParams): Response => {
    const code = knownBrowserCodes.shift() ?? randomToken("ac_browser_");
    browserCodes.set(code, {
      challenge: params.get("code_challenge")!,
      redirectUri: params.get("redirect_uri")!,
    });
    const target = new URL(params.get("redirect_uri")!);
    target.searchParams.set("code", code);
    target.searchParams.set("state", params.get("state")!);
    return new Response(null, { status: 302, headers: { location: target.toString() } });
  };
  const deny = (params: URLSearchParams): Response => {
    const target = new URL(params.get("redirect_uri")!);
    target.searchParams.set("error", "access_denied");
    target.searchParams.set("error_description", "The user denied access to the stand-in issuer");
    target.searchParams.set("state", params.get("state")!);
    return new Response(null, { status: 302, headers: { location: target.toString() } });
  };

  const authorizePage = (params: URLSearchParams): Response => {
    const id = randomToken("");
    pendingForms.set(id, params);
    return html(
      200,
      `<h1>Sign in to the stand-in issuer</h1>
<p>cdx asks to sign you in as ${escapeHtml(email)}.</p>
<form method="post" action="/oauth/authorize/decision">
<input type="hidden" name="id" value="${id}">
<button id="approve" name="decision" value="approve">Approve</button>
<button id="deny" name="decision" value="deny">Deny</button>
</form>`,
    );
  };

  const exchangeBrowserCode = async (form: URLSearchParams): Promise<Response> => {
    const code = form.get("code") ?? "";
    const bound = browserCodes.get(code);
    if (!bound) {
      return json(400, { error: "invalid_grant", error_description: "unknown or used code" });
    }
    browserCodes.delete(code); // a code works once, right or wrong
    if (form.get("client_id") !== CODEX_CLIENT) {
      return json(401, { error: "invalid_client", error_description: "unknown client" });
    }
    if (form.get("redirect_uri") !== bound.redirectUri) {
      return json(400, { error: "invalid_grant", error_description: "redirect_uri mismatch" });
    }
    if (await s256(form.get("code_verifier") ?? "") !== bound.challenge) {
      return json(400, { error: "invalid_grant", error_description: "PKCE verification failed" });
    }
    exchangedCodes.push(code);
    return json(200, mint());
  };

  const exchangeApiKey = (form: URLSearchParams): Response => {
    const ok = form.get("grant_type") === "urn:ietf:params:oauth:grant-type:token-exchange" &&
      form.get("client_id") === CODEX_CLIENT &&
      form.get("requested_token") === "openai-api-key" &&
      form.get("subject_token_type") === "urn:ietf:params:oauth:token-type:id_token" &&
      idTokens.has(form.get("subject_token") ?? "");
    if (!ok) {
      return json(400, { error: "invalid_request", error_description: "bad token exchange" });
    }
    if (options.apiKeyExchangeStatus) {
      return json(options.apiKeyExchangeStatus, { error: "server_error" });
    }
    const key = knownApiKeys.shift() ?? randomToken("sk-proj-fake-");
    apiKeysIssued.push(key);
    return json(200, { access_token: key, token_type: "Bearer" });
  };

  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

  let releaseHung!: () => void;
  const hung = new Promise<void>((resolve) => releaseHung = resolve);

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const body = await req.text();
    const recorded = {
      method: req.method,
      path: url.pathname,
      headers: Object.fromEntries(req.headers),
      body,
    };
    requests.push(recorded);
    if (options.hang?.(recorded)) {
      await hung;
      return new Response("closing", { status: 503 });
    }
    const path = url.pathname;
    if (req.method === "GET" && path === "/oauth/authorize") {
      const problem = checkAuthorize(url.searchParams, options.redirectPorts);
      if (problem) return html(400, `<h1>invalid_request</h1><p>${escapeHtml(problem)}</p>`);
      authorizeRequests.push({
        params: url.searchParams,
        keys: [...url.searchParams.keys()],
      });
      const mode = options.authorize ?? "auto";
      if (mode === "deny") return deny(url.searchParams);
      if (mode === "form") return authorizePage(url.searchParams);
      return approve(url.searchParams);
    }
    if (req.method !== "POST") return new Response("not found", { status: 404 });
    if (path === "/oauth/authorize/decision") {
      const form = new URLSearchParams(body);
      const params = pendingForms.get(form.get("id") ?? "");
      if (!params) return html(400, "<h1>unknown request</h1>");
      pendingForms.delete(form.get("id")!);
      return form.get("decision") === "approve" ? approve(params) : deny(params);
    }
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
        if (form.get("grant_type") === "urn:ietf:params:oauth:grant-type:token-exchange") {
          return exchangeApiKey(form);
        }
        if (
          form.get("grant_type") === "authorization_code" && browserCodes.has(form.get("code")!)
        ) {
          return await exchangeBrowserCode(form);
        }
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
      // Overlapping refreshes of one token are answered one at a time, in the chosen order.
      const done = await overlaps.get(parsed.refresh_token)?.(recorded);
      try {
        const hook = refreshHooks.get(parsed.refresh_token);
        if (hook) {
          refreshHooks.delete(parsed.refresh_token);
          await hook();
        }
        const override = overrides.get(parsed.refresh_token);
        overrides.delete(parsed.refresh_token);
        const failure = override?.fail ??
          (refreshFailure && refreshFailure.times > 0 ? refreshFailure : undefined);
        if (failure) {
          if (failure === refreshFailure) refreshFailure!.times--;
          if (typeof failure.body === "string") {
            return new Response(failure.body, {
              status: failure.status,
              headers: { "content-type": "text/html" },
            });
          }
          return json(failure.status, failure.body);
        }
        const grant = grantOf.get(parsed.refresh_token);
        if (!grant || grant.revoked) {
          return json(401, {
            error: { code: "refresh_token_invalidated", message: "refresh token revoked" },
          });
        }
        if (grant.current !== parsed.refresh_token) {
          // Reuse of a rotated token: a strict issuer assumes theft and revokes the grant.
          if (reusePolicy === "revoke-grant") grant.revoked = true;
          reuseCount++;
          return json(401, { error: { code: "refresh_token_reused", message: "already used" } });
        }
        refreshCount++;
        const tokens = mint(accessTtl, grant);
        if (override?.pad) {
          const { field, bytes } = override.pad;
          const padded = { ...tokens };
          padded[field] = `${tokens[field]}${"x".repeat(bytes)}`;
          refreshAnswers.push(padded.access_token);
          return json(200, remember(padded, grant));
        }
        refreshAnswers.push(tokens.access_token);
        return json(200, tokens);
      } finally {
        done?.();
      }
    }
    if (path === "/oauth/revoke") {
      const parsed = JSON.parse(body || "{}");
      if (revokeFailure?.delayMs) await new Promise((r) => setTimeout(r, revokeFailure!.delayMs));
      if (revokeFailure) return json(revokeFailure.status, { error: "server_error" });
      revoked.push(parsed.token);
      const grant = grantOf.get(parsed.token);
      if (grant) grant.revoked = true;
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
          releaseHung();
          await server.shutdown();
        };
        resolve({
          url,
          requests,
          authorizeRequests,
          exchangedCodes,
          apiKeysIssued,
          revoked,
          get refreshCount() {
            return refreshCount;
          },
          get currentRefreshToken() {
            return currentRefresh;
          },
          get currentAccessToken() {
            return currentAccess;
          },
          refreshAnswers,
          get reuseCount() {
            return reuseCount;
          },
          setReusePolicy: (policy) => {
            reusePolicy = policy;
          },
          accepts,
          issuedSecrets: () => [...issued],
          setAccessTokenTtl: (seconds) => {
            accessTtl = seconds;
          },
          approve: () => {
            approved = true;
          },
          failRefresh: (status, body, times = Infinity) => {
            refreshFailure = { status, body, times };
          },
          beforeRefreshWith: (refreshToken, hook) => {
            refreshHooks.set(refreshToken, hook);
          },
          overlapRefreshesWith: (refreshToken, count, boundMs, first) => {
            const held: Array<{ request: RecordedRequest; go: (done: () => void) => void }> = [];
            const releaseAll = () => {
              clearTimeout(timer);
              overlaps.delete(refreshToken);
              // The one `first` picks is answered first; each next one when the previous is done.
              const order = [
                ...held.filter((h) => first?.(h.request)),
                ...held.filter((h) => !first?.(h.request)),
              ];
              held.length = 0;
              const next = (i: number) => order[i]?.go(() => next(i + 1));
              next(0);
            };
            const timer = setTimeout(releaseAll, boundMs);
            overlaps.set(refreshToken, (request) => {
              const turn = new Promise<() => void>((go) => held.push({ request, go }));
              if (held.length >= count) releaseAll();
              return turn;
            });
          },
          answerRefreshWith: (refreshToken, answer) => {
            overrides.set(refreshToken, answer);
          },
          failRevoke: (status, delayMs = 0) => {
            revokeFailure = { status, delayMs };
          },
          mintTokens: (o = {}) => mint(o.accessTokenTtlS ?? accessTtl),
          close,
          [Symbol.asyncDispose]: close,
        });
      },
    }, handler);
  });
}
