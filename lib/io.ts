/**
 * The real standard streams, wrapped as Context {@linkcode Output} /
 * {@linkcode Input} (only `cli.ts` creates them), and
 * {@linkcode CoalescingWriter}, which turns many small pieces of output into
 * few writes.
 *
 * @module
 */
import type { Input, Output } from "./context.ts";
import { cancelledFrom, orCancel } from "./cancel.ts";
import { startTimer } from "./timer.ts";

const encoder = new TextEncoder();

/** What {@linkcode denoOutput} writes to: `Deno.stdout`, `Deno.stderr` or a test double. */
export type Writer = {
  write(p: Uint8Array): Promise<number>;
  writeSync(p: Uint8Array): number;
  isTerminal(): boolean;
};

function isBrokenPipe(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe;
}

/** Wraps `Deno.stdout` / `Deno.stderr`. A closed pipe (reader gone) is not an error. */
export function denoOutput(file: Writer, color: boolean): Output {
  const isTTY = file.isTerminal();
  let columns: number | undefined;
  try {
    columns = isTTY ? Deno.consoleSize().columns : undefined;
  } catch {
    columns = undefined;
  }
  return {
    isTTY,
    color: color && isTTY,
    columns,
    async write(data) {
      let bytes = typeof data === "string" ? encoder.encode(data) : data;
      try {
        while (bytes.length > 0) bytes = bytes.subarray(await file.write(bytes));
      } catch (error) {
        if (!isBrokenPipe(error)) throw error;
      }
    },
    writeSync(data) {
      let bytes = typeof data === "string" ? encoder.encode(data) : data;
      try {
        while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
      } catch (error) {
        if (!isBrokenPipe(error)) throw error;
      }
    },
  };
}

/** What {@linkcode lineReader} reads from: `Deno.stdin` or a test double. */
export interface ByteSource {
  /** Reads up to `p.length` bytes; null at end of input. */
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * `readLine` over a byte source. A read cannot be cancelled in Deno, so the
 * one pending read is raced against the signal: Ctrl-C rejects at once with
 * `CancelledError` (the command ends with 130), and a later `readLine` takes
 * over the same pending read, so no typed byte is lost or read twice.
 *
 * @example
 * ```ts
 * const readLine = lineReader(Deno.stdin);
 * const answer = await readLine(ctx.signal); // undefined at end of input
 * ```
 */
export function lineReader(
  source: ByteSource,
): (signal?: AbortSignal) => Promise<string | undefined> {
  let pending = "";
  let ended = false;
  let inflight: Promise<Uint8Array | null> | undefined;
  const decoder = new TextDecoder();
  const readChunk = () => {
    const buf = new Uint8Array(1024);
    return source.read(buf).then((n) => n === null ? null : buf.subarray(0, n));
  };
  return async (signal) => {
    while (!pending.includes("\n") && !ended) {
      if (signal?.aborted) throw cancelledFrom(signal);
      const read = inflight ??= readChunk();
      let chunk: Uint8Array | null;
      try {
        chunk = await orCancel(read, signal);
      } catch (error) {
        // Cancelled: the read stays pending for the next call. Failed: start afresh.
        if (!signal?.aborted) inflight = undefined;
        throw error;
      }
      inflight = undefined;
      if (chunk === null) ended = true;
      else pending += decoder.decode(chunk, { stream: true });
    }
    if (signal?.aborted) throw cancelledFrom(signal);
    const i = pending.indexOf("\n");
    if (i < 0) {
      const rest = pending;
      pending = "";
      return rest.length ? rest : undefined;
    }
    const line = pending.slice(0, i).replace(/\r$/, "");
    pending = pending.slice(i + 1);
    return line;
  };
}

/** Wraps `Deno.stdin`. `readLine` reads one line typed at the terminal; Ctrl-C cancels it. */
export function denoInput(): Input {
  const isTTY = Deno.stdin.isTerminal();
  return {
    isTTY,
    get readable() {
      return Deno.stdin.readable;
    },
    readLine: lineReader(Deno.stdin),
  };
}

/** Options of {@linkcode CoalescingWriter}. */
export interface CoalescingOptions {
  /** Queued text that starts a write at once instead of waiting (default 64 Ki characters). */
  maxPending?: number;
  /** Least time between two writes, ms (default 16: one frame of a 60 Hz terminal). */
  minIntervalMs?: number;
}

/**
 * Writes text to an {@linkcode Output} in few, large writes: pieces queued
 * while the program is busy (a burst of stream events parsed back to back)
 * are joined and written once the current task ends — at most one write per
 * 16 ms, sooner when 64 Ki characters are queued; pieces queued while a
 * write is in flight go out with the next one. The caller never waits for
 * the terminal, and 10,000 deltas cost a handful of writes, not 10,000 (a
 * write is an async OS call: tens of microseconds each). A failed write
 * (closed terminal, full disk) is kept and rethrown by
 * {@linkcode CoalescingWriter.throwIfFailed} and {@linkcode CoalescingWriter.flush}.
 *
 * @example
 * ```ts
 * const out = new CoalescingWriter(ctx.stdout);
 * for (const delta of deltas) out.write(delta);
 * await out.flush();
 * ```
 */
export class CoalescingWriter {
  #pending: string[] = [];
  #pendingLength = 0;
  #cancelTimer: (() => void) | undefined;
  #draining: Promise<void> | undefined;
  #error: unknown;
  #lastWrite = -Infinity;
  #flushing = false;
  readonly #maxPending: number;
  readonly #minInterval: number;

  /** Wraps `output`. */
  constructor(readonly output: Output, options: CoalescingOptions = {}) {
    this.#maxPending = options.maxPending ?? 64 * 1024;
    this.#minInterval = options.minIntervalMs ?? 16;
  }

  /** Queues `text`; it is written when the current task ends (or at once past `maxPending`). */
  write(text: string): void {
    if (!text || this.#error !== undefined) return;
    this.#pending.push(text);
    this.#pendingLength += text.length;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#draining || this.#pending.length === 0) return; // a running write reschedules
    if (this.#pendingLength >= this.#maxPending) this.#startDrain();
    else if (this.#cancelTimer === undefined) {
      const wait = Math.max(0, this.#lastWrite + this.#minInterval - performance.now());
      this.#cancelTimer = startTimer(wait, () => this.#startDrain());
    }
  }

  /** Rethrows the error of a failed write, if any. */
  throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /** Writes everything queued now; resolves when it is written. */
  async flush(): Promise<void> {
    this.#flushing = true;
    try {
      if (this.#pending.length) this.#startDrain();
      while (this.#draining) await this.#draining;
    } finally {
      this.#flushing = false;
    }
    this.throwIfFailed();
  }

  #startDrain(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    if (this.#pending.length) this.#draining ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      const text = this.#pending.length === 1 ? this.#pending[0] : this.#pending.join("");
      this.#pending = [];
      this.#pendingLength = 0;
      this.#lastWrite = performance.now();
      await this.output.write(text);
    } catch (error) {
      this.#error ??= error;
      this.#pending = [];
      this.#pendingLength = 0;
    } finally {
      this.#draining = undefined;
    }
    // What arrived during the write waits for its turn, unless flush() wants it now.
    if (this.#flushing) this.#startDrain();
    else this.#schedule();
  }
}
