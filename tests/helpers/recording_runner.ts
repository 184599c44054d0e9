/**
 * A {@linkcode ProcessRunner} wrapper that records every child's command,
 * argv and stdin, for tests that prove secrets travel on stdin only.
 *
 * @module
 */
import type { ProcessRunner, RunOptions } from "../../lib/process.ts";

/** One recorded spawn. */
export interface RecordedSpawn {
  cmd: string;
  args: string[];
  /** Whether anything was written to stdin (the content is kept for assertions). */
  stdin?: string;
}

/** A runner that records spawns and delegates to `inner`. */
export interface RecordingRunner extends ProcessRunner {
  readonly spawns: RecordedSpawn[];
  /** Every argv element of every spawn, joined with NUL (search it for secrets). */
  argvText(): string;
}

/**
 * Wraps `inner`; `extra` options (e.g. `env`) are merged into every call.
 *
 * @example
 * ```ts
 * const runner = recordingRunner(createProcessRunner());
 * await keyring.save("s", "a", "SECRET");
 * assert.ok(!runner.argvText().includes("SECRET"));
 * ```
 */
export function recordingRunner(inner: ProcessRunner, extra: RunOptions = {}): RecordingRunner {
  const spawns: RecordedSpawn[] = [];
  const decoder = new TextDecoder();
  return {
    spawns,
    argvText: () => spawns.map((s) => [s.cmd, ...s.args].join("\0")).join("\0"),
    run(cmd, args, options = {}) {
      const stdin = options.stdin === undefined
        ? undefined
        : typeof options.stdin === "string"
        ? options.stdin
        : decoder.decode(options.stdin);
      spawns.push({ cmd, args: [...args], stdin });
      return inner.run(cmd, args, {
        ...options,
        ...extra,
        env: { ...options.env, ...extra.env },
      });
    },
  };
}
