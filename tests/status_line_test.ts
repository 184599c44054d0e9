/**
 * lib/status_line.ts: the one mechanism for transient lines on a terminal —
 * status lines and delayed progress lines — and how they share a stream
 * with other output.
 */
import assert from "node:assert/strict";
import { MemoryOutput } from "../lib/context.ts";
import { guardPromptLine, startProgress, startStatusLine } from "../lib/status_line.ts";

const CLEAR = "\r\x1b[2K";
/** CLEAR as a pattern, and one spinner frame. */
const ESC_CLEAR = "\\r\\x1b\\[2K";
const SPINNER = "[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]";

/** A terminal that resolves `seen(text)` once `text` was written (no clock involved). */
class WatchedTerminal extends MemoryOutput {
  #waiters: Array<{ text: string; resolve: () => void }> = [];
  constructor(columns = 80) {
    super(true, false, columns);
  }
  override writeSync(data: string | Uint8Array): void {
    super.writeSync(data);
    const all = this.text();
    this.#waiters = this.#waiters.filter((w) => {
      if (!all.includes(w.text)) return true;
      w.resolve();
      return false;
    });
  }
  seen(text: string): Promise<void> {
    if (this.text().includes(text)) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ text, resolve });
    const bound = AbortSignal.timeout(20_000);
    bound.addEventListener("abort", () => resolve(), { once: true });
    return promise.then(() => {
      if (!this.text().includes(text)) throw new Error(`never written: ${text}`);
    });
  }
}

Deno.test("progress: after its delay a spinner, the text and the seconds; erased by stop() before the output that follows", async () => {
  const tty = new WatchedTerminal();
  const progress = startProgress({ stderr: tty }, "Revoking the token…", { delayMs: 0 });
  await tty.seen("Revoking the token…");
  progress.update("Still revoking…");
  await tty.seen("Still revoking…");
  progress.stop();
  tty.writeSync("Successfully logged out\n");
  const text = tty.text();
  assert.match(text, new RegExp(`^${ESC_CLEAR}${SPINNER} Revoking the token…`));
  assert.ok(text.endsWith(`${CLEAR}Successfully logged out\n`), JSON.stringify(text));
  const before = tty.text();
  progress.stop(); // idempotent
  assert.equal(tty.text(), before);
});

Deno.test("progress: a wait shorter than the delay shows nothing; nothing at all on a pipe", () => {
  const tty = new MemoryOutput(true);
  startProgress({ stderr: tty }, "Waiting").stop();
  assert.equal(tty.text(), "");
  const pipe = new MemoryOutput(false);
  const p = startProgress({ stderr: pipe }, "Waiting", { delayMs: 0 });
  pipe.writeSync("plain\n");
  p.stop();
  assert.equal(pipe.text(), "plain\n");
});

Deno.test("a warning during a progress line starts on a cleared line and the progress comes back below it", async () => {
  const tty = new WatchedTerminal();
  const progress = startProgress({ stderr: tty }, "Waiting for the keychain…", { delayMs: 0 });
  await tty.seen("Waiting for the keychain…");
  tty.writeSync("warning: something\n");
  progress.stop();
  const text = tty.text();
  assert.match(
    text,
    new RegExp(`…${ESC_CLEAR}warning: something\n${ESC_CLEAR}${SPINNER} Waiting for the keychain…`),
  );
  assert.ok(text.endsWith(CLEAR));
});

Deno.test("lines nest: a progress under a countdown shows instead of it and gives it back when it stops", async () => {
  const tty = new WatchedTerminal();
  const countdown = startStatusLine(tty, "Waiting for the browser… 14:59 left");
  const progress = startProgress({ stderr: tty }, "Exchanging the code…", { delayMs: 0 });
  await tty.seen("Exchanging the code…");
  progress.stop();
  assert.ok(
    tty.text().endsWith(`${CLEAR}Waiting for the browser… 14:59 left`),
    JSON.stringify(tty.text()),
  );
  countdown.stop();
  tty.writeSync("done\n");
  assert.ok(tty.text().endsWith(`${CLEAR}done\n`));
  // The stream is given back: plain writes again.
  const before = tty.text();
  tty.writeSync("x");
  assert.equal(tty.text(), `${before}x`);
});

