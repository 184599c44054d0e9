/**
 * The real standard streams, wrapped as Context {@linkcode Output} /
 * {@linkcode Input}. Only `cli.ts` creates them.
 *
 * @module
 */
import type { Input, Output } from "./context.ts";

const encoder = new TextEncoder();

type Writer = {
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

/** Wraps `Deno.stdin`. `readLine` reads one line typed at the terminal. */
export function denoInput(): Input {
  const isTTY = Deno.stdin.isTerminal();
  let pending = "";
  const decoder = new TextDecoder();
  return {
    isTTY,
    get readable() {
      return Deno.stdin.readable;
    },
    async readLine(signal) {
      const buf = new Uint8Array(1024);
      while (!pending.includes("\n")) {
        if (signal?.aborted) return undefined;
        const n = await Deno.stdin.read(buf);
        if (n === null) {
          const rest = pending;
          pending = "";
          return rest.length ? rest : undefined;
        }
        pending += decoder.decode(buf.subarray(0, n), { stream: true });
      }
      const i = pending.indexOf("\n");
      const line = pending.slice(0, i).replace(/\r$/, "");
      pending = pending.slice(i + 1);
      return line;
    },
  };
}
