/**
 * Token refresh by codex's rules (codex-interop.md §8): when to refresh, the
 * request, which fields change, permanent vs transient failures — plus the
 * cross-process guard: under the `auth.json.lock`, re-read the store and skip
 * the network call when another process already refreshed.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError } from "../errors.ts";
import { delay, timeoutSignal } from "../cancel.ts";
import { type AuthData, formatLastRefresh, resolveAuthMode } from "./auth_json.ts";
import { tokenExpiryMs } from "./jwt.ts";
import { codexHeaders, tokenEndpoints } from "./endpoints.ts";
import type { AuthStore } from "./storage.ts";
import { withAuthLock } from "./lock.ts";

/** Why a refresh happens (sent as `refresh_reason`, as codex 0.169.0 does). */
export type RefreshReason = "proactive_expiry" | "unauthorized_recovery";

/** What a refresh endpoint returned: every field optional. */
export interface RefreshResponse {
  id_token?: string;
  access_token?: string;
  refresh_token?: string;
}

/** Age after which a token without a parsable `exp` is refreshed. */
export const MAX_TOKEN_AGE_MS = 8 * 24 * 3600 * 1000;

const PERMANENT_MESSAGES: Record<string, string> = {
  refresh_token_expired:
    "Your access token could not be refreshed because your refresh token has expired. Please log out and sign in again.",
  refresh_token_reused:
    "Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again.",
  refresh_token_invalidated:
    "Your access token could not be refreshed because your refresh token was revoked. Please log out and sign in again.",
};
/** codex's generic permanent refresh failure. */
export const GENERIC_REFRESH_FAILURE =
  "Your access token could not be refreshed. Please log out and sign in again.";
const ACCOUNT_CHANGED =
  "Your access token could not be refreshed because you have since logged out or signed in to another account. Please sign in again.";
const LOGIN_HINT = "run `cdx login` to sign in again";

/** A refresh failure that retrying cannot fix (exit 1, "log in again"). */
export class RefreshPermanentError extends CdxError {
  constructor(message: string, readonly code?: string) {
    super(message, { hint: LOGIN_HINT });
    this.name = "RefreshPermanentError";
  }
}

/** A refresh failure that may pass (network, 5xx, 429). */
export class RefreshTransientError extends CdxError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, hint: "check the network and try again" });
    this.name = "RefreshTransientError";
  }
}

/**
 * Whether a managed ChatGPT credential needs a proactive refresh: its access
 * token's `exp` has passed, or (no parsable `exp`) `last_refresh` is older
 * than 8 days.
 */
export function needsRefresh(auth: AuthData, nowMs: number): boolean {
  if (resolveAuthMode(auth) !== "chatgpt" || !auth.tokens) return false;
  const exp = tokenExpiryMs(auth.tokens.access_token);
  if (exp !== undefined) return exp <= nowMs;
  const last = auth.last_refresh ? Date.parse(auth.last_refresh) : NaN;
  return Number.isNaN(last) || nowMs - last > MAX_TOKEN_AGE_MS;
}

/** Error code of a refresh error body: `error.code`, else `error` (string), else `code`. */
export function refreshErrorCode(body: unknown): string | undefined {
  if (!body || typeof body !== "object") return undefined;
  const b = body as Record<string, unknown>;
  const error = b.error;
  if (error && typeof error === "object") {
    const code = (error as Record<string, unknown>).code;
    if (typeof code === "string") return code;
  }
  if (typeof error === "string") return error;
  return typeof b.code === "string" ? b.code : undefined;
}

/** Classifies a non-2xx refresh answer. */
export function classifyRefreshFailure(
  status: number,
  body: unknown,
): RefreshPermanentError | RefreshTransientError {
  const code = refreshErrorCode(body);
  if (code && PERMANENT_MESSAGES[code]) {
    return new RefreshPermanentError(PERMANENT_MESSAGES[code], code);
  }
  if (status === 401 || code === "invalid_grant") {
    return new RefreshPermanentError(GENERIC_REFRESH_FAILURE, code);
  }
  if (status >= 500 || status === 429 || status === 408) {
    return new RefreshTransientError(`token refresh failed with status ${status}`);
  }
  return new RefreshPermanentError(GENERIC_REFRESH_FAILURE, code);
}

/** The stored record after a refresh: only returned fields change; account_id kept. */
export function applyRefresh(auth: AuthData, response: RefreshResponse, nowMs: number): AuthData {
  const tokens = { ...auth.tokens! };
  if (response.id_token) tokens.id_token = response.id_token;
  if (response.access_token) tokens.access_token = response.access_token;
  if (response.refresh_token) tokens.refresh_token = response.refresh_token;
  return { ...auth, tokens, last_refresh: formatLastRefresh(nowMs) };
}

