/**
 * The real standard streams, wrapped as Context {@linkcode Output} /
 * {@linkcode Input}. Only `cli.ts` creates them.
 *
 * @module
 */
import type { Input, Output } from "./context.ts";
import { cancelledFrom, orCancel } from "./cancel.ts";

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
