/**
 * Where credentials live, and the rules that move them without ever losing
 * one:
 *
 * - **load** tries the keychain first, then auth.json, then the legacy
 *   `device_code_tokens.json`. When the credentials sit in a file, the mode is
 *   `keyring` or `auto` and the keychain works, they are **migrated**: saved
 *   to the keychain, read back and compared, and only then is the file
 *   deleted.
 * - **save** goes to the keychain (`auto`: if that fails, to auth.json with a
 *   warning that names the file); `file` writes auth.json atomically (0600).
 * - **delete** removes every copy: keychain item (the keyring layer removes
 *   its chunks), auth.json,
 *   the legacy file.
 *
 * Every write holds the `auth.json.lock` advisory lock (see lock.ts).
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { Context } from "../context.ts";
import { CdxError } from "../errors.ts";
import { KeyringError, type KeyringStore, KeyringUnavailableError } from "../keyring/mod.ts";
import { cancelledFrom, deadline, isCancellation, orCancel } from "../cancel.ts";
import {
  AUTH_FILE,
  type AuthData,
  authSecrets,
  hasCredentials,
  LEGACY_TOKEN_FILE,
  parseAuth,
  parseLegacyTokens,
  sameAuth,
  serializeAuthCompact,
  serializeAuthFile,
} from "./auth_json.ts";
import { KEYRING_SERVICE, keyringAccount } from "./keyring_item.ts";
import {
  ensureStoreKeyInConfig,
  type ResolvedStoreMode,
  resolveStoreMode,
  type StoreMode,
} from "./modes.ts";
import { withAuthLock } from "./lock.ts";
import { homePath as homeFile, readTextIfExists, removeIfExists, writeFileAtomic } from "../fs.ts";

/** Where a credential was found or saved. */
export type AuthLocation =
  | { kind: "keyring"; backend: string; service: string; account: string }
  | { kind: "file"; path: string }
  | { kind: "legacy-file"; path: string }
  | { kind: "memory" };

/** Result of {@linkcode AuthStore.load}. */
export interface LoadedAuth {
  auth: AuthData;
  location: AuthLocation;
  /** An auth.json that differs from the keychain copy (the keychain won). */
  staleFile?: string;
}

/** What {@linkcode AuthStore.delete} removed. */
export interface DeleteResult {
  removed: AuthLocation[];
}

/** Test hooks: called between the steps of a migration or save (tests abort there). */
export interface StoreStepHooks {
  afterKeyringSave?: () => void | Promise<void>;
  afterReadBack?: () => void | Promise<void>;
  /** Replaces file deletion (tests inject failures). */
  removeFile?: (path: string) => Promise<boolean>;
}

// Per-Context in-memory store for the `ephemeral` mode.
const ephemeralStores = new WeakMap<object, Map<string, AuthData>>();

