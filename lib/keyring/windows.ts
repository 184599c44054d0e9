/**
 * Windows backend: Credential Manager generic credentials, written the way
 * keyring-rs v3 (codex's direct mode) writes them:
 *
 * - target name `<account>.<service>`, user name `<account>`, comment
 *   `<account>@<service>:<account>.<service> (keyring v3.6.3)`,
 *   persist `CRED_PERSIST_ENTERPRISE`;
 * - blob = the value as UTF-16LE without a terminator (read back
 *   defensively: UTF-16LE first, UTF-8 if that is not valid);
 * - blob limit 2560 bytes (1280 UTF-16 units): longer values are chunked by
 *   the wrapper.
 *
 * The calls go through a {@linkcode CredentialApi}: the real one is advapi32
 * over Deno FFI (`windows_ffi.ts`), tests use a fake with the same error
 * codes. FFI calls are synchronous and local (no daemon to hang on), so the
 * per-call timeout does not apply; the Context signal is checked before
 * every call.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import { cancelledFrom } from "../cancel.ts";
import type { RawKeyring } from "./chunked.ts";
import { KEYRING_RS_VERSION } from "./secret_tool.ts";
import { KeyringError, KeyringUnavailableError, verifySaved } from "./store.ts";

export {
  CRED_MAX_CREDENTIAL_BLOB_SIZE,
  type CredentialApi,
  WinApiError,
  type WinCredential,
  WinError,
} from "./windows_api.ts";
import {
  CRED_MAX_CREDENTIAL_BLOB_SIZE,
  type CredentialApi,
  WinApiError,
  WinError,
} from "./windows_api.ts";

/** keyring-rs v3's target name for (service, account). */
export function windowsTargetName(service: string, account: string): string {
  return `${account}.${service}`;
}

/** keyring-rs v3's comment. */
export function windowsComment(service: string, account: string): string {
  return `${account}@${service}:${
    windowsTargetName(service, account)
  } (keyring v${KEYRING_RS_VERSION})`;
}

/** UTF-16LE bytes of `value`, no terminator (keyring-rs `set_password`). */
export function encodeUtf16le(value: string): Uint8Array {
  const bytes = new Uint8Array(value.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < value.length; i++) view.setUint16(i * 2, value.charCodeAt(i), true);
  return bytes;
}

/**
 * A blob as text. keyring-rs writes UTF-16LE; go-keyring and keytar write
 * UTF-8. UTF-16LE of text with any character below U+0100 contains zero
 * bytes, so a blob without zero bytes that is valid UTF-8 is read as UTF-8;
 * otherwise UTF-16LE when valid, else UTF-8.
 */
export function decodeCredentialBlob(blob: Uint8Array): string {
  const utf8 = (): string | undefined => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(blob);
    } catch {
      return undefined;
    }
  };
  if (!blob.includes(0)) {
    const text = utf8();
    if (text !== undefined) return text;
  }
  if (blob.length % 2 === 0) {
    try {
      return new TextDecoder("utf-16le", { fatal: true }).decode(blob);
    } catch { /* not UTF-16 */ }
  }
  const text = utf8();
  if (text === undefined) {
    throw new KeyringError("Credential Manager item is neither UTF-16LE nor UTF-8 text");
  }
  return text;
}

/** Options of {@linkcode WindowsKeyring}. */
export interface WindowsKeyringOptions {
  /** The advapi32 calls (default: Deno FFI, loaded on first use). */
  api?: CredentialApi | (() => Promise<CredentialApi>);
  /** Checked before every advapi32 call (the calls themselves cannot be interrupted). */
  signal?: AbortSignal;
  /** Read every saved value back and compare (default true). */
  verifySaves?: boolean;
  /** Not used by this backend today; accepted so every backend takes the same options. */
  logger?: Logger;
}

const FFI_HINT =
  'cdx needs the "ffi" permission (deno.json permissions.cdx) to reach Credential Manager';

