/**
 * The Windows backend (Credential Manager + chunking) against a fake of the
 * advapi32 calls: keyring-rs v3 naming and UTF-16LE blobs, the 2560-byte
 * blob limit, error mapping. The real FFI path runs in the Windows CI job.
 */
import assert from "node:assert/strict";
import {
  ChunkedKeyringStore,
  KeyringError,
  KeyringUnavailableError,
  WindowsKeyring,
  windowsTargetName,
} from "../lib/keyring/mod.ts";
import {
  CRED_MAX_CREDENTIAL_BLOB_SIZE,
  decodeCredentialBlob,
  encodeUtf16le,
  WinError,
} from "../lib/keyring/windows.ts";
import { CancelledError } from "../lib/cancel.ts";
import { FakeCredentialManager } from "./fakes/windows_credentials.ts";

const SERVICE = "Codex Auth";

function windowsStore(api = new FakeCredentialManager(), signal?: AbortSignal) {
  return {
    api,
    // As createPlatformKeyring builds it on Windows: generation chunks for the 2560-byte blobs.
    store: new ChunkedKeyringStore(new WindowsKeyring({ api, signal }), { chunkWrites: true }),
  };
}

const VALUES: Record<string, string> = {
  "ASCII": '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-win-ascii"}',
  "UTF-8 beyond the BMP": "clé 🔑 ключ 鍵",
  "multi-line": "a\r\nb\nc\n",
  "1280 UTF-16 units (largest single blob)": "w".repeat(1280),
  "8 KiB": "x".repeat(8192),
  "64 KiB": "y🔑".repeat(65536 / 6),
};

Deno.test("Windows backend round-trips values, chunking anything over the 2560-byte blob", async (t) => {
  for (const [name, value] of Object.entries(VALUES)) {
    await t.step(name, async () => {
      const { api, store } = windowsStore();
      await store.save(SERVICE, "cli|win", value);
      assert.equal(await store.load(SERVICE, "cli|win"), value);
      for (const credential of api.credentials.values()) {
        assert.ok(credential.blob.length <= CRED_MAX_CREDENTIAL_BLOB_SIZE);
      }
      assert.equal(await store.delete(SERVICE, "cli|win"), true);
      assert.equal(api.credentials.size, 0, "every chunk deleted");
      assert.equal(await store.load(SERVICE, "cli|win"), undefined);
    });
  }
});

Deno.test("credentials are written the way keyring-rs v3 (codex) writes them", async () => {
  const { api, store } = windowsStore();
  await store.save(SERVICE, "cli|9ba275091964248d", "{}");
  const credential = api.credentials.get("cli|9ba275091964248d.codex auth")!;
  assert.equal(credential.targetName, "cli|9ba275091964248d.Codex Auth");
  assert.equal(windowsTargetName(SERVICE, "cli|9ba275091964248d"), credential.targetName);
  assert.equal(credential.userName, "cli|9ba275091964248d");
  assert.equal(
    credential.comment,
    "cli|9ba275091964248d@Codex Auth:cli|9ba275091964248d.Codex Auth (keyring v3.6.3)",
  );
  assert.deepEqual(credential.blob, new Uint8Array([0x7b, 0, 0x7d, 0]), "UTF-16LE, no terminator");
});

Deno.test("a credential codex wrote (UTF-16LE) and one another tool wrote (UTF-8) both load", async () => {
  const { api, store } = windowsStore();
  api.write({
    targetName: "a.Codex Auth",
    userName: "a",
    comment: "",
    blob: encodeUtf16le("from codex é"),
  });
  api.write({
    targetName: "b.Codex Auth",
    userName: "b",
    comment: "",
    blob: new TextEncoder().encode("from go-keyring é"),
  });
  assert.equal(await store.load(SERVICE, "a"), "from codex é");
  assert.equal(await store.load(SERVICE, "b"), "from go-keyring é");
  assert.equal(decodeCredentialBlob(encodeUtf16le("鍵🔑")), "鍵🔑");
  assert.throws(() => decodeCredentialBlob(new Uint8Array([0xff])), KeyringError);
});

Deno.test("missing credential: load → undefined (1168), delete → false", async () => {
  const { store } = windowsStore();
  assert.equal(await store.load(SERVICE, "cli|none"), undefined);
  assert.equal(await store.delete(SERVICE, "cli|none"), false);
});

Deno.test("no logon session (SSH, error 1312) is KeyringUnavailableError with a hint", async () => {
  const { api, store } = windowsStore();
  api.failWith = WinError.NO_SUCH_LOGON_SESSION;
  const error = await store.load(SERVICE, "cli|x").catch((e) => e);
  assert.ok(error instanceof KeyringUnavailableError);
  assert.match(error.hint ?? "", /file/);
});

Deno.test("other Win32 errors are KeyringError naming the code, never the value", async () => {
  const { api, store } = windowsStore();
  api.failWith = WinError.ACCESS_DENIED;
  const error = await store.save(SERVICE, "cli|x", "sk-secret-value").catch((e) => e);
  assert.ok(error instanceof KeyringError);
  assert.match(error.message, /Win32 error 5/);
  assert.ok(!error.message.includes("sk-secret-value"));
});

Deno.test("an aborted signal stops before any Credential Manager call", async () => {
  const controller = new AbortController();
  controller.abort();
  const { api, store } = windowsStore(undefined, controller.signal);
  await assert.rejects(store.load(SERVICE, "cli|x"), CancelledError);
  assert.equal(api.calls.length, 0);
});

Deno.test("without FFI permission the backend is KeyringUnavailableError", async () => {
  const store = new WindowsKeyring({
    api: () => Promise.reject(new Deno.errors.NotCapable("Requires ffi access")),
  });
  await assert.rejects(store.load(SERVICE, "cli|x"), KeyringUnavailableError);
});
