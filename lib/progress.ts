/**
 * A quiet status line for waits: on a terminal, after about a second, a
 * spinner, the text and the seconds waited appear on stderr, redrawn in
 * place; `stop()` erases the line, so the output that follows starts on a
 * clean line. On anything but a terminal (a pipe, a file, CI logs) nothing
 * is ever written and no timer runs. Any command can use it around a wait:
 * the model's first token, a revoke, a sign-in request — and stops it in a
 * `finally` (a running status line is a pending timer, like any other).
 *
 * @example
 * ```ts
 * const p = startProgress(ctx, "Waiting for the model…");
 * try {
 *   await firstToken;
 * } finally {
 *   p.stop();
 * }
 * ```
 *
 * @module
 */
import type { Context } from "./context.ts";
import { startTimer } from "./timer.ts";

/** A running status line. */
export interface Progress {
  /** Replaces the text (shown at the next redraw). */
  update(text: string): void;
  /**
   * Erases the line and stops for good. Call it before writing anything
   * else to the terminal. Idempotent.
   */
  stop(): void;
}

/** Options of {@linkcode startProgress}. */
export interface ProgressOptions {
  /** Show nothing for this long: short waits stay silent (default 1000 ms). */
  delayMs?: number;
  /** Redraw interval (default 100 ms). */
  intervalMs?: number;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const CLEAR_LINE = "\r\x1b[2K";
const NOOP: Progress = { update() {}, stop() {} };

/**
 * Starts a status line on `ctx.stderr` when it is a terminal; otherwise
 * returns a progress that does nothing (and starts no timer).
 */
export function startProgress(
  ctx: Pick<Context, "stderr">,
  text: string,
  options: ProgressOptions = {},
): Progress {
  const out = ctx.stderr;
  if (!out.isTTY) return NOOP;
  const started = performance.now();
  const interval = options.intervalMs ?? 100;
  let frame = 0;
  let shown = false;
  let stopped = false;
  let cancelTimer: (() => void) | undefined;

  const draw = () => {
    if (stopped) return;
    const seconds = Math.floor((performance.now() - started) / 1000);
    let line = `${FRAMES[frame++ % FRAMES.length]} ${text}${seconds >= 1 ? ` ${seconds}s` : ""}`;
    // A line wider than the terminal wraps, and "\r" would only erase its last row.
    const width = (out.columns ?? 80) - 1;
    if (width > 0 && line.length > width) line = line.slice(0, width);
    if (out.color) line = `\x1b[2m${line}\x1b[22m`;
    out.writeSync(`${CLEAR_LINE}${line}`);
    shown = true;
    schedule(interval);
  };
  const schedule = (ms: number) => {
    cancelTimer = startTimer(ms, draw);
  };
  schedule(options.delayMs ?? 1000);

  return {
    update(next: string) {
      text = next;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      cancelTimer?.();
      if (shown) out.writeSync(CLEAR_LINE);
    },
  };
}
