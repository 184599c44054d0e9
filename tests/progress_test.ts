import assert from "node:assert/strict";
import { MemoryOutput } from "../lib/context.ts";
import { startProgress } from "../lib/progress.ts";

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

Deno.test("on a terminal the status line is drawn in place and erased by stop()", async () => {
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

Deno.test("a line wider than the terminal is cut so that erasing it erases all of it", async () => {
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

Deno.test("stop() before the delay writes nothing; a pipe or file never gets anything", () => {
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
