/**
 * Named checkpoints for the fault and interrupt suites: deterministic points
 * where a test stops a real cdx process (kill -9, SIGINT, SIGTERM) instead of
 * guessing with timers.
 *
 * With `CDX_TEST_PAUSE_AT=<name>[,<name>…]` in the environment, reaching a
 * listed checkpoint writes `cdx-test: paused at <name>` on stderr and waits
 * until the Context signal aborts (Ctrl-C / SIGTERM) — so the test sees the
 * line, then sends its signal (or kill -9). A checkpoint inside a critical
 * section (`{ resume: true }`) goes on when a signal arrives instead, so the
 * test sees the section finish before the deferred signal ends the process.
 * Without the variable a checkpoint costs one environment lookup.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { delay } from "./cancel.ts";
import { onDeferral } from "./critical.ts";

/** The environment variable naming the checkpoints to pause at. */
export const PAUSE_ENV = "CDX_TEST_PAUSE_AT";

/** The stderr line a paused process prints (tests wait for it). */
export function pausedLine(name: string): string {
  return `cdx-test: paused at ${name}\n`;
}

/**
 * A checkpoint. Pauses there when the test environment asks for it.
 *
 * @example
 * ```ts
 * const answer = await requestRefresh(ctx, auth);
 * await checkpoint(ctx, "refresh:answered");
 * await save(answer);
 * ```
 */
export async function checkpoint(
  ctx: Pick<Context, "env" | "signal" | "stderr">,
  name: string,
  options: { signal?: AbortSignal; resume?: boolean } = {},
): Promise<void> {
  const wanted = ctx.env.get(PAUSE_ENV);
  if (!wanted || !wanted.split(",").some((w) => w.trim() === name)) return;
  ctx.stderr.writeSync(pausedLine(name));
  const signal = options.signal ?? ctx.signal;
  if (!options.resume) {
    // A timer keeps the event loop alive while paused; the signal ends the pause.
    while (true) await delay(2 ** 31 - 1, { signal });
  }
  const resume = new AbortController();
  const stop = onDeferral(() => resume.abort());
  const onAbort = () => resume.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await delay(2 ** 31 - 1, { signal: resume.signal }).catch(() => {});
  } finally {
    stop();
    signal.removeEventListener("abort", onAbort);
  }
}
