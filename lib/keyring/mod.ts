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
export { createPlatformKeyring, type KeyringOptions } from "./platform.ts";
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
