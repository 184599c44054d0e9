/**
 * Linux backend: the Secret Service through libsecret's `secret-tool`.
 *
 * Items carry the attributes and label codex (keyring-rs v3.6.3) writes, so
 * each tool finds and replaces the other's items. The secret goes on stdin
 * and is stored verbatim. `secret-tool store` silently keeps only the first
 * 8192 bytes, so a longer value is written as one item over D-Bus directly
 * ({@linkcode storeSecretOverDbus}), as codex does — never in chunks, which
 * codex cannot read. Every save is read back and compared.
 *
 * `lookup`/`clear` exit 1 silently both for "no such item" and for "the
 * collection is locked": only on that path the collection's `Locked`
 * property is read (via `dbus-send`, else `secret-tool search`), so a locked
 * keychain is a {@linkcode KeyringLockedError}, never "absent".
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { ProcessRunner } from "../process.ts";
import type { RawKeyring } from "./chunked.ts";
import { SECRET_SERVICE_LOCKED_HINT, storeSecretOverDbus } from "./secret_service_dbus.ts";
import { KeyringError, KeyringLockedError, KeyringUnavailableError, verifySaved } from "./store.ts";
import { KeyringTool, toolMessage } from "./tool.ts";

/** Largest value `secret-tool store` keeps whole (it truncates at 8192 bytes); longer ones go over D-Bus. */
export const SECRET_TOOL_MAX_BYTES = 8191;

/**
 * Largest value cdx stores in one Secret Service item (its `maxValueSize`);
 * a longer one is a `KeyringTooLargeError`, never chunks.
 */
export const SECRET_SERVICE_MAX_BYTES = 1 << 20;

/** keyring-rs version whose label codex writes. */
export const KEYRING_RS_VERSION = "3.6.3";

/** What to do when there is no Secret Service. */
export const SECRET_SERVICE_HINT: string =
  "install libsecret-tools and a Secret Service provider (gnome-keyring or KeePassXC) and run inside a desktop or D-Bus session, " +
  'or set cli_auth_credentials_store = "file" in $CODEX_HOME/config.toml';

/** The attribute set codex's keyring-rs uses. */
export function codexAttributeMap(service: string, account: string): Record<string, string> {
  return { application: "rust-keyring", service, target: "default", username: account };
}

/** The attribute set codex's keyring-rs uses, as `secret-tool` arguments. */
export function codexAttributes(service: string, account: string): string[] {
  return Object.entries(codexAttributeMap(service, account)).flat();
}

/** The label keyring-rs v3 gives an item. */
export function codexLabel(service: string, account: string): string {
  return `${account}@${service}:default (keyring v${KEYRING_RS_VERSION})`;
}

/** Options of {@linkcode SecretToolKeyring}. */
export interface SecretToolOptions {
  /** Spawns `secret-tool` and `dbus-send`. */
  runner: ProcessRunner;
  /** The parent environment; children get only the variables a keychain tool needs. */
  env?: { get(name: string): string | undefined };
  /** Aborting stops the keychain call at once (`CancelledError`). */
  signal?: AbortSignal;
  /** Bound on each `secret-tool` call, ms (default 3000). */
  timeoutMs?: number;
  /** Read every saved value back and compare (default true). */
  verifySaves?: boolean;
  /** Program names (tests point them at fakes). */
  secretTool?: string;
  /** Program name of `dbus-send` (tests point it at fakes). */
  dbusSend?: string;
  /** Debug lines about the locked check and D-Bus writes. */
  logger?: Logger;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Messages that mean there is no usable Secret Service at all. */
const UNAVAILABLE_PATTERNS = [
  /Cannot autolaunch D-Bus/i,
  /dbus-launch/i,
  /Could not connect/i,
  /not provided by any \.service files/i,
  /Object does not exist at path/i,
  /No such interface/i,
  /ServiceUnknown/i,
];

/**
 * The Secret Service through `secret-tool`, one item per (service, account).
 *
 * @example
 * ```ts
 * const raw = new SecretToolKeyring({ runner: createProcessRunner(), env: ctx.env, signal: ctx.signal });
 * await raw.save("Codex Auth", "cli|0123456789abcdef", '{"auth_mode":"apikey"}');
 * ```
 */
export class SecretToolKeyring implements RawKeyring {
  readonly #tool: KeyringTool;
  readonly #secretTool: string;
  readonly #dbusSend: string;
  readonly #verify: boolean;
  readonly #logger?: Logger;
  readonly #options: SecretToolOptions;

