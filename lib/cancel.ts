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
 * Resolves with the value of `promise`, or rejects with {@linkcode CancelledError}
 * as soon as `signal` aborts — at once if it already is. The abort listener is
 * always removed, so a long-lived signal does not accumulate listeners.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const value = await orCancel(Promise.resolve(42), controller.signal); // 42
 * ```
 */
export function orCancel<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {}); // the work is abandoned; do not leak an unhandled rejection
    return Promise.reject(cancelledFrom(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelledFrom(signal));
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
 * Waits `ms` milliseconds; rejects with {@linkcode CancelledError} when the
 * signal aborts, clearing the timer.
 *
 * @example
 * ```ts
 * await delay(100, { signal });
 * ```
 */
export function delay(ms: number, options: SignalOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(cancelledFrom(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      cancelTimer();
      reject(cancelledFrom(signal!));
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
 * {@linkcode CancelledError}). Timer and listener are always cleaned up.
 *
 * @example
 * ```ts
 * const res = await deadline(fetch(url, { signal }), 10_000, { signal });
 * ```
 */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  options: DeadlineOptions = {},
): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) {
    promise.catch(() => {});
    return Promise.reject(cancelledFrom(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => {
      cancelTimer();
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      cleanup();
      promise.catch(() => {});
      reject(cancelledFrom(signal!));
    };
    const cancelTimer = startTimer(ms, () => {
      cleanup();
      promise.catch(() => {});
      reject(new TimeoutError(ms, options.message));
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error) => {
        cleanup();
        reject(error);
      },
    );
  });
}

/**
 * An AbortSignal that aborts when `parent` aborts or after `ms` (with a
 * {@linkcode TimeoutError} as reason). Call `dispose()` to clear the timer.
 * Use it to bound work that takes a signal (fetch, spawn) rather than a promise.
 *
 * @example
 * ```ts
 * using bound = timeoutSignal(10_000, ctx.signal);
 * await fetch(url, { signal: bound.signal });
 * ```
 */
export function timeoutSignal(
  ms: number,
  parent?: AbortSignal,
  message?: string,
): { signal: AbortSignal; dispose(): void; [Symbol.dispose](): void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent!.reason);
  const cancelTimer = startTimer(ms, () => controller.abort(new TimeoutError(ms, message)));
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener("abort", onAbort, { once: true });
  const dispose = () => {
    cancelTimer();
    parent?.removeEventListener("abort", onAbort);
  };
  return { signal: controller.signal, dispose, [Symbol.dispose]: dispose };
}

/**
 * Re-raises the abort reason of `signal` as the error a wait should reject
 * with: a {@linkcode TimeoutError} reason stays a TimeoutError, anything else
 * becomes a {@linkcode CancelledError}.
 */
export function abortError(signal: AbortSignal): CancelledError | TimeoutError {
  return signal.reason instanceof TimeoutError ? signal.reason : cancelledFrom(signal);
}

/**
 * Yields the items of `iterable` until the signal aborts; the pending `next()`
 * is abandoned at once and the source iterator is closed (`return()`).
 *
 * @example
 * ```ts
 * for await (const chunk of orCancelIterable(body, ctx.signal)) write(chunk);
 * ```
 */
export async function* orCancelIterable<T>(
  iterable: AsyncIterable<T>,
  signal?: AbortSignal,
): AsyncGenerator<T, void, undefined> {
  const iterator = iterable[Symbol.asyncIterator]();
  try {
    while (true) {
      const result = await orCancel(iterator.next(), signal);
      if (result.done) return;
      yield result.value;
    }
  } finally {
    iterator.return?.()?.catch(() => {});
  }
}

/** Options of {@linkcode deadlineIterable}. */
export interface IterableDeadlineOptions extends SignalOptions {
  /** Bound on the whole iteration, in ms. */
  totalMs?: number;
  /** Bound on the wait for each next item, in ms (an idle timeout). */
  idleMs?: number;
  /** Message of the {@linkcode TimeoutError} for the idle bound. */
  idleMessage?: string;
  /** Message of the {@linkcode TimeoutError} for the total bound. */
  totalMessage?: string;
}

/**
 * Yields the items of `iterable`, rejecting with {@linkcode TimeoutError} when
 * the next item takes longer than `idleMs` or the whole iteration longer than
 * `totalMs`, and with {@linkcode CancelledError} when the signal aborts.
 *
 * @example
 * ```ts
 * for await (const ev of deadlineIterable(events, { idleMs: 300_000, signal })) handle(ev);
 * ```
 */
export async function* deadlineIterable<T>(
  iterable: AsyncIterable<T>,
  options: IterableDeadlineOptions,
): AsyncGenerator<T, void, undefined> {
  const iterator = iterable[Symbol.asyncIterator]();
  const started = performance.now();
  try {
    while (true) {
      let next: Promise<IteratorResult<T>> = iterator.next();
      let bound = Infinity;
      let message: string | undefined;
      if (options.idleMs !== undefined) {
        bound = options.idleMs;
        message = options.idleMessage;
      }
      if (options.totalMs !== undefined) {
        const left = options.totalMs - (performance.now() - started);
        if (left < bound) {
          bound = left;
          message = options.totalMessage;
        }
      }
      next = Number.isFinite(bound)
        ? deadline(next, Math.max(0, bound), { signal: options.signal, message })
        : orCancel(next, options.signal);
      const result = await next;
      if (result.done) return;
      yield result.value;
    }
  } finally {
    iterator.return?.()?.catch(() => {});
  }
}
