/**
 * The single place where cdx spawns child processes.
 *
 * Secrets go to a child on stdin, never in argv; stdin is never logged; argv
 * is logged at debug. On abort or timeout the child gets SIGTERM, then SIGKILL
 * after a short grace, and is always awaited, so no zombie is left behind.
 *
 * @module
 */
import type { Logger } from "./logger.ts";
import { concatBytes } from "./bytes.ts";
import { abortError, CancelledError, TimeoutError } from "./cancel.ts";
import { startTimer } from "./timer.ts";

/** Options of {@linkcode ProcessRunner.run}. */
export interface RunOptions {
  /** Bytes or text written to the child's stdin, then closed. Never logged. */
  stdin?: string | Uint8Array;
  /** Extra environment variables for the child. */
  env?: Record<string, string>;
  /** Start from an empty environment plus `env` (default: inherit). */
  clearEnv?: boolean;
  /** Working directory. */
  cwd?: string;
  /** Kill the child and reject with {@linkcode TimeoutError} after this many ms. */
  timeoutMs?: number;
  /** Message of the {@linkcode TimeoutError}. */
  timeoutMessage?: string;
  /** Kill the child and reject with {@linkcode CancelledError} when aborted. */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL, ms (default 200). */
  killGraceMs?: number;
}

/** What a finished child left behind. */
export interface ProcessResult {
  /** Exit code (128+N when killed by signal N). */
  code: number;
  /** The signal that ended the child, if any. */
  signal: Deno.Signal | null;
  /** Everything it wrote to stdout. */
  stdout: Uint8Array;
  /** Everything it wrote to stderr. */
  stderr: Uint8Array;
}

/** Spawns children. The real one is {@linkcode createProcessRunner}; tests wrap or fake it. */
export interface ProcessRunner {
  /** Runs `cmd` with `args` to its end (or until the signal or the timeout stops it). */
  run(cmd: string, args: readonly string[], options?: RunOptions): Promise<ProcessResult>;
}

/**
 * The executable does not exist (or is not on PATH), or cdx is not allowed to
 * run it.
 */
export class ExecutableNotFoundError extends Error {
  /** The command that could not be started. */
  readonly command: string;
  /** `detail`: why it could not start (a permission message), when known. */
  constructor(command: string, detail?: string) {
    super(`${command}: not found${detail ? ` (${detail})` : ""}`);
    this.name = "ExecutableNotFoundError";
    this.command = command;
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Decodes a child's output as UTF-8 text. */
export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Reads a stream to its end; `cancel()` stops early (a grandchild may hold the pipe open). */
function collect(
  stream: ReadableStream<Uint8Array>,
): { done: Promise<Uint8Array>; cancel(): void } {
  const reader = stream.getReader();
  const done = (async () => {
    const chunks: Uint8Array[] = [];
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    return concatBytes(chunks);
  })();
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}

async function feedStdin(child: Deno.ChildProcess, input: Uint8Array): Promise<void> {
  const writer = child.stdin.getWriter();
  try {
    await writer.write(input);
    await writer.close();
  } catch {
    // The child closed stdin early (exited or does not read it); its exit
    // status tells what happened.
    try {
      writer.releaseLock();
    } catch { /* already released */ }
  }
}

/**
 * Creates the real runner over `Deno.Command`.
 *
 * @example
 * ```ts
 * const runner = createProcessRunner(logger);
 * const { code, stdout } = await runner.run("secret-tool", ["lookup", "k", "v"], { timeoutMs: 3000, signal });
 * ```
 */
export function createProcessRunner(logger?: Logger): ProcessRunner {
  return {
    async run(cmd, args, options = {}) {
      const { signal, timeoutMs } = options;
      if (signal?.aborted) throw abortError(signal);
      logger?.debug("spawn {cmd} {args}", { cmd, args: [...args] });
      const started = performance.now();
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command(cmd, {
          args: [...args],
          stdin: options.stdin === undefined ? "null" : "piped",
          stdout: "piped",
          stderr: "piped",
          env: options.env,
          clearEnv: options.clearEnv,
          cwd: options.cwd,
        }).spawn();
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) throw new ExecutableNotFoundError(cmd);
        if (
          error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
        ) {
          throw new ExecutableNotFoundError(cmd, (error as Error).message);
        }
        throw error;
      }
      let stopReason: CancelledError | TimeoutError | undefined;
      let cancelKill: (() => void) | undefined;
      const stop = (reason: CancelledError | TimeoutError) => {
        if (stopReason) return;
        stopReason = reason;
        try {
          child.kill("SIGTERM");
        } catch { /* already exited */ }
        cancelKill = startTimer(options.killGraceMs ?? 200, () => {
          try {
            child.kill("SIGKILL");
          } catch { /* already exited */ }
        });
      };
      const onAbort = () => stop(abortError(signal!));
      signal?.addEventListener("abort", onAbort, { once: true });
      // startTimer, not setTimeout: the first setTimeout of a process costs ~20 ms (lib/timer.ts).
      const cancelTimeout = timeoutMs === undefined
        ? undefined
        : startTimer(timeoutMs, () => stop(new TimeoutError(timeoutMs, options.timeoutMessage)));
      try {
        const input = options.stdin;
        const out = collect(child.stdout);
        const err = collect(child.stderr);
        const fed = input === undefined
          ? Promise.resolve()
          : feedStdin(child, typeof input === "string" ? encoder.encode(input) : input);
        const status = await child.status;
        if (stopReason) {
          out.cancel();
          err.cancel();
          await Promise.allSettled([out.done, err.done, fed]);
          throw stopReason;
        }
        const [stdout, stderr] = await Promise.all([out.done, err.done, fed]);
        logger?.debug("exit {cmd} code={code} in {ms} ms", {
          cmd,
          code: status.code,
          ms: Math.round(performance.now() - started),
        });
        return { code: status.code, signal: status.signal, stdout, stderr };
      } finally {
        cancelTimeout?.();
        cancelKill?.();
        signal?.removeEventListener("abort", onAbort);
      }
    },
  };
}