/** Text of a keychain failure (the backend's message, never the secret). */
export function keyringProblem(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The credential store of one CODEX_HOME in one mode.
 *
 * @example
 * ```ts
 * const store = await openAuthStore(ctx, { store: "auto" });
 * const loaded = await store.load();
 * ```
 */
export class AuthStore {
  readonly codexHome: string;
  readonly authPath: string;
  readonly legacyPath: string;
  readonly #ctx: Context;
  readonly #log: Logger;
  /** Test hooks between steps. */
  hooks: StoreStepHooks = {};

  constructor(ctx: Context, readonly mode: ResolvedStoreMode) {
    this.#ctx = ctx;
    this.codexHome = ctx.globals.codexHome;
    this.authPath = homeFile(this.codexHome, AUTH_FILE);
    this.legacyPath = homeFile(this.codexHome, LEGACY_TOKEN_FILE);
    this.#log = ctx.logger.getChild("auth");
  }

  /** Whether this mode uses the keychain. */
  get usesKeyring(): boolean {
    return this.mode.mode === "keyring" || this.mode.mode === "auto";
  }

  #warn(text: string): void {
    this.#ctx.stderr.writeSync(`warning: ${this.#ctx.secrets.redact(text)}\n`);
  }

  #note(text: string): void {
    this.#ctx.stderr.writeSync(`note: ${text}\n`);
  }

  #memory(): Map<string, AuthData> {
    let map = ephemeralStores.get(this.#ctx.secrets);
    if (!map) ephemeralStores.set(this.#ctx.secrets, map = new Map());
    return map;
  }

  /**
   * The keychain account. Not cached: before CODEX_HOME exists its path cannot
   * be canonicalised, and the item must be named after the canonical path
   * (a symlinked home, macOS's /tmp) once it does.
   */
  account(): Promise<string> {
    return keyringAccount(this.codexHome);
  }

  /** The keychain, or the error that says why there is none. */
  keyring(): KeyringStore {
    return this.#ctx.keyring();
  }

  /** Where the keychain item is (for messages). */
  async keyringLocation(): Promise<AuthLocation> {
    let backend = "keychain";
    try {
      backend = this.keyring().describe();
    } catch { /* unavailable: keep the generic name */ }
    return { kind: "keyring", backend, service: KEYRING_SERVICE, account: await this.account() };
  }

  #register(auth: AuthData | undefined): void {
    for (const secret of authSecrets(auth)) this.#ctx.secrets.register(secret);
  }

  /**
   * Reads the keychain item; undefined when absent. Throws KeyringError.
   * (Chunked values are joined by the keyring layer.)
   */
  async readKeyring(): Promise<AuthData | undefined> {
    const account = await this.account();
    const value = await orCancel(this.keyring().load(KEYRING_SERVICE, account), this.#ctx.signal);
    if (value === undefined) return undefined;
    this.#ctx.secrets.register(value);
    const auth = parseAuth(value, `keychain item ${KEYRING_SERVICE}/${account}`);
    this.#register(auth);
    return hasCredentials(auth) ? auth : undefined;
  }

  /** Reads auth.json; undefined when absent. */
  async readFile(): Promise<AuthData | undefined> {
    const text = await readTextIfExists(this.authPath);
    if (text === undefined) return undefined;
    this.#ctx.secrets.register(text.trim());
    const auth = parseAuth(text, this.authPath);
    this.#register(auth);
    return hasCredentials(auth) ? auth : undefined;
  }

  /** Reads the legacy token file; undefined when absent or empty. */
  async readLegacy(): Promise<AuthData | undefined> {
    const text = await readTextIfExists(this.legacyPath);
    if (text === undefined) return undefined;
    const auth = parseLegacyTokens(text, this.legacyPath);
    this.#register(auth);
    return hasCredentials(auth) ? auth : undefined;
  }

  async #readAnyFile(): Promise<LoadedAuth | undefined> {
    const file = await this.readFile();
    if (file) return { auth: file, location: { kind: "file", path: this.authPath } };
    const legacy = await this.readLegacy();
    if (legacy) return { auth: legacy, location: { kind: "legacy-file", path: this.legacyPath } };
    return undefined;
  }

  /**
   * Loads the credentials (keychain first, then the files), migrating a file
   * copy into the keychain when the mode allows and the keychain works.
   * Undefined when nothing is stored.
   */
  async load(options: { migrate?: boolean } = {}): Promise<LoadedAuth | undefined> {
    const first = await this.loadUnlocked();
    if (options.migrate === false || !first?.migrate) return first?.loaded;
    try {
      return await withAuthLock(this.codexHome, async () => {
        // Someone may have moved things since the unlocked read: decide again.
        const again = await this.loadUnlocked();
        if (!again?.migrate) return again?.loaded;
        return await this.#migrate(again.loaded);
      }, { signal: this.#ctx.signal });
    } catch (error) {
      if (error instanceof CdxError || isCancellation(error) || this.#ctx.signal.aborted) {
        throw error;
      }
      this.#warn(`could not move the credentials into the keychain: ${keyringProblem(error)}`);
      return first.loaded;
    }
  }

  /** Load without taking the lock or migrating; says whether a migration is due. */
  async loadUnlocked(): Promise<{ loaded: LoadedAuth; migrate: boolean } | undefined> {
    const mode = this.mode.mode;
    if (mode === "ephemeral") {
      const auth = this.#memory().get(await this.account());
      return auth ? { loaded: { auth, location: { kind: "memory" } }, migrate: false } : undefined;
    }
    if (mode === "file") {
      const loaded = await this.#readAnyFile();
      return loaded ? { loaded, migrate: loaded.location.kind === "legacy-file" } : undefined;
    }
    let keychainWorks = true;
    try {
      const auth = await this.readKeyring();
      if (auth) {
        const loaded: LoadedAuth = { auth, location: await this.keyringLocation() };
        const file = await this.readFile().catch(() => undefined);
        let migrate = false;
        if (file) {
          // Equal: a migration that stopped before deleting the file — finish it.
          if (sameAuth(file, auth)) migrate = true;
          else loaded.staleFile = this.authPath;
        }
        return { loaded, migrate };
      }
    } catch (error) {
      if (error instanceof CdxError) throw error;
      if (mode === "keyring") {
        throw new CdxError(`failed to load CLI auth from keyring: ${keyringProblem(error)}`, {
          hint: keyringHint(error),
          cause: error,
        });
      }
      keychainWorks = false;
      this.#log.info("keychain unavailable, reading auth.json: {problem}", {
        problem: keyringProblem(error),
      });
    }
    const loaded = await this.#readAnyFile();
    if (!loaded) return undefined;
    // Never move credentials where codex would not look for them.
    const migrate = keychainWorks && this.mode.configured !== "file";
    return { loaded, migrate };
  }

  async #migrate(loaded: LoadedAuth): Promise<LoadedAuth> {
    if (this.mode.mode === "file") {
      // Legacy file → auth.json.
      await this.#writeFileVerified(loaded.auth);
      await this.#removeLegacy();
      return { auth: loaded.auth, location: { kind: "file", path: this.authPath } };
    }
    if (loaded.location.kind === "keyring") {
      // The keychain copy is already there and equal: only the file is left.
      await this.#removeFiles();
      return loaded;
    }
    const location = await this.#saveKeyringVerified(loaded.auth);
    if (!(await this.#ensureConfigKey())) return loaded;
    await this.#removeFiles();
    this.#log.info("moved credentials from {path} into the keychain", {
      path: loaded.location.kind === "file" ? this.authPath : this.legacyPath,
    });
    return { auth: loaded.auth, location };
  }

  /** Saves to the keychain, reads back and compares. Throws on any mismatch. */
  async #saveKeyringVerified(auth: AuthData): Promise<AuthLocation> {
    const keyring = this.keyring();
    const account = await this.account();
    await orCancel(
      keyring.save(KEYRING_SERVICE, account, serializeAuthCompact(auth)),
      this.#ctx.signal,
    );
    await this.hooks.afterKeyringSave?.();
    if (this.#ctx.signal.aborted) throw cancelledFrom(this.#ctx.signal);
    let back: AuthData | undefined;
    try {
      back = await this.readKeyring();
    } catch (error) {
      if (isCancellation(error)) throw error;
      throw new KeyringError(`reading the saved item back failed: ${keyringProblem(error)}`, {
        cause: error,
      });
    }
    if (!sameAuth(back, auth)) {
      throw new KeyringError("the keychain returned something else than was saved");
    }
    await this.hooks.afterReadBack?.();
    if (this.#ctx.signal.aborted) throw cancelledFrom(this.#ctx.signal);
    return await this.keyringLocation();
  }

  /** Adds the config key codex needs to look in the keychain; false if that failed. */
  async #ensureConfigKey(): Promise<boolean> {
    if (this.mode.configured !== undefined) {
      if (this.mode.configured === "file") {
        this.#warn(
          `config.toml sets cli_auth_credentials_store = "file": codex will not find credentials kept in the keychain`,
        );
      }
      return true;
    }
    try {
      const path = await ensureStoreKeyInConfig(this.codexHome, "auto");
      if (path) {
        this.#note(
          `added cli_auth_credentials_store = "auto" to ${path} so codex finds the credentials in the keychain`,
        );
      }
      return true;
    } catch (error) {
      this.#warn(
        `could not add cli_auth_credentials_store = "auto" to config.toml (${
          keyringProblem(error)
        }); keeping ${this.authPath} so codex still finds the credentials`,
      );
      return false;
    }
  }

  async #writeFileVerified(auth: AuthData): Promise<void> {
    await writeFileAtomic(this.authPath, serializeAuthFile(auth));
    const back = await this.readFile();
    if (!sameAuth(back, auth)) throw new Error(`${this.authPath} did not read back as written`);
  }

  async #removeLegacy(): Promise<void> {
    try {
      await this.#remove(this.legacyPath);
    } catch (error) {
      this.#warn(`could not delete ${this.legacyPath}: ${keyringProblem(error)}`);
    }
  }

  /** Deletes auth.json and the legacy file after a verified keychain save (failures warn). */
  async #removeFiles(): Promise<void> {
    for (const path of [this.authPath, this.legacyPath]) {
      try {
        await this.#remove(path);
      } catch (error) {
        this.#warn(
          `credentials are in the keychain, but ${path} could not be deleted: ${
            keyringProblem(error)
          }`,
        );
      }
    }
  }

  #remove(path: string): Promise<boolean> {
    return this.hooks.removeFile ? this.hooks.removeFile(path) : removeIfExists(path);
  }

  /** Saves `auth`, taking the lock. Returns where it went. */
  async save(auth: AuthData): Promise<AuthLocation> {
    try {
      return await withAuthLock(this.codexHome, () => this.saveLocked(auth), {
        signal: this.#ctx.signal,
      });
    } catch (error) {
      throw asStorageError(error, "could not save the credentials");
    }
  }

  /** Saves `auth`; the caller holds the lock. */
  async saveLocked(auth: AuthData): Promise<AuthLocation> {
    this.#register(auth);
    const mode = this.mode.mode;
    if (mode === "ephemeral") {
      this.#memory().set(await this.account(), auth);
      return { kind: "memory" };
    }
    if (mode === "file") {
      await this.#writeFileVerified(auth);
      await this.#removeLegacy();
      return { kind: "file", path: this.authPath };
    }
    let location: AuthLocation;
    try {
      location = await this.#saveKeyringVerified(auth);
    } catch (error) {
      if (error instanceof CdxError || this.#ctx.signal.aborted) throw error;
      if (mode === "keyring") {
        throw new CdxError(
          `failed to write OAuth tokens to keyring: ${keyringProblem(error)}`,
          { hint: keyringHint(error), cause: error },
        );
      }
      await this.#writeFileVerified(auth);
      this.#warn(
        `the keychain could not be used (${
          keyringProblem(error)
        }); credentials saved to ${this.authPath}, a plain file (mode 0600)`,
      );
      return { kind: "file", path: this.authPath };
    }
    if (await this.#ensureConfigKey()) await this.#removeFiles();
    else await this.#writeFileVerified(auth);
    return location;
  }

  /** Removes every copy (taking the lock). Errors name what could not be deleted. */
  async delete(): Promise<DeleteResult> {
    try {
      return await withAuthLock(this.codexHome, () => this.#deleteLocked(), {
        signal: this.#ctx.signal,
      });
    } catch (error) {
      throw asStorageError(error, "could not delete the credentials");
    }
  }

  async #deleteLocked(): Promise<DeleteResult> {
    const removed: AuthLocation[] = [];
    const problems: string[] = [];
    const mode = this.mode.mode;
    const memory = this.#memory();
    if (memory.delete(await this.account())) removed.push({ kind: "memory" });
    if (mode === "ephemeral") return { removed };
    if (this.usesKeyring) {
      try {
        if (await this.#deleteKeyringItem()) removed.push(await this.keyringLocation());
      } catch (error) {
        if (!(error instanceof KeyringUnavailableError && mode === "auto")) {
          problems.push(`failed to delete auth from keyring: ${keyringProblem(error)}`);
        }
      }
    }
    for (
      const [path, kind] of [[this.authPath, "file"], [this.legacyPath, "legacy-file"]] as const
    ) {
      try {
        if (await this.#remove(path)) removed.push({ kind, path });
      } catch (error) {
        problems.push(`could not delete ${path}: ${keyringProblem(error)}`);
      }
    }
    if (problems.length) throw new CdxError(problems.join("; "));
    return { removed };
  }

  /** Deletes the keychain item (the keyring layer removes every chunk); true when it was there. */
  async #deleteKeyringItem(): Promise<boolean> {
    const account = await this.account();
    return await orCancel(this.keyring().delete(KEYRING_SERVICE, account), this.#ctx.signal);
  }

  /**
   * Whether the keychain answers at all, within `boundMs` (for `login
   * status`'s plain-file warning: people choose `file` because a keychain
   * hangs, so the probe must not hang them again).
   */
  async keyringWorks(boundMs = 1000): Promise<boolean> {
    try {
      await deadline(this.readKeyring(), boundMs, { signal: this.#ctx.signal });
      return true;
    } catch (error) {
      if (this.#ctx.signal.aborted) throw error;
      return false;
    }
  }
}

/** File-system failures become CdxErrors the user can act on; cancellation passes through. */
function asStorageError(error: unknown, what: string): unknown {
  if (error instanceof CdxError || isCancellation(error)) return error;
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return new CdxError(`${what}: ${(error as Error).message}`, {
      hint: "check the permissions of CODEX_HOME (cdx needs to write there)",
      cause: error,
    });
  }
  if (error instanceof Error && !(error instanceof TypeError) && !(error instanceof RangeError)) {
    return new CdxError(`${what}: ${error.message}`, { cause: error });
  }
  return error;
}

/** The hint for a keychain failure. */
export function keyringHint(error: unknown): string {
  if (error instanceof KeyringUnavailableError && error.hint) return error.hint;
  return "unlock the keychain, or use `--store file` (CDX_CREDENTIALS_STORE=file) to keep credentials in auth.json";
}

/**
 * Opens the store for the effective mode (`--store` > `CDX_CREDENTIALS_STORE`
 * > config.toml > `auto`).
 */
export function openAuthStore(ctx: Context, options: { store?: StoreMode } = {}): AuthStore {
  return new AuthStore(
    ctx,
    resolveStoreMode({ option: options.store, env: ctx.env, config: ctx.config }),
  );
}
