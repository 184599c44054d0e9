/**
 * A fake of the advapi32 credential calls behind `CredentialApi`, with the
 * behaviour of the real ones: generic credentials keyed by target name
 * (case-insensitive, as Windows compares them), `ERROR_NOT_FOUND` (1168) on
 * read/delete of a missing target, `1783` when the blob exceeds 2560 bytes,
 * and injectable Win32 errors (e.g. 1312 on an SSH logon).
 *
 * @module
 */
import {
  CRED_MAX_CREDENTIAL_BLOB_SIZE,
  type CredentialApi,
  WinApiError,
  type WinCredential,
  WinError,
} from "../../lib/keyring/windows.ts";

/** One recorded call. */
export interface FakeCredentialCall {
  call: "CredReadW" | "CredWriteW" | "CredDeleteW";
  targetName: string;
}

/** In-memory Credential Manager. */
export class FakeCredentialManager implements CredentialApi {
  readonly credentials = new Map<string, WinCredential>();
  readonly calls: FakeCredentialCall[] = [];
  /** When set, every call fails with this Win32 error. */
  failWith: number | undefined;

  #check(call: FakeCredentialCall["call"], targetName: string): void {
    this.calls.push({ call, targetName });
    if (this.failWith !== undefined) throw new WinApiError(call, this.failWith);
    if (targetName.length === 0 || targetName.length > 32767) {
      throw new WinApiError(call, WinError.INVALID_PARAMETER);
    }
  }

  read(targetName: string): WinCredential | undefined {
    this.#check("CredReadW", targetName);
    const found = this.credentials.get(targetName.toLowerCase());
    return found && { ...found, blob: found.blob.slice() };
  }

  write(credential: WinCredential): void {
    this.#check("CredWriteW", credential.targetName);
    if (credential.blob.length > CRED_MAX_CREDENTIAL_BLOB_SIZE) {
      throw new WinApiError("CredWriteW", WinError.BAD_STUB_DATA);
    }
    this.credentials.set(credential.targetName.toLowerCase(), {
      ...credential,
      blob: credential.blob.slice(),
    });
  }

  delete(targetName: string): boolean {
    this.#check("CredDeleteW", targetName);
    return this.credentials.delete(targetName.toLowerCase());
  }
}
