/**
 * When `cdx run` retries, as a pure function of the failed attempt: codex's
 * rules (5xx and connection failures up to 4 retries with 200 ms × 2^n ±10 %
 * backoff — `lib/retry.ts` computes it), plus what codex lacks: a 429 waits
 * as long as `Retry-After` or "try again in" says, unless that is longer than
 * two minutes. Nothing is retried once text was printed (a script must never
 * see text twice). A 401 is not a retry: the client recovers from it once
 * (`client.ts`).
 *
 * @module
 */
import type { RetryDecision } from "../retry.ts";
import { ModelError } from "./http_error.ts";

/** The limits of the retry policy. */
export interface ModelRetryPolicy {
  /** Retries after the first attempt (codex's `request_max_retries`, default 4). */
  maxRetries: number;
  /** A server-requested wait longer than this is not waited for (default 120 s). */
  maxRetryDelayMs: number;
}

/** codex's defaults, plus the 2-minute cap on a server-requested wait. */
export const DEFAULT_RETRY_POLICY: ModelRetryPolicy = { maxRetries: 4, maxRetryDelayMs: 120_000 };

/**
 * Whether to retry after attempt number `attempt` (1-based) failed with
 * `error`: `{}` (backoff), `{ retryAfterMs }` (the server's wait), or
 * undefined to give up. Only a retryable {@linkcode ModelError} is retried,
 * and only while nothing was `delivered`.
 *
 * @example
 * ```ts
 * decideRetry(1, classifyHttpError({ status: 503, headers, body: "" }), DEFAULT_RETRY_POLICY, false); // {}
 * ```
 */
export function decideRetry(
  attempt: number,
  error: unknown,
  policy: ModelRetryPolicy,
  delivered: boolean,
): RetryDecision | undefined {
  if (!(error instanceof ModelError) || !error.retryable || delivered) return undefined;
  if (attempt > policy.maxRetries) return undefined;
  if (error.retryAfterMs === undefined) return {};
  if (error.retryAfterMs > policy.maxRetryDelayMs) return undefined;
  return { retryAfterMs: error.retryAfterMs };
}

/**
 * The error to report once {@linkcode decideRetry} gave up after `attempts`
 * attempts: says that retries ran out, or that the server asked for a wait
 * longer than the policy allows; anything else unchanged.
 */
export function giveUpError(error: unknown, attempts: number, policy: ModelRetryPolicy): unknown {
  if (!(error instanceof ModelError) || !error.retryable) return error;
  const options = {
    status: error.status,
    code: error.code,
    hint: error.hint,
    cause: error.cause,
    errorCode: error.errorCode,
  };
  if (error.retryAfterMs !== undefined && error.retryAfterMs > policy.maxRetryDelayMs) {
    const seconds = Math.ceil(error.retryAfterMs / 1000);
    return new ModelError(`${error.message}; the server asks to wait ${seconds} s`, options);
  }
  if (attempts > policy.maxRetries && attempts > 1) {
    return new ModelError(`${error.message} (gave up after ${attempts - 1} retries)`, options);
  }
  return error;
}
