/**
 * Transient status lines on a terminal — the one mechanism for them in cdx:
 *
 * - {@linkcode startStatusLine}: a line shown at once and set by its owner
 *   ("Waiting for approval… 14:59");
 * - {@linkcode startProgress}: a quiet line for a wait that may be long (a
 *   revoke, a sign-in request, a keychain that may be asking to be
 *   unlocked, the model's first token): nothing for the first second, then
 *   a spinner, the text and the seconds waited, redrawn in place.
 *
 * Lines never collide with other output. While one is shown it owns its
 * stream: every other write to the same {@linkcode Output} — a log warning,
 * a notice — first clears the line, and the line is drawn again below the
 * text once that text ends with a newline. So a warning can never be glued
 * onto a countdown (`…expires in 14:59warning: …`). Lines nest: a progress
 * started under a countdown shows instead of it and gives it back when it
 * stops. `stop()` erases the line, so what follows starts on a clean line.
 *
 * On a stream that is not a terminal (a pipe, a file, CI logs) nothing is
 * ever written and no timer runs: scripts get plain lines from the caller.
 *
 * @module
 */
import type { Output } from "./context.ts";
import { startTimer } from "./timer.ts";

const CLEAR = "\r\x1b[2K";
const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A running status line. */
export interface StatusLine {
  /** Replaces the text (drawn at once). */
  set(text: string): void;
  /** Clears the line and gives the stream back. Safe to call twice. */
  stop(): void;
  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void;
}

/** A running progress line. */
export interface Progress {
  /** Replaces the text (shown at the next redraw). */
  update(text: string): void;
  /** Erases the line (if shown) and stops for good. Idempotent. */
  stop(): void;
  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void;
}

/** Options of {@linkcode startProgress}. */
export interface ProgressOptions {
  /** Show nothing for this long: short waits stay silent (default 1000 ms). */
  delayMs?: number;
  /** Redraw interval (default 100 ms). */
  intervalMs?: number;
}

interface Line {
  /** The text to draw; undefined while the line is not shown (a progress before its delay). */
  text(): string | undefined;
  /** Drawn dim (where the stream allows colour). */
  readonly dim?: boolean;
}

/** The lines of one stream and the wrapped write functions. */
interface Owner {
  lines: Line[];
  draw(): void;
  release(): void;
}

const owners = new WeakMap<Output, Owner>();

function endsLine(data: string | Uint8Array): boolean {
  if (typeof data === "string") return data.endsWith("\n");
  return data.length > 0 && data[data.length - 1] === 0x0a;
}

