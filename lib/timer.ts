/**
 * The timer every bounded wait of cdx runs on.
 *
 * Not `setTimeout`: in Deno 2.9 the first `setTimeout` of a process loads
 * Deno's Node timers, ~20 ms that every command paid at its first bounded
 * wait (the cdx.log lock, a keychain call); `AbortSignal.timeout` is a web
 * timer of the runtime itself (README "Start-up", `scripts/bench_startup.ts`).
 *
 * @module
 */

/**
 * Calls `fn` once after `ms` (clamped to 0…2^53-1); the returned function
 * cancels it. A pending timer keeps the process alive, as `setTimeout` does.
 *
 * @example
 * ```ts
 * const cancel = startTimer(3000, () => controller.abort());
 * ```
 */
export function startTimer(ms: number, fn: () => void): () => void {
  const max = Number.MAX_SAFE_INTEGER; // AbortSignal.timeout's range
  const signal = AbortSignal.timeout(
    Number.isFinite(ms) ? Math.min(max, Math.max(0, Math.ceil(ms))) : max,
  );
  const listener = () => fn();
  signal.addEventListener("abort", listener, { once: true });
  return () => signal.removeEventListener("abort", listener);
}
