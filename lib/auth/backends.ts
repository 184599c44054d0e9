/**
 * The places credentials can live, each behind `load` / `save` / `delete`:
 * auth.json (file_backend.ts: with the legacy `device_code_tokens.json` and
 * the rescue temp files a refresh leaves), the OS keychain item codex uses,
 * and process memory (`ephemeral`). They know nothing of modes: `store.ts`
 * composes them.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { KeyringError, type KeyringStore } from "../keyring/store.ts";
import { CdxError } from "../errors.ts";
import {
  type AuthData,
  type AuthLocation,
  hasCredentials,
  MAX_AUTH_BYTES,
  parseAuth,
  registerAuth,
  sameAuth,
  serializeAuthCompact,
  type StoredAuth,
} from "./auth_json.ts";
import { KEYRING_SERVICE, keyringAccount } from "./keyring_item.ts";

export { FileBackend, type Rescue, RESCUE_PREFIX, RescueFile } from "./file_backend.ts";

export type { AuthLocation, StoredAuth } from "./auth_json.ts";

/** What every backend needs: the secret registry (what it reads is masked) and the signal. */
export type Ctx = Pick<Context, "secrets" | "signal">;

/** The codex keychain item of one CODEX_HOME. */
export class KeyringBackend {
  /** The item of `codexHome` (absolute) in the keychain `ctx.keyring()` returns when asked. */
  constructor(readonly ctx: Ctx & Pick<Context, "keyring">, readonly codexHome: string) {}

  /** The keychain; throws KeyringUnavailableError when there is none. */
  keyring(): KeyringStore {
    return this.ctx.keyring();
  }

  /**
   * The account, not cached: before CODEX_HOME exists its path cannot be
   * canonicalised, and the item is named after the canonical path.
   */
  account(): Promise<string> {
    return keyringAccount(this.codexHome);
  }

  /** Where the item is (for messages). */
  async location(): Promise<AuthLocation> {
    let backend = "keychain";
    try {
      backend = this.keyring().describe();
    } catch { /* unavailable: keep the generic name */ }
    return { kind: "keyring", backend, service: KEYRING_SERVICE, account: await this.account() };
  }

  /** The item's credentials; undefined when absent. Throws KeyringError (never "absent" for a locked keychain). */
  async load(): Promise<StoredAuth | undefined> {
    const account = await this.account();
    const value = await this.keyring().load(KEYRING_SERVICE, account);
    if (value === undefined) return undefined;
    // Only the secret fields are registered (below), never the whole value: a record with a
    // large unknown field must not become one huge pattern in the redactor.
    const where = `keychain item ${KEYRING_SERVICE}/${account}`;
    if (new TextEncoder().encode(value).length > MAX_AUTH_BYTES) {
      throw new CdxError(`${where} is larger than ${MAX_AUTH_BYTES} bytes`, {
        hint: "this is not an item cdx or codex wrote; remove it (cdx logout) and log in again",
      });
    }
    const auth = parseAuth(value, where);
    registerAuth(this.ctx.secrets, auth);
    return hasCredentials(auth) ? { auth, location: await this.location() } : undefined;
  }

  /** Stores the item and makes sure it reads back as written. */
  async save(auth: AuthData): Promise<AuthLocation> {
    registerAuth(this.ctx.secrets, auth);
    const keyring = this.keyring();
    const account = await this.account();
    await keyring.save(KEYRING_SERVICE, account, serializeAuthCompact(auth));
    if (!(keyring as { verifiesSaves?: boolean }).verifiesSaves) {
      const back = await this.load().catch((error) => {
        throw new KeyringError(`reading the saved item back failed: ${(error as Error).message}`, {
          cause: error,
        });
      });
      if (!sameAuth(back?.auth, auth)) {
        throw new KeyringError("the keychain returned something else than was saved");
      }
    }
    return await this.location();
  }

  /** Whether the keychain can store `auth` as one item codex reads (undefined: cannot tell). */
  async fits(auth: AuthData): Promise<boolean | undefined> {
    let keyring: KeyringStore;
    try {
      keyring = this.keyring();
    } catch {
      return undefined;
    }
    return await keyring.fits?.(KEYRING_SERVICE, await this.account(), serializeAuthCompact(auth));
  }

  /** Removes the item (and any chunks); true when it was there. */
  async delete(): Promise<boolean> {
    return await this.keyring().delete(KEYRING_SERVICE, await this.account());
  }
}

// Per-process memory for the `ephemeral` mode, keyed by the Context's registry.
const memories = new WeakMap<object, Map<string, AuthData>>();

/** Credentials kept in this process only (`ephemeral`). */
export class MemoryBackend {
  /** The copy of `codexHome`, kept per Context (keyed by its secret registry), never on disk. */
  constructor(readonly ctx: Ctx, readonly codexHome: string) {}

  #map(): Map<string, AuthData> {
    let map = memories.get(this.ctx.secrets);
    if (!map) memories.set(this.ctx.secrets, map = new Map());
    return map;
  }

  /** The credentials of this process; undefined when none. */
  load(): Promise<StoredAuth | undefined> {
    const auth = this.#map().get(this.codexHome);
    return Promise.resolve(auth ? { auth, location: { kind: "memory" } } : undefined);
  }

  /** Keeps `auth` in memory. */
  save(auth: AuthData): Promise<AuthLocation> {
    registerAuth(this.ctx.secrets, auth);
    this.#map().set(this.codexHome, auth);
    return Promise.resolve({ kind: "memory" });
  }

  /** Forgets the credentials; true when there were some. */
  delete(): Promise<boolean> {
    return Promise.resolve(this.#map().delete(this.codexHome));
  }
}