/** Options of {@linkcode requestRefresh}. */
export interface RefreshRequestOptions {
  /** Attempts for transient failures (default 3). */
  attempts?: number;
  /** First backoff, ms (doubles each retry; default 500). */
  backoffMs?: number;
}

/**
 * One refresh call (with transient retries and cancellable backoff). Throws
 * {@linkcode RefreshPermanentError} or {@linkcode RefreshTransientError}.
 */
export async function requestRefresh(
  ctx: Context,
  auth: AuthData,
  reason: RefreshReason,
  options: RefreshRequestOptions = {},
): Promise<RefreshResponse> {
  const log = ctx.logger.getChild("auth");
  const refreshToken = auth.tokens?.refresh_token;
  if (!refreshToken) throw new RefreshPermanentError(GENERIC_REFRESH_FAILURE);
  const endpoints = await tokenEndpoints(ctx, auth);
  const attempts = options.attempts ?? 3;
  const backoff = options.backoffMs ?? 500;
  let last: RefreshTransientError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await delay(backoff * 2 ** (attempt - 2), { signal: ctx.signal });
    log.debug("refreshing the access token ({reason}, attempt {attempt})", { reason, attempt });
    const init: RequestInit = endpoints.style === "codex"
      ? {
        method: "POST",
        headers: codexHeaders(ctx),
        body: JSON.stringify({
          client_id: endpoints.clientId,
          grant_type: "refresh_token",
          refresh_reason: reason,
          refresh_token: refreshToken,
        }),
      }
      : {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: refreshToken,
          client_id: endpoints.clientId,
        }).toString(),
      };
    using bound = timeoutSignal(30_000, ctx.signal, "token refresh timed out");
    let res: Response;
    try {
      res = await ctx.fetch(endpoints.refreshUrl, { ...init, signal: bound.signal });
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      last = new RefreshTransientError(
        `token refresh failed: ${ctx.secrets.redact((error as Error).message)}`,
        { cause: error },
      );
      continue;
    }
    const text = await res.text();
    ctx.secrets.register(text);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.ok) {
      const r = (body ?? {}) as Record<string, unknown>;
      const out: RefreshResponse = {};
      for (const key of ["id_token", "access_token", "refresh_token"] as const) {
        if (typeof r[key] === "string" && r[key]) {
          out[key] = r[key] as string;
          ctx.secrets.register(out[key]);
        }
      }
      return out;
    }
    const failure = classifyRefreshFailure(res.status, body);
    if (failure instanceof RefreshPermanentError) throw failure;
    last = failure;
  }
  throw last!;
}

// Permanent failures per refresh token, per process (codex caches them per auth snapshot).
const permanentFailures = new WeakMap<object, Map<string, RefreshPermanentError>>();

/**
 * Refreshes the stored credentials once across processes: takes the lock,
 * re-reads the store, and when the stored access token is no longer the one
 * that needed refreshing (another process did it), returns that one without
 * a network call. Otherwise calls the endpoint and saves the result.
 */
export async function refreshStored(
  ctx: Context,
  store: AuthStore,
  stale: AuthData,
  reason: RefreshReason,
  options: RefreshRequestOptions = {},
): Promise<AuthData> {
  let cache = permanentFailures.get(ctx.secrets);
  if (!cache) permanentFailures.set(ctx.secrets, cache = new Map());
  const known = cache.get(stale.tokens?.refresh_token ?? "");
  if (known) throw known;
  return await withAuthLock(store.codexHome, async () => {
    const current = (await store.loadUnlocked())?.loaded.auth;
    if (!current?.tokens) {
      throw new CdxError("not logged in", { hint: LOGIN_HINT });
    }
    const staleAccount = stale.tokens?.account_id ?? null;
    const currentAccount = current.tokens.account_id ?? null;
    if (staleAccount !== currentAccount) throw new RefreshPermanentError(ACCOUNT_CHANGED);
    if (current.tokens.access_token !== stale.tokens?.access_token) {
      const fresh = reason === "unauthorized_recovery" || !needsRefresh(current, ctx.clock.now());
      if (fresh) {
        ctx.logger.getChild("auth").debug("another process refreshed the token; using it");
        return current;
      }
    }
    let response: RefreshResponse;
    try {
      response = await requestRefresh(ctx, current, reason, options);
    } catch (error) {
      if (error instanceof RefreshPermanentError) {
        cache.set(current.tokens.refresh_token, error);
      }
      throw error;
    }
    const next = applyRefresh(current, response, ctx.clock.now());
    await store.saveLocked(next);
    return next;
  }, { signal: ctx.signal });
}