/** A terminal-like stderr whose next write can be awaited (bounded: a missing write fails). */
function watchedTerminal(columns = 80) {
  const out = new MemoryOutput(true, false, columns);
  let wake: (() => void) | undefined;
  const writeSync = out.writeSync.bind(out);
  out.writeSync = (data) => {
    writeSync(data);
    wake?.();
  };
  const nextWrite = () =>
    new Promise<void>((resolve, reject) => {
      const bound = setTimeout(() => reject(new Error("no write within 10 s")), 10_000);
      wake = () => {
        clearTimeout(bound);
        wake = undefined;
        resolve();
      };
    });
  return { out, nextWrite };
}

Deno.test("progress on a terminal: drawn in place, redrawn with the new text, erased by stop()", async () => {
  const { out, nextWrite } = watchedTerminal();
  const drawn = nextWrite();
  const p = startProgress({ stderr: out }, "Waiting for the model…", { delayMs: 0 });
  await drawn;
  p.update("Still waiting");
  const redrawn = nextWrite();
  await redrawn;
  p.stop();
  p.stop();
  const text = out.text();
  const CLEAR = "\r\x1b[2K";
  const draws = text.split(CLEAR).filter((d) => d !== "");
  assert.ok(text.startsWith(CLEAR));
  assert.match(draws[0], /^. Waiting for the model…/);
  assert.match(draws[1], /^. Still waiting/);
  assert.ok(text.endsWith("\r\x1b[2K"), JSON.stringify(text));
  assert.equal(text.split("\r\x1b[2K").length - 1, 3, "two draws and one erase");
  assert.ok(!text.includes("\n"), "never a line feed: the line is reused");
});

Deno.test("a progress line wider than the terminal is cut so that erasing it erases all of it", async () => {
  const { out, nextWrite } = watchedTerminal(20);
  const drawn = nextWrite();
  const p = startProgress({ stderr: out }, "a status text much wider than twenty columns", {
    delayMs: 0,
  });
  await drawn;
  p.stop();
  const first = out.text().split("\r\x1b[2K")[1];
  assert.equal(first.length, 19);
});

Deno.test("progress: stop() before the delay writes nothing; a pipe or file never gets anything, nor a timer", () => {
  const { out } = watchedTerminal();
  startProgress({ stderr: out }, "quick", { delayMs: 60_000 }).stop();
  assert.equal(out.text(), "");
  const pipe = new MemoryOutput(false);
  let timers = 0;
  const realTimeout = AbortSignal.timeout;
  const realSetTimeout = globalThis.setTimeout;
  AbortSignal.timeout = (ms: number) => {
    timers++;
    return realTimeout(ms);
  };
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    timers++;
    return realSetTimeout(...args);
  }) as typeof setTimeout;
  try {
    const p = startProgress({ stderr: pipe }, "Waiting", { delayMs: 0 });
    p.update("x");
    p.stop();
  } finally {
    AbortSignal.timeout = realTimeout;
    globalThis.setTimeout = realSetTimeout;
  }
  assert.equal(timers, 0, "no timer on a non-terminal");
  assert.equal(pipe.text(), "");
});

Deno.test("an open prompt line is ended before any other output, once; after stop() writes are plain", async () => {
  const tty = new MemoryOutput(true);
  const prompt = { open: false };
  const guard = guardPromptLine(tty, () => prompt.open, () => (prompt.open = false));
  await tty.write("Paste the address here: ");
  prompt.open = true;
  tty.writeSync("note: saved\n");
  await tty.write("Successfully logged in\n");
  guard.stop();
  prompt.open = true;
  tty.writeSync("x");
  assert.equal(tty.text(), "Paste the address here: \nnote: saved\nSuccessfully logged in\nx");
});
