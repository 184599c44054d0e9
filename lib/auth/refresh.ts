/**
 * Token refresh by codex's rules (codex-interop.md §8): when to refresh, the
 * request, which fields change, permanent vs transient failures — and the
 * one refresh path, said in one breath: under `auth.lock` (shared with
 * codex), re-read the store; if another process already refreshed, use its
 * tokens; else reserve a durable place for the answer (a full disk or a
 * read-only directory fails *here*, before the issuer rotates anything), ask
 * the issuer, and save the answer in a critical section Ctrl-C cannot cut.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError } from "../errors.ts";
import { cancelledFrom, delay, isCancellation } from "../cancel.ts";
import { critical } from "../critical.ts";
import { checkpoint } from "../steps.ts";
import { fetchText, NetworkError } from "../http.ts";
import { type AuthData, formatLastRefresh, MAX_AUTH_BYTES, resolveAuthMode } from "./auth_json.ts";
import { tokenExpiryMs } from "./jwt.ts";
import { codexHeaders, tokenEndpoints } from "./endpoints.ts";
import { withAuthLock } from "./lock.ts";
import { saveToStore } from "./save.ts";
import { applyRepairs } from "./repair.ts";
import {
  type AuthStore,
  inspectAuth,
  type Notice,
  type StoreContext,
  storeUnreadable,
} from "./store.ts";

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
const NOT_LOGGED_IN = { hint: LOGIN_HINT, errorCode: "not_logged_in" } as const;

/** A refresh failure that retrying cannot fix (exit 1, "log in again"). */
export class RefreshPermanentError extends CdxError {
  constructor(message: string, readonly code?: string) {
    super(message, { hint: LOGIN_HINT, errorCode: "login_expired" });
    this.name = "RefreshPermanentError";
  }
}

/** A refresh failure that may pass (network, 5xx, 429). */
export class RefreshTransientError extends CdxError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, hint: "check the network and try again", errorCode: "network" });
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
    return new RefreshTransientError(`the token endpoint answered HTTP ${status}`);
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

const ANSWER_BOUND = { what: "token refresh", maxBodyBytes: MAX_AUTH_BYTES };
type RefreshContext = StoreContext & Pick<Context, "fetch" | "stderr" | "clock" | "version" | "os">;

/**
 * One refresh call, retrying connection failures and 5xx/429 with
 * cancellable backoff. A request that gets no answer within its bound is
 * not retried (it already waited the whole bound): RequestTimeoutError,
 * exit 124. Only the token fields of the answer are registered as secrets.
 * Throws {@linkcode RefreshPermanentError} or {@linkcode RefreshTransientError}.
 */
export async function requestRefresh(
  ctx: RefreshContext,
  auth: AuthData,
  reason: RefreshReason,
  options: RefreshRequestOptions = {},
): Promise<RefreshResponse> {
  const log = ctx.logger.getChild("auth");
  const refreshToken = auth.tokens?.refresh_token;
  if (!refreshToken) throw new RefreshPermanentError(GENERIC_REFRESH_FAILURE);
  const endpoints = await tokenEndpoints(ctx as Context, auth);
  const attempts = options.attempts ?? 3;
  const backoff = options.backoffMs ?? 500;
  const init: RequestInit = endpoints.style === "codex"
    ? {
      method: "POST",
      headers: codexHeaders(ctx as Context),
      body: JSON.stringify({
        client_id: endpoints.clientId,
        grant_type: "refresh_token",
        refresh_reason: reason,
        refresh_token: refreshToken,
      }),
    }
    : {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        client_id: endpoints.clientId,
      }).toString(),
    };
  let last: RefreshTransientError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await delay(backoff * 2 ** (attempt - 2), { signal: ctx.signal });
    log.debug("refreshing the access token ({reason}, attempt {attempt})", { reason, attempt });
    await checkpoint(ctx, "refresh:request");
    let res; // The body may be as large as a record cdx keeps: the issuer rotated before answering.
    try {
      res = await fetchText(ctx, endpoints.refreshUrl, init, ANSWER_BOUND);
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      last = new RefreshTransientError(error.message, { cause: error });
      continue;
    }
    if (res.ok) {
      const r = (res.json ?? {}) as Record<string, unknown>;
      const out: RefreshResponse = {};
      for (const key of ["id_token", "access_token", "refresh_token"] as const) {
        if (typeof r[key] === "string" && r[key]) {
          out[key] = r[key] as string;
          ctx.secrets.register(out[key]);
        }
      }
      return out;
    }
    const failure = classifyRefreshFailure(res.status, res.json);
    if (failure instanceof RefreshPermanentError) throw failure;
    last = failure;
  }
  throw last!;
}

