/**
 * Public surface of the keyring module: the {@linkcode KeyringStore}
 * interface, its errors, the memory store, and the platform backend factory.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { ProcessRunner } from "../process.ts";
import { type KeyringStore, KeyringUnavailableError } from "./store.ts";

export * from "./store.ts";
export { MockKeyringStore } from "./memory.ts";

/** What the platform backends need. */
export interface KeyringOptions {
  os: typeof Deno.build.os;
  runner: ProcessRunner;
  env: { get(name: string): string | undefined };
  /** Aborting interrupts a keychain call at once. */
  signal?: AbortSignal;
  /** Bound on each keychain call, ms (default 3000). */
  timeoutMs?: number;
  logger?: Logger;
}

/** The OS keychain for `options.os`. */
export function createPlatformKeyring(_options: KeyringOptions): KeyringStore {
  throw new KeyringUnavailableError("OS keychain backends are not implemented yet");
}