  /** A backend bound to the runner, environment, signal and time bound of `options`. */
  constructor(options: SecretToolOptions) {
    this.#tool = new KeyringTool({
      runner: options.runner,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      env: options.env,
      installHint: SECRET_SERVICE_HINT,
      keychainName: "Secret Service",
      logger: options.logger,
    });
    this.#secretTool = options.secretTool ?? "secret-tool";
    this.#dbusSend = options.dbusSend ?? "dbus-send";
    this.#verify = options.verifySaves ?? true;
    this.#logger = options.logger;
    this.#options = options;
  }

  /** Children spawned so far. */
  get spawns(): number {
    return this.#tool.spawns;
  }

  /** Whether `save` reads the item back. */
  get verifiesSaves(): boolean {
    return this.#verify;
  }

  describe(): string {
    return "Secret Service (secret-tool)";
  }

  maxValueSize(): number {
    return SECRET_SERVICE_MAX_BYTES;
  }

  valueSize(value: string): number {
    return encoder.encode(value).length;
  }

  load(service: string, account: string): Promise<string | undefined> {
    return this.#lookup(service, account, true);
  }

  /** `load` without the locked check: a locked item reads as absent (see {@linkcode RawKeyring.peek}). */
  peek(service: string, account: string): Promise<string | undefined> {
    return this.#lookup(service, account, false);
  }

  async #lookup(
    service: string,
    account: string,
    checkLocked: boolean,
  ): Promise<string | undefined> {
    const result = await this.#tool.run(
      this.#secretTool,
      ["lookup", ...codexAttributes(service, account)],
      "load",
    );
    if (result.code === 0) return decoder.decode(result.stdout);
    if (result.code === 1 && toolMessage(result) === "") {
      if (checkLocked) await this.#throwIfLocked(service, account, "load");
      return undefined;
    }
    throw this.#failure(result, "load");
  }

  async save(service: string, account: string, value: string): Promise<void> {
    if (this.valueSize(value) > SECRET_TOOL_MAX_BYTES) {
      await storeSecretOverDbus({
        env: this.#options.env ?? { get: () => undefined },
        attributes: codexAttributeMap(service, account),
        label: codexLabel(service, account),
        secret: value,
        signal: this.#options.signal,
        timeoutMs: this.#options.timeoutMs,
      });
      this.#logger?.debug("secret-tool save: {bytes} bytes written over D-Bus", {
        bytes: this.valueSize(value),
      });
    } else {
      await this.#storeWithTool(service, account, value);
    }
    if (this.#verify) await verifySaved(() => this.load(service, account), value, "Secret Service");
  }

  async #storeWithTool(service: string, account: string, value: string): Promise<void> {
    const result = await this.#tool.run(
      this.#secretTool,
      ["store", `--label=${codexLabel(service, account)}`, ...codexAttributes(service, account)],
      "save",
      value,
    );
    const message = toolMessage(result);
    if (result.code !== 0) throw this.#failure(result, "save");
    if (/too long/i.test(message)) {
      throw new KeyringError(`Secret Service truncated the value: ${message}`);
    }
  }

  async delete(service: string, account: string): Promise<boolean> {
    const result = await this.#tool.run(
      this.#secretTool,
      ["clear", ...codexAttributes(service, account)],
      "delete",
    );
    if (result.code === 0) return true;
    if (result.code === 1 && toolMessage(result) === "") {
      await this.#throwIfLocked(service, account, "delete");
      return false;
    }
    throw this.#failure(result, "delete");
  }

  /** Maps a failed `secret-tool` run to a typed error carrying its message. */
  #failure(result: { code: number; stderr: Uint8Array }, what: string): KeyringError {
    const message = toolMessage(result as Parameters<typeof toolMessage>[0]) ||
      `secret-tool exited with ${result.code}`;
    if (UNAVAILABLE_PATTERNS.some((p) => p.test(message))) {
      return new KeyringUnavailableError(`Secret Service is not available (${what}): ${message}`, {
        hint: SECRET_SERVICE_HINT,
      });
    }
    if (/locked/i.test(message)) {
      return new KeyringLockedError(
        `Secret Service collection is locked (${what}): ${message}; ${SECRET_SERVICE_LOCKED_HINT}`,
      );
    }
    return new KeyringError(`Secret Service ${what} failed: ${message}`);
  }

  /** On the silent exit-1 path: locked collection → error; otherwise the item is truly absent. */
  async #throwIfLocked(service: string, account: string, what: string): Promise<void> {
    const locked = await this.#defaultCollectionLocked() ??
      await this.#searchSaysLocked(service, account);
    this.#logger?.debug("secret-tool {what}: no item; collection locked={locked}", {
      what,
      locked,
    });
    if (locked) {
      throw new KeyringLockedError(
        `Secret Service collection is locked (${what}); ${SECRET_SERVICE_LOCKED_HINT}`,
      );
    }
  }

  /** The default collection's `Locked` property, or `undefined` when it cannot be read. */
  async #defaultCollectionLocked(): Promise<boolean | undefined> {
    try {
      const result = await this.#tool.run(this.#dbusSend, [
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets/aliases/default",
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Collection",
        "string:Locked",
      ], "locked check");
      const out = decoder.decode(result.stdout);
      if (result.code === 0 && /boolean true/.test(out)) return true;
      if (result.code === 0 && /boolean false/.test(out)) return false;
      return undefined;
    } catch (error) {
      // dbus-send missing: fall back to `secret-tool search`.
      if (error instanceof KeyringUnavailableError) return undefined;
      throw error;
    }
  }

  /** `secret-tool search` prints "Cannot get secret of a locked object" for a locked match. */
  async #searchSaysLocked(service: string, account: string): Promise<boolean> {
    const result = await this.#tool.run(
      this.#secretTool,
      ["search", ...codexAttributes(service, account)],
      "locked check",
    );
    return /locked/i.test(toolMessage(result));
  }
}
