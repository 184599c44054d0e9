/**
 * One retry loop for every network call that may fail for a moment: the
 * model request (`lib/model/client.ts`) and the token refresh
 * (`lib/auth/refresh.ts`). The caller says *whether* to retry (a pure
 * `decide`); this module says *when* (exponential backoff with jitter, or the
 * wait the server asked for), sleeps cancellably, and rethrows the last error
 * when `decide` gives up. The shape of `@std/async`'s `retry`, with a
 * decision per error and cdx's cancellation rules.
 *
 * @example
 * ```ts
 * const body = await retry(() => fetchOnce(), {
 *   // up to 3 attempts for transient failures; 429 waits as long as the server says
 *   decide: (attempt, error) =>
 *     attempt < 3 && error instanceof TransientError ? { retryAfterMs: error.retryAfterMs } : undefined,
 *   baseMs: 500,
 *   signal: ctx.signal,
 * });
 * ```
 *
 * @module
 */
import { abortError, delay } from "./cancel.ts";

/**
 * Retry after a failed attempt. `retryAfterMs` is a wait the server asked
 * for (`Retry-After`); without it the backoff applies.
 */
export interface RetryDecision {
  /** Wait exactly this long before the next attempt, instead of the backoff. */
  retryAfterMs?: number;
}

/** What {@linkcode RetryOptions.onRetry} is told before each wait. */
export interface RetryNotice {
  /** The attempt that failed (1 = the first call). */
  attempt: number;
  /** How long the loop waits before attempt `attempt + 1`, ms. */
  delayMs: number;
  /** Why attempt `attempt` failed. */
  error: unknown;
}

/** The backoff: `baseMs × factor^(retry-1)`, scaled by a random factor in `[1-jitter, 1+jitter)`. */
export interface BackoffOptions {
  /** First wait, ms (default 200, as codex). */
  baseMs?: number;
  /** Growth per retry (default 2). */
  factor?: number;
  /** Relative jitter (default 0.1, i.e. ±10 %; 0 for none). */
  jitter?: number;
  /** Cap on one computed wait, ms (default 60 s); a server's `retryAfterMs` is not capped. */
  maxDelayMs?: number;
}

/** Options of {@linkcode retry}. */
export interface RetryOptions extends BackoffOptions {
  /**
   * Called after attempt number `attempt` (1-based) failed with `error`:
   * return a {@linkcode RetryDecision} to try again, `undefined` to give up
   * (the error is rethrown). Never called when the signal aborted.
   */
  decide(attempt: number, error: unknown): RetryDecision | undefined;
  /** Cancels the loop: a wait in progress rejects at once (`CancelledError` / `TimeoutError`). */
  signal?: AbortSignal;
  /** Told before each wait (print a notice, log). */
  onRetry?(notice: RetryNotice): void | Promise<void>;
  /** Injectable sleep (tests); default `delay` of lib/cancel. */
  sleep?(ms: number, signal?: AbortSignal): Promise<void>;
  /** Injectable jitter source in `[0, 1)` (tests); default `Math.random`. */
  random?(): number;
}

/**
 * The backoff before retry number `retry` (1 = the wait after the first
 * failure).
 *
 * @example
 * ```ts
 * backoffMs(1, {}, () => 0.5); // 200
 * backoffMs(3, { baseMs: 500, jitter: 0 }); // 2000
 * ```
 */
export function backoffMs(
  retry: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const base = options.baseMs ?? 200;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.1;
  const raw = base * factor ** (retry - 1) * (1 - jitter + 2 * jitter * random());
  return Math.round(Math.min(raw, options.maxDelayMs ?? 60_000));
}

/**
 * Calls `fn` until it resolves or `decide` gives up. `fn` receives the
 * 1-based attempt number. When the signal aborts — during `fn` or a wait —
 * the loop rejects with the signal's {@linkcode abortError}, whatever `fn`
 * threw (a fetch aborted by Ctrl-C rejects with a raw reason; the caller
 * gets a `CancelledError`).
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { signal } = options;
  const sleep = options.sleep ?? ((ms: number, s?: AbortSignal) => delay(ms, { signal: s }));
  for (let attempt = 1;; attempt++) {
    if (signal?.aborted) throw abortError(signal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (signal?.aborted) throw abortError(signal);
      const decision = options.decide(attempt, error);
      if (!decision) throw error;
      const delayMs = decision.retryAfterMs ?? backoffMs(attempt, options, options.random);
      await options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal);
    }
  }
}