/** Takes over `output`'s writes while it has lines (see the module doc). */
function ownerOf(output: Output): Owner {
  const existing = owners.get(output);
  if (existing) return existing;
  const own = (key: "write" | "writeSync") => Object.getOwnPropertyDescriptor(output, key);
  const saved = { write: own("write"), writeSync: own("writeSync") };
  const writeSync = output.writeSync.bind(output);
  // A line longer than the terminal wraps, and `\r` then clears only its last row.
  const fit = (t: string) => {
    const width = output.columns && output.columns > 1 ? output.columns - 1 : 0;
    return width && t.length > width ? t.slice(0, Math.max(0, width - 1)) + "…" : t;
  };
  let drawn = false;
  const owner: Owner = {
    lines: [],
    draw() {
      const line = owner.lines.findLast((l) => l.text() !== undefined);
      if (line === undefined) {
        if (drawn) writeSync(CLEAR);
        drawn = false;
        return;
      }
      // Cut first, then style: an escape sequence must never be cut in half.
      const text = fit(line.text()!);
      writeSync(`${CLEAR}${line.dim && output.color ? `\x1b[2m${text}\x1b[22m` : text}`);
      drawn = true;
    },
    release() {
      owners.delete(output);
      for (const key of ["write", "writeSync"] as const) {
        const descriptor = saved[key];
        if (descriptor) Object.defineProperty(output, key, descriptor);
        else delete (output as unknown as Record<string, unknown>)[key];
      }
      if (drawn) writeSync(CLEAR);
    },
  };
  const target = output as { write: Output["write"]; writeSync: Output["writeSync"] };
  target.writeSync = (data) => {
    if (drawn) writeSync(CLEAR);
    drawn = false;
    writeSync(data);
    if (endsLine(data)) owner.draw();
  };
  // Writes to a terminal are small; doing them synchronously keeps clear, text and redraw in order.
  target.write = (data) => {
    target.writeSync(data);
    return Promise.resolve();
  };
  owners.set(output, owner);
  return owner;
}

/** Adds `line` to `output`'s lines; the returned function removes it (idempotent). */
function attach(output: Output, line: Line): { owner: Owner; detach(): void } {
  const owner = ownerOf(output);
  owner.lines.push(line);
  let attached = true;
  return {
    owner,
    detach() {
      if (!attached) return;
      attached = false;
      owner.lines.splice(owner.lines.indexOf(line), 1);
      if (owner.lines.length === 0) owner.release();
      else owner.draw();
    },
  };
}

/**
 * While a prompt waits on `output` with the cursor after it (`isOpen()`),
 * any other write first ends that line — a note printed because the browser
 * answered meanwhile starts on a line of its own, never glued to the
 * prompt. `stop()` gives the stream back.
 *
 * @example
 * ```ts
 * const prompt = { open: false };
 * const guard = guardPromptLine(ctx.stderr, () => prompt.open, () => (prompt.open = false));
 * ```
 */
export function guardPromptLine(
  output: Output,
  isOpen: () => boolean,
  ended: () => void,
): { stop(): void } {
  const own = (key: "write" | "writeSync") => Object.getOwnPropertyDescriptor(output, key);
  const saved = { write: own("write"), writeSync: own("writeSync") };
  const write = output.write.bind(output);
  const writeSync = output.writeSync.bind(output);
  const target = output as { write: Output["write"]; writeSync: Output["writeSync"] };
  const endLine = () => {
    if (!isOpen()) return false;
    ended();
    return true;
  };
  target.writeSync = (data) => {
    if (endLine()) writeSync("\n");
    writeSync(data);
  };
  target.write = async (data) => {
    if (endLine()) await write("\n");
    await write(data);
  };
  return {
    stop() {
      for (const key of ["write", "writeSync"] as const) {
        const descriptor = saved[key];
        if (descriptor) Object.defineProperty(output, key, descriptor);
        else delete (output as unknown as Record<string, unknown>)[key];
      }
    },
  };
}

const NOOP_LINE: StatusLine = { set() {}, stop() {}, [Symbol.dispose]() {} };
const NOOP_PROGRESS: Progress = { update() {}, stop() {}, [Symbol.dispose]() {} };

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
  if (!output.isTTY) return NOOP_LINE;
  let current = text;
  const { owner, detach } = attach(output, { text: () => current });
  let stopped = false;
  const stop = () => {
    stopped = true;
    detach();
  };
  owner.draw();
  return {
    set(t) {
      if (stopped) return;
      current = t;
      owner.draw();
    },
    stop,
    [Symbol.dispose]: stop,
  };
}

/**
 * A quiet progress line on `ctx.stderr` for a wait that may take a while:
 * nothing unless the wait lasts longer than `delayMs` (1 s), then a
 * spinner, `text` and the seconds waited. Does nothing (no timer either)
 * when stderr is not a terminal. Stop it before printing the result.
 *
 * @example
 * ```ts
 * using _ = startProgress(ctx, "Revoking the token…");
 * await revokeAuth(ctx, auth);
 * ```
 */
export function startProgress(
  ctx: { readonly stderr: Output },
  text: string,
  options: ProgressOptions = {},
): Progress {
  const output = ctx.stderr;
  if (!output.isTTY) return NOOP_PROGRESS;
  const started = performance.now();
  const interval = options.intervalMs ?? 100;
  let frame = -1;
  let current = text;
  const line: Line = {
    dim: true,
    text() {
      if (frame < 0) return undefined;
      const seconds = Math.floor((performance.now() - started) / 1000);
      return `${FRAMES[frame % FRAMES.length]} ${current}${seconds >= 1 ? ` ${seconds}s` : ""}`;
    },
  };
  const { owner, detach } = attach(output, line);
  let cancel = startTimer(options.delayMs ?? 1000, function tick() {
    frame++;
    owner.draw();
    cancel = startTimer(interval, tick);
  });
  const stop = () => {
    cancel();
    detach();
  };
  return {
    update(next) {
      current = next;
    },
    stop,
    [Symbol.dispose]: stop,
  };
}
