/**
 * An in-process {@linkcode ProcessRunner} that answers like `secret-tool`
 * 0.20.5 and `dbus-send` (keychains.md §3), without spawning anything: for
 * unit tests of error mapping and for measuring cdx's own per-operation cost
 * (bench/keyring_bench.ts). The real daemon is covered by
 * tests/keyring_secret_tool_test.ts.
 *
 * @module
 */
import type { ProcessResult, ProcessRunner, RunOptions } from "../../lib/process.ts";

/** What the fake Secret Service is doing. */
export type FakeSecretServiceState =
  | "unlocked"
  | "locked"
  | "no-bus"
  | "no-provider";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array();

function result(code: number, stdout = "", stderr = ""): ProcessResult {
  return {
    code,
    signal: null,
    stdout: stdout ? encoder.encode(stdout) : EMPTY,
    stderr: stderr ? encoder.encode(stderr) : EMPTY,
  };
}

/** Items keyed by their sorted attribute pairs. */
export class FakeSecretToolRunner implements ProcessRunner {
  readonly items = new Map<string, Uint8Array>();
  state: FakeSecretServiceState = "unlocked";
  /** Store only the first `truncateAt` bytes, like secret-tool (8192). */
  truncateAt = 8192;
  /** When set, `store` keeps this many bytes less than given (a lossy keychain). */
  corruptStores = false;
  calls = 0;

  static #key(pairs: readonly string[]): string {
    const entries: string[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) entries.push(`${pairs[i]}=${pairs[i + 1]}`);
    return entries.sort().join("\0");
  }

  run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
    this.calls++;
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return Promise.resolve(this.#answer(cmd, args, options));
  }

  #answer(cmd: string, args: readonly string[], options: RunOptions): ProcessResult {
    if (this.state === "no-bus") {
      return result(1, "", "secret-tool: Cannot autolaunch D-Bus without X11 $DISPLAY\n");
    }
    if (this.state === "no-provider") {
      return result(
        1,
        "",
        "secret-tool: The name org.freedesktop.secrets was not provided by any .service files\n",
      );
    }
    if (cmd.endsWith("dbus-send")) {
      return result(
        0,
        `method return time=1 sender=:1.1 -> destination=:1.2 serial=3 reply_serial=2\n   variant       boolean ${
          this.state === "locked"
        }\n`,
      );
    }
    const [verb, ...rest] = args;
    const locked = this.state === "locked";
    switch (verb) {
      case "store": {
        const pairs = rest.filter((a) => !a.startsWith("--"));
        if (locked) {
          return result(1, "", "secret-tool: Cannot create an item in a locked collection\n");
        }
        let bytes = typeof options.stdin === "string"
          ? encoder.encode(options.stdin)
          : options.stdin ?? EMPTY;
        let stderr = "";
        if (bytes.length >= this.truncateAt) {
          bytes = bytes.slice(0, this.truncateAt);
          stderr = "secret-tool: password is too long\n";
        }
        if (this.corruptStores) bytes = bytes.slice(0, Math.max(0, bytes.length - 1));
        this.items.set(FakeSecretToolRunner.#key(pairs), bytes);
        return result(0, "", stderr);
      }
      case "lookup": {
        const value = locked ? undefined : this.items.get(FakeSecretToolRunner.#key(rest));
        return value === undefined ? result(1) : { ...result(0), stdout: value };
      }
      case "clear":
        if (locked) return result(1);
        return this.items.delete(FakeSecretToolRunner.#key(rest)) ? result(0) : result(1);
      case "search":
        return locked
          ? result(0, "", "secret-tool: Cannot get secret of a locked object\n")
          : result(0);
      default:
        return result(2, "", "usage: secret-tool …\n");
    }
  }

  /** The stored value for a codex attribute set, as text. */
  peek(pairs: readonly string[]): string | undefined {
    const value = this.items.get(FakeSecretToolRunner.#key(pairs));
    return value === undefined ? undefined : decoder.decode(value);
  }
}
