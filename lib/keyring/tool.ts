/**
 * Runs a keychain tool (`secret-tool`, `security`, `dbus-send`) through the
 * process runner with the keychain's time bound and the Context signal, and
 * turns the runner's failures into keyring errors:
 *
 * - the tool is missing (or not allowed) → {@linkcode KeyringUnavailableError} with an install hint;
 * - the per-call bound expires → {@linkcode KeyringTimeoutError} (the child is killed);
 * - the Context signal aborts → the runner's `CancelledError` passes through untouched.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import { formatMs, TimeoutError } from "../cancel.ts";
import { ExecutableNotFoundError, type ProcessResult, type ProcessRunner } from "../process.ts";
import { KeyringTimeoutError, KeyringUnavailableError } from "./store.ts";

/** Default bound on one keychain call, ms (GitHub CLI uses the same 3 s). */
export const DEFAULT_KEYRING_TIMEOUT_MS = 3000;

/** Options of {@linkcode KeyringTool}. */
export interface KeyringToolOptions {
  /** Spawns the tool (the Context's process runner, or a fake in tests). */
  runner: ProcessRunner;
  /** Aborting it kills the child at once; the `CancelledError` is rethrown as is. */
  signal?: AbortSignal;
  /** Bound on each call, ms (default {@linkcode DEFAULT_KEYRING_TIMEOUT_MS}). */
  timeoutMs?: number;
  /**
   * The parent's environment. Children get only {@linkcode KEYCHAIN_CHILD_ENV}
   * from it (never `OPENAI_API_KEY` and friends).
   */
  env?: { get(name: string): string | undefined };
  /** What to say when the tool is missing. */
  installHint: string;
  /** Backend name for messages, e.g. `"Secret Service"`. */
  keychainName: string;
  /** Not used by KeyringTool today; accepted so the backends can pass their options through. */
  logger?: Logger;
}

/**
 * The variables a keychain tool may need: finding programs and the user's
 * keychain, the session bus, the locale. Nothing else of cdx's environment
 * (API keys, tokens) reaches a child.
 */
export const KEYCHAIN_CHILD_ENV: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LC_ALL",
  "LC_CTYPE",
  "TMPDIR",
  "XDG_RUNTIME_DIR",
  "DBUS_SESSION_BUS_ADDRESS",
  "DISPLAY",
  "WAYLAND_DISPLAY",
];

/** The minimal environment of a keychain child, from the parent's. */
export function keychainChildEnv(
  env: { get(name: string): string | undefined } | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEYCHAIN_CHILD_ENV) {
    const value = env?.get(name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** One keychain tool, bound to its timeout, signal and environment. */
export class KeyringTool {
  readonly #options: KeyringToolOptions;
  /** Number of children spawned so far (for the benchmark and tests). */
  spawns = 0;

  /** Nothing is spawned until {@linkcode KeyringTool.run} is called. */
  constructor(options: KeyringToolOptions) {
    this.#options = options;
  }

  /** The per-call bound, ms. */
  get timeoutMs(): number {
    return this.#options.timeoutMs ?? DEFAULT_KEYRING_TIMEOUT_MS;
  }

  /**
   * Runs `cmd args…` with `stdin` (the secret, if any — never argv).
   * `what` names the operation in messages (`"load"`, `"save"`, …).
   */
  async run(
    cmd: string,
    args: readonly string[],
    what: string,
    stdin?: string,
  ): Promise<ProcessResult> {
    const { runner, signal, env } = this.#options;
    const timeoutMs = this.timeoutMs;
    this.spawns++;
    try {
      return await runner.run(cmd, args, {
        stdin,
        env: keychainChildEnv(env),
        clearEnv: true,
        signal,
        timeoutMs,
        timeoutMessage: `${this.#options.keychainName}: ${what} timed out`,
      });
    } catch (error) {
      if (error instanceof ExecutableNotFoundError) {
        throw new KeyringUnavailableError(
          `${this.#options.keychainName} is not available: ${cmd} not found`,
          { hint: this.#options.installHint, cause: error },
        );
      }
      // Our own bound expired (not a deadline the caller's signal carried).
      if (error instanceof TimeoutError && !signal?.aborted) {
        throw new KeyringTimeoutError(
          `${this.#options.keychainName} did not answer within ${formatMs(timeoutMs)} (${what})`,
          { cause: error },
        );
      }
      throw error;
    }
  }
}

const decoder = new TextDecoder();

/** A child's stderr as one trimmed line for messages (tool messages never contain the secret). */
export function toolMessage(result: ProcessResult): string {
  return decoder.decode(result.stderr).trim().replace(/\s*\n\s*/g, "; ");
}