// Permanent failures per refresh token, per process (codex caches them per auth snapshot).
const permanentFailures = new WeakMap<object, Map<string, RefreshPermanentError>>();

/** A refreshed credential and what the user should know about where it went. */
export interface RefreshResult {
  auth: AuthData;
  notices: Notice[];
}

/**
 * Refreshes the stored credentials once across processes (cdx and codex).
 * See the module doc for the path. Another process's refresh is used
 * without a network call; a `refresh_token_reused` answer is checked against
 * the store before it is believed.
 */
export async function refreshStored(
  ctx: RefreshContext,
  store: AuthStore,
  stale: AuthData,
  reason: RefreshReason,
  options: RefreshRequestOptions = {},
): Promise<RefreshResult> {
  let cache = permanentFailures.get(ctx.secrets);
  if (!cache) permanentFailures.set(ctx.secrets, cache = new Map());
  const known = cache.get(stale.tokens?.refresh_token ?? "");
  if (known) throw known;
  return await withAuthLock(ctx, async () => {
    const snapshot = await inspectAuth(ctx, store);
    if (snapshot.unknown) throw storeUnreadable(snapshot);
    const repaired = await applyRepairs(ctx, store, snapshot);
    const notices = repaired.notices.filter((n) => !n.steady);
    const current = repaired.active?.auth;
    if (!current?.tokens) throw new CdxError("not logged in", NOT_LOGGED_IN);
    if ((stale.tokens?.account_id ?? null) !== (current.tokens.account_id ?? null)) {
      throw new RefreshPermanentError(ACCOUNT_CHANGED);
    }
    if (current.tokens.access_token !== stale.tokens?.access_token) {
      const fresh = reason === "unauthorized_recovery" || !needsRefresh(current, ctx.clock.now());
      if (fresh) {
        ctx.logger.getChild("auth").debug("another process refreshed the token; using it");
        return { auth: current, notices };
      }
    }
    const rescue = store.mode.mode === "ephemeral"
      ? undefined
      : await store.file.reserveRescue(current);
    let response: RefreshResponse;
    try {
      response = await requestRefresh(ctx, current, reason, options);
    } catch (error) {
      await rescue?.discard();
      if (error instanceof RefreshPermanentError) {
        const other = await usedElsewhere(ctx, store, current);
        if (other) return { auth: other, notices };
        cache.set(current.tokens.refresh_token, error);
      }
      throw error;
    }
    // The issuer rotated: the new tokens must land somewhere durable; a deferred Ctrl-C waits.
    const result = await critical(async () => {
      const next = applyRefresh(current, response, ctx.clock.now());
      await checkpoint(ctx, "refresh:answered", { resume: true });
      await rescue?.write(next);
      await checkpoint(ctx, "refresh:rescued", { resume: true });
      const saved = await saveToStore(ctx, store, next, { onUnreadableKeyring: "file", rescue });
      await checkpoint(ctx, "refresh:saved", { resume: true });
      return { auth: next, notices: [...notices, ...saved.notices] };
    });
    if (ctx.signal.aborted) throw cancelledFrom(ctx.signal);
    return result;
  });
}

/** After a permanent failure: did another process (or a user) store newer tokens? Use those. */
async function usedElsewhere(
  ctx: RefreshContext,
  store: AuthStore,
  sent: AuthData,
): Promise<AuthData | undefined> {
  try {
    const again = (await inspectAuth(ctx, store)).active?.auth;
    const differs = again?.tokens && again.tokens.refresh_token !== sent.tokens?.refresh_token &&
      (again.tokens.account_id ?? null) === (sent.tokens?.account_id ?? null);
    return differs ? again : undefined;
  } catch (error) {
    if (isCancellation(error)) throw error;
    return undefined;
  }
}
