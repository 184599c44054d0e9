/**
 * The Context: everything a command receives. `lib/` reads no globals
 * (`Deno.env`, `Deno.exit`, `console`); `cli.ts` builds the real Context and
 * tests build fakes with {@linkcode createTestContext}.
 *
 * @module
 */
import type { Logger } from "./logger.ts";
import { getLogger } from "./log.ts";
import type { ProcessRunner } from "./process.ts";
import { SecretRegistry } from "./secrets.ts";
import type { CdxConfig } from "./config.ts";
import { ExitHooks } from "./lifecycle.ts";
import { concatBytes } from "./bytes.ts";
import { type KeyringStore, KeyringUnavailableError } from "./keyring/store.ts";

/** Read access to environment variables. */
export interface Env {
  /** The variable's value, if set. */
  get(name: string): string | undefined;
  /** A snapshot of all variables (for diagnostics: callers print names only). */
  toObject(): Record<string, string>;
}

/** An output stream (stdout or stderr). */
export interface Output {
  /** Writes text or bytes; resolves when the bytes are handed to the OS. */
  write(data: string | Uint8Array): Promise<void>;
  /** Synchronous write, for log sinks. */
  writeSync(data: string | Uint8Array): void;
  /** Whether the stream is a terminal. */
  readonly isTTY: boolean;
  /** Whether ANSI colours may be used on it. */
  readonly color: boolean;
  /** Terminal width, when known. */
  readonly columns?: number;
}

/** The standard input. */
export interface Input {
  /** Whether stdin is a terminal. */
  readonly isTTY: boolean;
  /** The raw byte stream (read it once). */
  readonly readable: ReadableStream<Uint8Array>;
  /** Reads a line typed at the terminal (prompts); undefined at end of input. */
  readLine?(signal?: AbortSignal): Promise<string | undefined>;
}

/** Time, injectable for tests. */
export interface Clock {
  /** Wall clock, ms since the epoch. */
  now(): number;
  /** Monotonic clock, ms. */
  monotonic(): number;
}

export { LOG_LEVELS, type LogLevel } from "./logger.ts";
import type { LogLevel } from "./logger.ts";

/** Options that apply to every command. */
export interface GlobalOptions {
  /** `--codex-home` / `CODEX_HOME` / `~/.codex`, resolved to an absolute path. */
  codexHome: string;
  /** Console log level. */
  logLevel: LogLevel;
  /** Whether colour output is allowed (`--no-color`, `NO_COLOR`). */
  color: boolean;
  /**
   * A read-only command (`login status`): it writes nothing — no migration,
   * no config edit, no directory, no cdx.log block.
   */
  readOnly?: boolean;
}

/** What every command receives. */
export interface Context {
  /** Environment variables (read through here, never `Deno.env`). */
  readonly env: Env;
  /** Standard input. */
  readonly stdin: Input;
  /** Data: what scripts read. */
  readonly stdout: Output;
  /** Messages, warnings, errors, prompts. */
  readonly stderr: Output;
  /** HTTP (tests give a fake). */
  readonly fetch: typeof fetch;
  /** Wall and monotonic time. */
  readonly clock: Clock;
  /** Aborted by Ctrl-C / SIGTERM; every long operation takes it. */
  readonly signal: AbortSignal;
  /** Root logger, category `["cdx"]`; modules use `logger.getChild("auth")`. */
  readonly logger: Logger;
  /** `$CODEX_HOME/config.toml`, loaded once. */
  readonly config: CdxConfig;
  /** The only way to spawn children. */
  readonly runner: ProcessRunner;
  /** The OS keychain (created on first use; throws KeyringUnavailableError if none). */
  readonly keyring: () => KeyringStore;
  /** Secrets handled by this process, masked in logs, errors and bundles. */
  readonly secrets: SecretRegistry;
  /** The global options, resolved. */
  readonly globals: GlobalOptions;
  /** Work to run when the process ends (normal, error or Ctrl-C). */
  readonly exitHooks: ExitHooks;
  /** The command line as given (for log headers; mask secrets before printing). */
  readonly argv: readonly string[];
  /** cdx's version. */
  readonly version: string;
  /** OS cdx runs on (`Deno.build.os`, injectable for tests). */
  readonly os: typeof Deno.build.os;
  /** CPU architecture (`Deno.build.arch`, injectable for tests). */
  readonly arch: string;
}

const encoder = new TextEncoder();

/** An {@linkcode Output} that collects what is written, for tests. */
export class MemoryOutput implements Output {
  /** What was written, in order. */
  readonly chunks: Uint8Array[] = [];
  /** A non-terminal, colourless output unless told otherwise. */
  constructor(readonly isTTY = false, readonly color = false, readonly columns?: number) {}
  write(data: string | Uint8Array): Promise<void> {
    this.writeSync(data);
    return Promise.resolve();
  }
  writeSync(data: string | Uint8Array): void {
    this.chunks.push(typeof data === "string" ? encoder.encode(data) : data.slice());
  }
  /** Everything written so far, as text. */
  text(): string {
    return new TextDecoder().decode(concatBytes(this.chunks));
  }
}

/** An {@linkcode Env} over a plain object. */
export function mapEnv(vars: Record<string, string | undefined>): Env {
  const clean = Object.fromEntries(
    Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined),
  );
  return { get: (name) => clean[name], toObject: () => ({ ...clean }) };
}

/** An {@linkcode Input} over fixed bytes or text. */
export function memoryInput(data: string | Uint8Array = "", isTTY = false): Input {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return {
    isTTY,
    readable: new ReadableStream({
      start(controller) {
        if (bytes.length) controller.enqueue(bytes);
        controller.close();
      },
    }),
  };
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };

/** Overrides for {@linkcode createTestContext}. */
export type TestContextOptions = Partial<Omit<Context, "globals">> & {
  globals?: Partial<GlobalOptions>;
};

/**
 * A Context for tests: memory streams, an empty env, no config, a runner that
 * refuses to spawn unless one is given.
 *
 * @example
 * ```ts
 * const ctx = createTestContext({ env: mapEnv({ CODEX_HOME: dir }) });
 * await runLoginStatus(ctx, {});
 * assert.match((ctx.stderr as MemoryOutput).text(), /Not logged in/);
 * ```
 */
export function createTestContext(overrides: TestContextOptions = {}): Context {
  const { globals, ...rest } = overrides;
  return {
    env: mapEnv({}),
    stdin: memoryInput(),
    stdout: new MemoryOutput(),
    stderr: new MemoryOutput(),
    fetch: () => Promise.reject(new Error("no network in this test")),
    clock: systemClock,
    signal: new AbortController().signal,
    logger: getLogger(["cdx"]),
    config: { path: "", values: {} },
    runner: {
      run: (cmd) => Promise.reject(new Error(`test context: no runner for ${cmd}`)),
    },
    keyring: () => {
      throw new KeyringUnavailableError("test context: no keyring given");
    },
    secrets: new SecretRegistry(),
    exitHooks: new ExitHooks(),
    argv: [],
    version: "0.0.0-test",
    os: Deno.build.os,
    arch: Deno.build.arch,
    ...rest,
    globals: {
      codexHome: "/nonexistent/.codex",
      logLevel: "warn",
      color: false,
      ...globals,
    },
  };
}
