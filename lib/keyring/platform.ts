/**
 * The OS keychain of this machine, loaded on first use: creating it loads
 * and spawns nothing, so a command that never touches the keychain (a file
 * store, an API key in the environment) never pays for its backend modules.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { ProcessRunner } from "../process.ts";
import type { KeyringStore } from "./store.ts";
import type { SecretSink } from "./chunked.ts";

/** What the platform backends need. */
export interface KeyringOptions {
  /** Picks the backend: macOS keychain, Windows Credential Manager, else Secret Service. */
  os: typeof Deno.build.os;
  /** Spawns the keychain tools (`secret-tool`, `dbus-send`, `security`). */
  runner: ProcessRunner;
  /** The parent environment; children get only the variables a keychain tool needs. */
  env: { get(name: string): string | undefined };
  /** Aborting interrupts a keychain call at once. */
  signal?: AbortSignal;
  /** Bound on each keychain call, ms (default 3000). */
  timeoutMs?: number;
  /** Read every saved value back and compare (default true). */
  verifySaves?: boolean;
  /** Debug lines from the backend and the chunking wrapper (never values). */
  logger?: Logger;
  /** Every value loaded or saved is registered here (pass the Context's `secrets`). */
  secrets?: SecretSink;
  /**
   * Told when a keychain operation starts; the function it returns, when it
   * ends. cli.ts shows a progress line for a slow one (the keychain may be
   * asking the user to unlock it).
   */
  onCall?: (operation: "load" | "save" | "delete") => () => void;
}

/** The backend's name per OS, known without loading it. */
function describeFor(os: typeof Deno.build.os): string {
  switch (os) {
    case "darwin":
      return "macOS keychain (security)";
    case "windows":
      return "Windows Credential Manager";
    default:
      return "Secret Service (secret-tool)";
  }
}

async function load(options: KeyringOptions): Promise<KeyringStore> {
  const { ChunkedKeyringStore } = await import("./chunked.ts");
  const chunking = { logger: options.logger, secrets: options.secrets };
  switch (options.os) {
    case "darwin": {
      const { SecurityKeyring } = await import("./security.ts");
      return new ChunkedKeyringStore(new SecurityKeyring(options), chunking);
    }
    case "windows": {
      const { WindowsKeyring } = await import("./windows.ts");
      return new ChunkedKeyringStore(new WindowsKeyring(options), {
        ...chunking,
        chunkWrites: true,
      });
    }
    default: {
      const { SecretToolKeyring } = await import("./secret_tool.ts");
      return new ChunkedKeyringStore(new SecretToolKeyring(options), chunking);
    }
  }
}

/**
 * The OS keychain for `options.os`, wrapped for chunked items (see
 * keyring/mod.ts). Creating it loads and spawns nothing; a missing tool shows
 * up as `KeyringUnavailableError` on first use.
 *
 * @example
 * ```ts
 * const keyring = createPlatformKeyring({ os: Deno.build.os, runner, env: ctx.env, signal: ctx.signal });
 * const auth = await keyring.load("Codex Auth", "cli|9ba275091964248d");
 * ```
 */
export function createPlatformKeyring(options: KeyringOptions): KeyringStore {
  let store: Promise<KeyringStore> | undefined;
  const get = () => store ??= load(options);
  const around = async <T>(operation: "load" | "save" | "delete", call: () => Promise<T>) => {
    const done = options.onCall?.(operation);
    try {
      return await call();
    } finally {
      done?.();
    }
  };
  return {
    describe: () => describeFor(options.os),
    verifiesSaves: options.verifySaves !== false,
    load: (service, account) => around("load", async () => (await get()).load(service, account)),
    save: (service, account, value) =>
      around("save", async () => (await get()).save(service, account, value)),
    delete: (service, account) =>
      around("delete", async () => (await get()).delete(service, account)),
    fits: async (service, account, value) =>
      (await (await get()).fits?.(service, account, value)) ?? true,
  };
}
