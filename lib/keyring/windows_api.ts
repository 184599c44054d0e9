/**
 * The advapi32 credential calls as a TypeScript interface, with their
 * constants and errors: the leaf shared by the Windows backend
 * (`windows.ts`) and its FFI binding (`windows_ffi.ts`).
 *
 * @module
 */

/** `CRED_MAX_CREDENTIAL_BLOB_SIZE`: 5 × 512 bytes. */
export const CRED_MAX_CREDENTIAL_BLOB_SIZE = 2560;

/** Win32 errors the backend tells apart. */
export const WinError = {
  ACCESS_DENIED: 5,
  INVALID_PARAMETER: 87,
  NOT_FOUND: 1168,
  NO_SUCH_LOGON_SESSION: 1312,
  /** "The stub received bad data": CredWrite over the blob limit. */
  BAD_STUB_DATA: 1783,
} as const;

/** A failed advapi32 call, with its `GetLastError` code. */
export class WinApiError extends Error {
  /** The Win32 error code (see {@linkcode WinError}). */
  readonly code: number;
  /** `call` names the advapi32 function, e.g. `"CredWriteW"`. */
  constructor(call: string, code: number) {
    super(`${call} failed with Win32 error ${code}`);
    this.name = "WinApiError";
    this.code = code;
  }
}

/** A generic credential as read or written. */
export interface WinCredential {
  /** The credential's key (`TargetName`); keyring-rs v3 uses `<account>.<service>`. */
  targetName: string;
  /** `UserName`; keyring-rs v3 writes the account. */
  userName: string;
  /** `Comment`, shown in Credential Manager; cdx writes keyring-rs v3's text (windows.ts). */
  comment: string;
  /** `CredentialBlob`: the secret bytes (CredWrite refuses more than 2560). */
  blob: Uint8Array;
}

/** The three advapi32 calls (type `CRED_TYPE_GENERIC`). Throw {@linkcode WinApiError}. */
export interface CredentialApi {
  /** `CredReadW`; `undefined` on `ERROR_NOT_FOUND`. */
  read(targetName: string): WinCredential | undefined;
  /** `CredWriteW` (creates or replaces). */
  write(credential: WinCredential): void;
  /** `CredDeleteW`; `false` on `ERROR_NOT_FOUND`. */
  delete(targetName: string): boolean;
}