/**
 * Credential Manager, one generic credential per (service, account).
 *
 * @example
 * ```ts
 * const raw = new WindowsKeyring({ signal: ctx.signal });
 * await raw.save("Codex Auth", "cli|0123456789abcdef", "{}");
 * ```
 */
export class WindowsKeyring implements RawKeyring {
  readonly #options: WindowsKeyringOptions;
  #api: CredentialApi | undefined;
  /** advapi32 calls made so far (the Windows "spawn" count). */
  calls = 0;

  /** Loads no FFI library until the first call (unless `api` is given as an object). */
  constructor(options: WindowsKeyringOptions = {}) {
    this.#options = options;
    if (typeof options.api === "object") this.#api = options.api;
  }

  /** Whether `save` reads the item back. */
  get verifiesSaves(): boolean {
    return this.#options.verifySaves !== false;
  }

  describe(): string {
    return "Windows Credential Manager";
  }

  maxValueSize(): number {
    return CRED_MAX_CREDENTIAL_BLOB_SIZE;
  }

  /** UTF-16LE bytes. */
  valueSize(value: string): number {
    return value.length * 2;
  }

  async #callApi<T>(what: string, call: (api: CredentialApi) => T): Promise<T> {
    const { signal } = this.#options;
    if (signal?.aborted) throw cancelledFrom(signal);
    const api = await this.#loadApi();
    this.calls++;
    try {
      return call(api);
    } catch (error) {
      if (!(error instanceof WinApiError)) throw error;
      switch (error.code) {
        case WinError.NO_SUCH_LOGON_SESSION:
          throw new KeyringUnavailableError(
            `Windows Credential Manager is not available in this logon session (${what})`,
            {
              hint:
                'network/SSH logons cannot persist credentials; use RDP or a local session, or set cli_auth_credentials_store = "file"',
              cause: error,
            },
          );
        case WinError.BAD_STUB_DATA:
          throw new KeyringError(`Credential Manager rejected the value as too large (${what})`, {
            cause: error,
          });
        default:
          throw new KeyringError(`Credential Manager ${what} failed: ${error.message}`, {
            cause: error,
          });
      }
    }
  }

  async #loadApi(): Promise<CredentialApi> {
    if (this.#api) return this.#api;
    const factory = this.#options.api;
    try {
      if (typeof factory === "function") {
        this.#api = await factory();
      } else {
        const { openAdvapi32 } = await import("./windows_ffi.ts");
        this.#api = openAdvapi32();
      }
    } catch (error) {
      if (error instanceof KeyringError) throw error;
      throw new KeyringUnavailableError(
        `Windows Credential Manager is not available: ${(error as Error).message}`,
        { hint: FFI_HINT, cause: error },
      );
    }
    return this.#api;
  }

  async load(service: string, account: string): Promise<string | undefined> {
    const target = windowsTargetName(service, account);
    const credential = await this.#callApi("load", (api) => api.read(target));
    return credential === undefined ? undefined : decodeCredentialBlob(credential.blob);
  }

  async save(service: string, account: string, value: string): Promise<void> {
    const blob = encodeUtf16le(value);
    if (blob.length > CRED_MAX_CREDENTIAL_BLOB_SIZE) {
      throw new KeyringError(
        `value too long for one Credential Manager item (${blob.length} > ${CRED_MAX_CREDENTIAL_BLOB_SIZE} bytes)`,
      );
    }
    const targetName = windowsTargetName(service, account);
    await this.#callApi("save", (api) =>
      api.write({
        targetName,
        userName: account,
        comment: windowsComment(service, account),
        blob,
      }));
    blob.fill(0);
    if (this.#options.verifySaves === false) return;
    await verifySaved(() => this.load(service, account), value, "Credential Manager");
  }

  async delete(service: string, account: string): Promise<boolean> {
    const target = windowsTargetName(service, account);
    return await this.#callApi("delete", (api) => api.delete(target));
  }
}
