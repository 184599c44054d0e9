/**
 * Cancellation primitives: the port of codex's async-utils `or_cancel`.
 *
 * Every wait in cdx (sleeps, polls, retries, spawns, fetches, stream reads)
 * goes through these helpers so that one AbortSignal — the Context's — can
 * unwind the whole program at once.
 *
 * @module
 */
import { startTimer } from "./timer.ts";

/** Why a signal was aborted by a process signal (SIGINT / SIGTERM). */
export class InterruptSignal extends Error {
  /** The OS signal name, e.g. `"SIGINT"`. */
  readonly signal: "SIGINT" | "SIGTERM";
  /** The signal that arrived. */
  constructor(signal: "SIGINT" | "SIGTERM") {
    super(signal === "SIGINT" ? "interrupted" : "terminated");
    this.name = "InterruptSignal";
    this.signal = signal;
  }
}

/**
 * Rejection of a wait whose signal was aborted. `reason` is the abort reason
 * (an {@linkcode InterruptSignal} when Ctrl-C or SIGTERM caused it).
 *
 * @example
 * ```ts
 * try { await orCancel(work, signal); } catch (e) {
 *   if (e instanceof CancelledError) console.log("cancelled by", e.reason);
 * }
 * ```
 */
export class CancelledError extends Error {
  /** The abort reason of the signal that cancelled the wait. */
  readonly reason: unknown;
  /** `reason`: the aborted signal's reason (an {@linkcode InterruptSignal} for Ctrl-C). */
  constructor(reason?: unknown) {
    super(reason instanceof Error ? reason.message : "cancelled");
    this.name = "CancelledError";
    this.reason = reason;
  }
}

/**
 * Rejection of a wait that ran past its deadline.
 *
 * @example
 * ```ts
 * await deadline(fetch(url), 5000).catch((e) => e instanceof TimeoutError);
 * ```
 */
export class TimeoutError extends Error {
  /** The bound that was exceeded, in milliseconds. */
  readonly ms: number;
  /** The bound that expired, and what to say (default: how long it was). */
  constructor(ms: number, message?: string) {
    super(message ?? `timed out after ${formatMs(ms)}`);
    this.name = "TimeoutError";
    this.ms = ms;
  }
}

/**
 * A duration for messages: whole seconds as `"30 s"`, anything else in ms.
 *
 * @example
 * ```ts
 * formatMs(30_000); // "30 s"
 * formatMs(1500); // "1500 ms"
 * ```
 */
export function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Options accepted by the cancellable helpers. */
export interface SignalOptions {
  /** Aborting it rejects the wait with {@linkcode CancelledError}. */
  signal?: AbortSignal;
}

/** Turns an abort reason into the error a cancelled wait rejects with. */
export function cancelledFrom(signal: AbortSignal): CancelledError {
  const reason = signal.reason;
  return reason instanceof CancelledError ? reason : new CancelledError(reason);
}

/** True for errors that mean "the user or a deadline stopped this", not a failure. */
export function isCancellation(error: unknown): error is CancelledError | TimeoutError {
  return error instanceof CancelledError || error instanceof TimeoutError;
}

/**
 * Resolves with the value of `promise`, or rejects as soon as `signal` aborts
 * — at once if it already is — with {@linkcode CancelledError} (or with the
 * signal's reason when that is a {@linkcode TimeoutError}: a bound is not an
 * interrupt). The abort listener is always removed, so a long-lived signal
 * does not accumulate listeners. The shape of `@std/async`'s `abortable`.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const value = await orCancel(Promise.resolve(42), controller.signal); // 42
 * ```
 */
export function orCancel<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  return signal ? abortable(promise, signal) : promise;
}

/**
 * Waits `ms` milliseconds; rejects when the signal aborts (with
 * {@linkcode abortError}: a {@linkcode CancelledError}, or the signal's
 * {@linkcode TimeoutError}), clearing the timer.
 *
 * @example
 * ```ts
 * await delay(100, { signal });
 * ```
 */
export function delay(ms: number, options: SignalOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      cancelTimer();
      reject(abortError(signal!));
    };
    const cancelTimer = startTimer(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Options of {@linkcode deadline}. */
export interface DeadlineOptions extends SignalOptions {
  /** Message of the {@linkcode TimeoutError}. */
  message?: string;
}

/**
 * Resolves with the value of `promise` unless `ms` elapses first (rejects with
 * {@linkcode TimeoutError}) or the signal aborts (rejects with
 * {@linkcode CancelledError}, or with the signal's own reason when that is a
 * `TimeoutError`, e.g. an outer `--timeout`). Built like `@std/async`'s
 * `deadline`: `AbortSignal.timeout` raced against the caller's signal.
 *
 * @example
 * ```ts
 * const res = await deadline(fetch(url, { signal }), 10_000, { signal });
 * ```
 */
export async function deadline<T>(
  promise: Promise<T>,
  ms: number,
  options: DeadlineOptions = {},
): Promise<T> {
  using bound = timeoutSignal(ms, options.signal, options.message);
  return await abortable(promise, bound.signal);
}

/** The result of {@linkcode timeoutSignal}: dispose it when the work is done. */
export interface BoundSignal extends Disposable {
  /** Aborts after the bound (reason: {@linkcode TimeoutError}) or with the parent. */
  readonly signal: AbortSignal;
  /** Detaches from the parent; a later timeout no longer aborts `signal`. */
  dispose(): void;
}

/**
 * An AbortSignal that aborts when `parent` aborts (with the parent's reason)
 * or after `ms` (with a {@linkcode TimeoutError} carrying `message`). Built on
 * `AbortSignal.timeout` + `AbortSignal.any`, so an abandoned bound holds no
 * timer that keeps the process alive. Use it to bound work that takes a
 * signal (fetch, spawn) rather than a promise.
 *
 * @example
 * ```ts
 * using bound = timeoutSignal(10_000, ctx.signal, "discovery timed out");
 * await fetch(url, { signal: bound.signal });
 * ```
 */
export function timeoutSignal(ms: number, parent?: AbortSignal, message?: string): BoundSignal {
  const timeout = AbortSignal.timeout(
    Number.isFinite(ms)
      ? Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.ceil(ms)))
      : Number.MAX_SAFE_INTEGER,
  );
  const either = parent ? AbortSignal.any([parent, timeout]) : timeout;
  // AbortSignal.timeout aborts with a DOMException; callers tell a timeout
  // from Ctrl-C by `reason instanceof TimeoutError`, so the reason is mapped.
  const controller = new AbortController();
  const onAbort = () => {
    const timedOut = timeout.aborted && either.reason === timeout.reason;
    controller.abort(timedOut ? new TimeoutError(ms, message) : either.reason);
  };
  if (either.aborted) onAbort();
  else either.addEventListener("abort", onAbort, { once: true });
  const dispose = () => either.removeEventListener("abort", onAbort);
  return { signal: controller.signal, dispose, [Symbol.dispose]: dispose };
}

/**
 * Resolves with the value of `promise`, or rejects with
 * {@linkcode abortError} of `signal` as soon as it aborts (`@std/async`'s
 * `abortable` for promises, with cdx's error types).
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {}); // the work is abandoned; do not leak an unhandled rejection
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(abortError(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Re-raises the abort reason of `signal` as the error a wait should reject
 * with: a {@linkcode TimeoutError} reason stays a TimeoutError, anything else
 * becomes a {@linkcode CancelledError}.
 */
export function abortError(signal: AbortSignal): CancelledError | TimeoutError {
  return signal.reason instanceof TimeoutError ? signal.reason : cancelledFrom(signal);
}
