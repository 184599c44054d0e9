/**
 * advapi32 `CredReadW` / `CredWriteW` / `CredDeleteW` over Deno FFI
 * (64-bit only; needs the "ffi" permission). Exercised by the Windows CI job
 * (`.github/workflows/keyring.yml`); on other OSes it is only type-checked.
 *
 * x64 `CREDENTIALW` layout: Flags 0, Type 4, TargetName 8, Comment 16,
 * LastWritten 24, CredentialBlobSize 32, CredentialBlob 40, Persist 48,
 * AttributeCount 52, Attributes 56, TargetAlias 64, UserName 72; size 80.
 *
 * @module
 */
import { type CredentialApi, WinApiError, type WinCredential, WinError } from "./windows_api.ts";

const CRED_TYPE_GENERIC = 1;
const CRED_PERSIST_ENTERPRISE = 3;
const CREDENTIALW_SIZE = 80;

/** NUL-terminated UTF-16LE. */
function wide(text: string): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(text.length + 1);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function readWide(pointer: Deno.PointerValue): string {
  if (pointer === null) return "";
  const view = new Deno.UnsafePointerView(pointer);
  let text = "";
  for (let offset = 0;; offset += 2) {
    const unit = view.getUint16(offset);
    if (unit === 0) return text;
    text += String.fromCharCode(unit);
  }
}

function address(buffer: ArrayBufferView<ArrayBuffer>): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}

/** Opens advapi32 (and kernel32 for `GetLastError`). Throws if FFI is not allowed. */
export function openAdvapi32(): CredentialApi {
  const advapi = Deno.dlopen("advapi32.dll", {
    CredReadW: { parameters: ["buffer", "u32", "u32", "buffer"], result: "i32" },
    CredWriteW: { parameters: ["buffer", "u32"], result: "i32" },
    CredDeleteW: { parameters: ["buffer", "u32", "u32"], result: "i32" },
    CredFree: { parameters: ["pointer"], result: "void" },
  });
  const kernel = Deno.dlopen("kernel32.dll", {
    GetLastError: { parameters: [], result: "u32" },
  });
  // Read right after the failing call, before anything else runs on this thread.
  const lastError = () => kernel.symbols.GetLastError();

  return {
    read(targetName: string): WinCredential | undefined {
      const out = new BigUint64Array(1);
      const ok = advapi.symbols.CredReadW(wide(targetName), CRED_TYPE_GENERIC, 0, out);
      if (!ok) {
        const code = lastError();
        if (code === WinError.NOT_FOUND) return undefined;
        throw new WinApiError("CredReadW", code);
      }
      const pointer = Deno.UnsafePointer.create(out[0]);
      if (pointer === null) throw new WinApiError("CredReadW", WinError.INVALID_PARAMETER);
      try {
        const view = new Deno.UnsafePointerView(pointer);
        const blobSize = view.getUint32(32);
        const blobPointer = Deno.UnsafePointer.create(view.getBigUint64(40));
        const blob = new Uint8Array(blobSize);
        if (blobSize > 0 && blobPointer !== null) {
          blob.set(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(blobPointer, blobSize)));
        }
        return {
          targetName: readWide(Deno.UnsafePointer.create(view.getBigUint64(8))),
          comment: readWide(Deno.UnsafePointer.create(view.getBigUint64(16))),
          userName: readWide(Deno.UnsafePointer.create(view.getBigUint64(72))),
          blob,
        };
      } finally {
        advapi.symbols.CredFree(pointer);
      }
    },

    write(credential: WinCredential): void {
      // Every pointed-to buffer stays referenced until the call returns.
      const target = wide(credential.targetName);
      const comment = wide(credential.comment);
      const alias = wide("");
      const user = wide(credential.userName);
      const blob = new Uint8Array(Math.max(1, credential.blob.length));
      blob.set(credential.blob);
      const struct = new Uint8Array(CREDENTIALW_SIZE);
      const view = new DataView(struct.buffer);
      view.setUint32(0, 0, true); // Flags
      view.setUint32(4, CRED_TYPE_GENERIC, true);
      view.setBigUint64(8, address(target), true);
      view.setBigUint64(16, address(comment), true);
      // LastWritten (24..32) is ignored by CredWriteW.
      view.setUint32(32, credential.blob.length, true);
      view.setBigUint64(40, address(blob), true);
      view.setUint32(48, CRED_PERSIST_ENTERPRISE, true);
      view.setUint32(52, 0, true); // AttributeCount
      view.setBigUint64(56, 0n, true); // Attributes
      view.setBigUint64(64, address(alias), true);
      view.setBigUint64(72, address(user), true);
      const ok = advapi.symbols.CredWriteW(struct, 0);
      const code = ok ? 0 : lastError();
      blob.fill(0);
      if (!ok) throw new WinApiError("CredWriteW", code);
      // Keep the buffers alive past the call (the GC must not free them early).
      void [target, comment, alias, user];
    },

    delete(targetName: string): boolean {
      const ok = advapi.symbols.CredDeleteW(wide(targetName), CRED_TYPE_GENERIC, 0);
      if (ok) return true;
      const code = lastError();
      if (code === WinError.NOT_FOUND) return false;
      throw new WinApiError("CredDeleteW", code);
    },
  };
}
