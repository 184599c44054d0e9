/**
 * Public surface of the keyring module: the {@linkcode KeyringStore}
 * interface, its errors, the memory store, and the platform backend factory.
 *
 * | OS | Keychain | Through |
 * | --- | --- | --- |
 * | Linux (and other Unix) | Secret Service (gnome-keyring, KeePassXC, …) | `secret-tool`; values over 8 KiB over D-Bus directly |
 * | macOS | login keychain | `/usr/bin/security` |
 * | Windows | Credential Manager | advapi32 `CredReadW`/`CredWriteW`/`CredDeleteW` (FFI) |
 *
 * Every backend is wrapped in {@linkcode ChunkedKeyringStore}: it reads the
 * chunked items older versions wrote; only on Windows (2560-byte items) does
 * it write chunks, elsewhere a value that does not fit is a
 * `KeyringTooLargeError` (codex reads one item, never chunks). On Linux one
 * item holds up to 1 MiB: values `secret-tool` would truncate are written
 * over D-Bus directly, as codex does.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { ProcessRunner } from "../process.ts";
import type { KeyringStore } from "./store.ts";
import { ChunkedKeyringStore, type SecretSink } from "./chunked.ts";
import { SecretToolKeyring } from "./secret_tool.ts";
import { SecurityKeyring } from "./security.ts";
import { WindowsKeyring } from "./windows.ts";

export * from "./store.ts";
export { MockKeyringStore } from "./memory.ts";
export type { FailureRule, InjectedFailure, KeyringCall, KeyringOperation } from "./memory.ts";
export {
  chunkAccount,
  CHUNKED_HEADER_PREFIX,
  type ChunkedKeyringOptions,
  ChunkedKeyringStore,
  GENERATION_HEADER_PREFIX,
  generationChunkAccount,
  parseChunkHeader,
  type RawKeyring,
  type SecretSink,
} from "./chunked.ts";
export {
  codexAttributeMap,
  codexAttributes,
  codexLabel,
  SECRET_SERVICE_MAX_BYTES,
  SECRET_TOOL_MAX_BYTES,
  SecretToolKeyring,
} from "./secret_tool.ts";
export { storeSecretOverDbus, type StoreSecretOverDbusOptions } from "./secret_service_dbus.ts";
export { SecurityKeyring } from "./security.ts";
export { WindowsKeyring, windowsTargetName } from "./windows.ts";
export { DEFAULT_KEYRING_TIMEOUT_MS } from "./tool.ts";

/** What the platform backends need. */
export interface KeyringOptions {
  os: typeof Deno.build.os;
  runner: ProcessRunner;
  env: { get(name: string): string | undefined };
  /** Aborting interrupts a keychain call at once. */
  signal?: AbortSignal;
  /** Bound on each keychain call, ms (default 3000). */
  timeoutMs?: number;
  /** Read every saved value back and compare (default true). */
  verifySaves?: boolean;
  logger?: Logger;
  /** Every value loaded or saved is registered here (pass the Context's `secrets`). */
  secrets?: SecretSink;
}

/**
 * The OS keychain for `options.os`, wrapped for chunked items. Creating it spawns
 * nothing; a missing tool shows up as `KeyringUnavailableError` on first use.
 *
 * @example
 * ```ts
 * const keyring = createPlatformKeyring({ os: Deno.build.os, runner, env: ctx.env, signal: ctx.signal });
 * const auth = await keyring.load("Codex Auth", "cli|9ba275091964248d");
 * ```
 */
export function createPlatformKeyring(options: KeyringOptions): KeyringStore {
  const { os, logger, secrets } = options;
  const chunking = { logger, secrets };
  switch (os) {
    case "darwin":
      return new ChunkedKeyringStore(new SecurityKeyring(options), chunking);
    case "windows":
      return new ChunkedKeyringStore(new WindowsKeyring(options), {
        ...chunking,
        chunkWrites: true,
      });
    default:
      return new ChunkedKeyringStore(new SecretToolKeyring(options), chunking);
  }
}
