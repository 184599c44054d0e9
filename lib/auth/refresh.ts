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
import { retry } from "../retry.ts";
import { critical } from "../critical.ts";
import { checkpoint } from "../steps.ts";
import { fetchText, NetworkError } from "../http.ts";
import { type AuthData, formatLastRefresh, MAX_AUTH_BYTES } from "./auth_json.ts";
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
  /** A new ID token; absent keeps the stored one. */
  id_token?: string;
  /** A new access token; absent keeps the stored one. */
  access_token?: string;
  /** The rotated refresh token; absent keeps the stored one. */
  refresh_token?: string;
}

import {
  ACCOUNT_CHANGED,
  classifyRefreshFailure,
  GENERIC_REFRESH_FAILURE,
  needsRefresh,
  NOT_LOGGED_IN,
  RefreshPermanentError,
  RefreshTransientError,
} from "./refresh_policy.ts";

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
/** The store's Context parts plus fetch, clock, stderr (progress) and version/os (User-Agent). */
export type RefreshContext =
  & StoreContext
  & Pick<Context, "fetch" | "stderr" | "clock" | "version" | "os">;

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
  const once = async (attempt: number): Promise<RefreshResponse> => {
    log.debug("refreshing the access token ({reason}, attempt {attempt})", { reason, attempt });
    await checkpoint(ctx, "refresh:request");
    let res; // The body may be as large as a record cdx keeps: the issuer rotated before answering.
    try {
      res = await fetchText(ctx, endpoints.refreshUrl, init, ANSWER_BOUND);
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      throw new RefreshTransientError(error.message, { cause: error });
    }
    if (!res.ok) throw classifyRefreshFailure(res.status, res.json);
    const r = (res.json ?? {}) as Record<string, unknown>;
    const out: RefreshResponse = {};
    for (const key of ["id_token", "access_token", "refresh_token"] as const) {
      if (typeof r[key] === "string" && r[key]) {
        out[key] = r[key] as string;
        ctx.secrets.register(out[key]);
      }
    }
    return out;
  };
  return await retry(once, {
    decide: (n: number, error: unknown) =>
      n < attempts && error instanceof RefreshTransientError ? {} : undefined,
    baseMs: backoff,
    jitter: 0,
    signal: ctx.signal,
  });
}

// Permanent failures per refresh token, per process (codex caches them per auth snapshot).
const permanentFailures = new WeakMap<object, Map<string, RefreshPermanentError>>();

/** A refreshed credential and what the user should know about where it went. */
export interface RefreshResult {
  /** The credentials now stored: this refresh's, or another process's newer ones. */
  auth: AuthData;
  /** Repairs and storage fallbacks made on the way (not the steady ones). */
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
  const outcome = await withAuthLock(ctx, async (): Promise<RefreshResult | Reused> => {
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
      if (error instanceof RefreshPermanentError && isReuse(error)) {
        return { reused: current, error, notices };
      }
      if (error instanceof RefreshPermanentError) cache.set(current.tokens.refresh_token, error);
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
  if (!("reused" in outcome)) return outcome;
  // "Already used": another process refreshed this token first. codex 0.169.0 takes auth.lock
  // only around its write, after its request — so it may be waiting for the lock we just
  // released. Give it a moment to store the tokens it got, then use them.
  const other = await storedElsewhere(ctx, store, outcome.reused);
  if (other) return { auth: other, notices: outcome.notices };
  cache.set(outcome.reused.tokens!.refresh_token, outcome.error);
  throw outcome.error;
}

/** A refresh the issuer refused as already used (with what was sent). */
interface Reused {
  reused: AuthData;
  error: RefreshPermanentError;
  notices: Notice[];
}

/** Whether a permanent failure says the token was used already (so a concurrent refresh may have won). */
function isReuse(error: RefreshPermanentError): boolean {
  return error.code === "refresh_token_reused" || error.code === "invalid_grant";
}

/** How long to wait for another process to store the tokens it refreshed. */
export const REUSE_WAIT_MS = 5000;
const REUSE_POLL_MS = 100;

/**
 * After "already used": waits (bounded by {@linkcode REUSE_WAIT_MS},
 * cancellable) until the store holds another refresh token of the same
 * account than the one sent, and returns those credentials; undefined when
 * none arrives.
 */
async function storedElsewhere(
  ctx: RefreshContext,
  store: AuthStore,
  sent: AuthData,
): Promise<AuthData | undefined> {
  const until = ctx.clock.monotonic() + REUSE_WAIT_MS;
  while (true) {
    try {
      const again = (await inspectAuth(ctx, store)).active?.auth;
      const differs = again?.tokens &&
        again.tokens.refresh_token !== sent.tokens?.refresh_token &&
        (again.tokens.account_id ?? null) === (sent.tokens?.account_id ?? null);
      if (differs) return again;
    } catch (error) {
      if (isCancellation(error)) throw error;
    }
    if (ctx.clock.monotonic() >= until) return undefined;
    await delay(REUSE_POLL_MS, { signal: ctx.signal });
  }
}
