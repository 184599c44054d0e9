/**
 * One transient status line on a terminal ("Waiting for approval… 14:59")
 * that never collides with other output. While it is shown it owns the
 * stream: every other write to the same {@linkcode Output} — a log warning,
 * a notice — first clears the line, and the line is drawn again below the
 * text once that text ends with a newline. So a warning can never be glued
 * onto the countdown (`…expires in 14:59warning: …`).
 *
 * It wraps the Output's `write`/`writeSync` for as long as it runs (the log
 * sink writes through the very same object), and restores them on `stop()`.
 * On a stream that is not a terminal it does nothing: scripts get plain
 * lines from the caller instead.
 *
 * @module
 */
import type { Output } from "./context.ts";

const CLEAR = "\r\x1b[2K";

/** A running status line. */
export interface StatusLine {
  /** Replaces the text (drawn at once). */
  set(text: string): void;
  /** Clears the line and gives the stream back. Safe to call twice. */
  stop(): void;
  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void;
}

function endsLine(data: string | Uint8Array): boolean {
  if (typeof data === "string") return data.endsWith("\n");
  return data.length > 0 && data[data.length - 1] === 0x0a;
}

/**
 * Shows `text` as a status line on `output` (a terminal) until `stop()`.
 *
 * @example
 * ```ts
 * using line = startStatusLine(ctx.stderr, "Waiting for the browser…");
 * line.set("Waiting for the browser… 14:58 left");
 * ```
 */
export function startStatusLine(output: Output, text = ""): StatusLine {
  if (!output.isTTY) return { set() {}, stop() {}, [Symbol.dispose]() {} };
  const own = (key: "write" | "writeSync") => Object.getOwnPropertyDescriptor(output, key);
  const saved = { write: own("write"), writeSync: own("writeSync") };
  const writeSync = output.writeSync.bind(output);
  let current = "";
  let stopped = false;
  // A line longer than the terminal wraps, and `\r` then clears only its last row.
  const fit = (t: string) => {
    const width = output.columns && output.columns > 1 ? output.columns - 1 : 0;
    return width && t.length > width ? t.slice(0, Math.max(0, width - 1)) + "…" : t;
  };
  const draw = () => writeSync(`${CLEAR}${current}`);

  const target = output as { write: Output["write"]; writeSync: Output["writeSync"] };
  target.writeSync = (data) => {
    writeSync(CLEAR);
    writeSync(data);
    if (endsLine(data)) draw();
  };
  // Writes to a terminal are small; doing them synchronously keeps clear, text and redraw in order.
  target.write = (data) => {
    target.writeSync(data);
    return Promise.resolve();
  };

  const restore = (key: "write" | "writeSync") => {
    const descriptor = saved[key];
    if (descriptor) Object.defineProperty(output, key, descriptor);
    else delete (output as unknown as Record<string, unknown>)[key];
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    restore("write");
    restore("writeSync");
    writeSync(CLEAR);
  };
  const line: StatusLine = {
    set(t) {
      if (stopped) return;
      current = fit(t);
      draw();
    },
    stop,
    [Symbol.dispose]: stop,
  };
  line.set(text);
  return line;
}
