/**
 * Storage rules: load / save / delete / migrate in every mode, with
 * MockKeyringStore error injection at each step. The invariant under test:
 * no path loses a credential, and the right copy wins.
 */
import assert from "node:assert/strict";
import {
  apiKeyAuth,
  type AuthData,
  chatgptAuth,
  serializeAuthCompact,
  serializeAuthFile,
} from "../lib/auth/auth_json.ts";
import { AuthStore, openAuthStore } from "../lib/auth/storage.ts";
import { resolveStoreMode, type StoreMode } from "../lib/auth/modes.ts";
import { KEYRING_SERVICE, keyringAccount } from "../lib/auth/keyring_item.ts";
import { MockKeyringStore } from "../lib/keyring/mod.ts";
import type { KeyringStore } from "../lib/keyring/store.ts";
import { CancelledError } from "../lib/cancel.ts";
import { CdxError } from "../lib/errors.ts";
import { makeJwt } from "./fakes/codex_auth_server.ts";
import { authContext, exists, modeOf, tempHome } from "./helpers/auth_context.ts";

const FILE_AUTH = apiKeyAuth("sk-file-0123456789abcdef");
const KEYCHAIN_AUTH = apiKeyAuth("sk-keychain-0123456789abcdef");

function chatgpt(): AuthData {
  return chatgptAuth({
    id_token: makeJwt({ email: "a@example.com" }),
    access_token: makeJwt({ exp: 4_000_000_000 }),
    refresh_token: "rt_storage_test_0001",
    account_id: "acct-1",
  }, Date.UTC(2026, 10, 26));
}

async function writeAuthFile(home: string, auth: AuthData): Promise<void> {
  await Deno.writeTextFile(`${home}/auth.json`, serializeAuthFile(auth), { mode: 0o600 });
}

async function readAuthFile(home: string): Promise<AuthData> {
  return JSON.parse(await Deno.readTextFile(`${home}/auth.json`));
}

async function storeFor(
  home: string,
  mode: StoreMode | undefined,
  keyring: KeyringStore | null,
  signal?: AbortSignal,
) {
  const ctx = await authContext(home, { keyring, signal });
  return { ctx, store: openAuthStore(ctx, { store: mode }) };
}

Deno.test("auto: a file credential moves into the keychain, the file goes only after read-back, config gets the key", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  await Deno.writeTextFile(`${home.path}/device_code_tokens.json`, '{"access_token":"legacy-at"}');
  const keyring = new MockKeyringStore();
  const { ctx, store } = await storeFor(home.path, undefined, keyring);
  const loaded = await store.load();
  assert.equal(loaded?.location.kind, "keyring");
  assert.deepEqual(loaded?.auth, FILE_AUTH);
  const account = await keyringAccount(home.path);
  assert.equal(keyring.peek(KEYRING_SERVICE, account), serializeAuthCompact(FILE_AUTH));
  assert.equal(await exists(`${home.path}/auth.json`), false);
  assert.equal(await exists(`${home.path}/device_code_tokens.json`), false);
  // Order: save, then read back, before anything is deleted.
  const ops = keyring.calls.map((c) => c.operation);
  assert.deepEqual(ops.slice(-2), ["save", "load"]);
  assert.equal(
    await Deno.readTextFile(`${home.path}/config.toml`),
    'cli_auth_credentials_store = "auto"\n',
  );
  assert.match(
    ctx.stderr.text(),
    /note: added cli_auth_credentials_store = "auto" to .*config\.toml/,
  );
});

Deno.test("auto: keychain failing on save keeps the file and returns its credential", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  keyring.inject({ failure: "locked", operation: "save" });
  const { ctx, store } = await storeFor(home.path, "auto", keyring);
  const loaded = await store.load();
  assert.deepEqual(loaded?.auth, FILE_AUTH);
  assert.equal(loaded?.location.kind, "file");
  assert.deepEqual(await readAuthFile(home.path), FILE_AUTH);
  assert.match(ctx.stderr.text(), /warning: could not move the credentials into the keychain/);
  assert.equal(await exists(`${home.path}/config.toml`), false);
});

Deno.test("auto: keychain failing on read-back keeps the file", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  // 1st load: the initial keychain look-up; 2nd and 3rd: the locked re-check and the read-back.
  keyring.inject({ failure: "error", operation: "load", nth: 3 });
  const { store } = await storeFor(home.path, "auto", keyring);
  const loaded = await store.load();
  assert.deepEqual(loaded?.auth, FILE_AUTH);
  assert.deepEqual(await readAuthFile(home.path), FILE_AUTH);
});

Deno.test("auto: a keychain that returns something else than was saved keeps the file", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const inner = new MockKeyringStore();
  const truncating: KeyringStore = {
    load: (s, a) => inner.load(s, a),
    save: (s, a, v) => inner.save(s, a, v.slice(0, 20)),
    delete: (s, a) => inner.delete(s, a),
    describe: () => "truncating",
  };
  const { store } = await storeFor(home.path, "auto", truncating);
  const loaded = await store.load();
  assert.deepEqual(loaded?.auth, FILE_AUTH);
  assert.deepEqual(await readAuthFile(home.path), FILE_AUTH);
});

Deno.test("migration: a failing file delete leaves both copies, and the keychain copy wins next time", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  const { ctx, store } = await storeFor(home.path, "auto", keyring);
  store.hooks.removeFile = () => Promise.reject(new Error("EBUSY (injected)"));
  const loaded = await store.load();
  assert.equal(loaded?.location.kind, "keyring");
  assert.deepEqual(await readAuthFile(home.path), FILE_AUTH);
  assert.match(ctx.stderr.text(), /could not be deleted: EBUSY/);
  // Next run: keychain first; the equal leftover file is cleaned up.
  const again = await storeFor(home.path, "auto", keyring);
  assert.deepEqual((await again.store.load())?.auth, FILE_AUTH);
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

for (const step of ["afterKeyringSave", "afterReadBack"] as const) {
  Deno.test(`migration aborted ${step}: nothing is lost and the next load finishes the move`, async () => {
    await using home = await tempHome();
    await writeAuthFile(home.path, FILE_AUTH);
    const keyring = new MockKeyringStore();
    const controller = new AbortController();
    const { store } = await storeFor(home.path, "auto", keyring, controller.signal);
    store.hooks[step] = () => controller.abort(new Error("crash"));
    await assert.rejects(store.load(), CancelledError);
    assert.deepEqual(await readAuthFile(home.path), FILE_AUTH);
    const again = await storeFor(home.path, "auto", keyring);
    const loaded = await again.store.load();
    assert.deepEqual(loaded?.auth, FILE_AUTH);
    assert.equal(loaded?.location.kind, "keyring");
    assert.equal(await exists(`${home.path}/auth.json`), false);
  });
}

Deno.test("keychain and a different auth.json: the keychain copy wins and the file is reported stale, not deleted", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  await keyring.save(
    KEYRING_SERVICE,
    await keyringAccount(home.path),
    serializeAuthCompact(KEYCHAIN_AUTH),
  );
  const { store } = await storeFor(home.path, "auto", keyring);
  const loaded = await store.load();
  assert.deepEqual(loaded?.auth, KEYCHAIN_AUTH);
  assert.equal(loaded?.staleFile, `${home.path}/auth.json`);
  assert.deepEqual(await readAuthFile(home.path), FILE_AUTH);
});

Deno.test("auto: a locked keychain on load falls back to auth.json without migrating", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  keyring.inject({ failure: "locked" });
  const { store } = await storeFor(home.path, "auto", keyring);
  const loaded = await store.load();
  assert.deepEqual(loaded?.auth, FILE_AUTH);
  assert.equal(keyring.calls.filter((c) => c.operation === "save").length, 0);
});

Deno.test("keyring mode: a failing keychain is an error on load and on save, and no file is written", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  keyring.inject({ failure: "locked" });
  const { store } = await storeFor(home.path, "keyring", keyring);
  await assert.rejects(store.load(), /failed to load CLI auth from keyring: mock keychain locked/);
  await assert.rejects(store.save(KEYCHAIN_AUTH), /failed to write OAuth tokens to keyring/);
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("auto: save falls back to auth.json (0600) with a warning that names the file", async () => {
  await using home = await tempHome();
  const { ctx, store } = await storeFor(home.path, "auto", null);
  const location = await store.save(KEYCHAIN_AUTH);
  assert.deepEqual(location, { kind: "file", path: `${home.path}/auth.json` });
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);
  assert.ok(ctx.stderr.text().includes(`credentials saved to ${home.path}/auth.json`));
  assert.ok(!ctx.stderr.text().includes("sk-keychain"));
});

Deno.test("file mode: auth.json is 0600 after every write and the keychain is never touched", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  const { store } = await storeFor(home.path, "file", keyring);
  for (const auth of [KEYCHAIN_AUTH, chatgpt(), FILE_AUTH]) {
    await store.save(auth);
    assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);
    assert.equal(await Deno.readTextFile(`${home.path}/auth.json`), serializeAuthFile(auth));
  }
  assert.equal(keyring.calls.length, 0);
});

Deno.test("file mode: the legacy token file is migrated to auth.json, then removed", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(
    `${home.path}/device_code_tokens.json`,
    '{"id_token":"it","access_token":"at-legacy","refresh_token":"rt-legacy","account_id":"a1"}',
  );
  const { store } = await storeFor(home.path, "file", null);
  const loaded = await store.load();
  assert.equal(loaded?.location.kind, "file");
  assert.equal((await readAuthFile(home.path)).tokens?.refresh_token, "rt-legacy");
  assert.equal(await exists(`${home.path}/device_code_tokens.json`), false);
});

Deno.test("config.toml saying file: an auto override does not move credentials where codex won't look", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(`${home.path}/config.toml`, 'cli_auth_credentials_store = "file"\n');
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  const { store } = await storeFor(home.path, "auto", keyring);
  const loaded = await store.load();
  assert.equal(loaded?.location.kind, "file");
  assert.equal(keyring.calls.filter((c) => c.operation === "save").length, 0);
});

Deno.test("keyring save: the file goes only after a verified save; config key added once", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  await Deno.writeTextFile(`${home.path}/config.toml`, '[profiles.x]\nmodel = "m"\n');
  const keyring = new MockKeyringStore();
  const { store } = await storeFor(home.path, "keyring", keyring);
  await store.save(KEYCHAIN_AUTH);
  assert.equal(await exists(`${home.path}/auth.json`), false);
  assert.equal(
    await Deno.readTextFile(`${home.path}/config.toml`),
    'cli_auth_credentials_store = "auto"\n[profiles.x]\nmodel = "m"\n',
  );
});

Deno.test("delete removes every copy; a keychain failing on delete is an error and the files still go", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  const account = await keyringAccount(home.path);
  await keyring.save(KEYRING_SERVICE, account, serializeAuthCompact(KEYCHAIN_AUTH));
  await writeAuthFile(home.path, FILE_AUTH);
  await Deno.writeTextFile(`${home.path}/device_code_tokens.json`, '{"access_token":"x"}');
  keyring.inject({ failure: "locked", operation: "delete", times: 1 });
  const { store } = await storeFor(home.path, "auto", keyring);
  await assert.rejects(
    store.delete(),
    (e) => e instanceof CdxError && /failed to delete auth from keyring/.test(e.message),
  );
  assert.equal(await exists(`${home.path}/auth.json`), false);
  assert.ok(keyring.peek(KEYRING_SERVICE, account), "the keychain copy is still there");
  const result = await store.delete();
  assert.deepEqual(result.removed.map((l) => l.kind), ["keyring"]);
  assert.equal(keyring.peek(KEYRING_SERVICE, account), undefined);
});

Deno.test("auto delete without any keychain removes the files and is not an error", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const { store } = await storeFor(home.path, "auto", null);
  assert.deepEqual((await store.delete()).removed.map((l) => l.kind), ["file"]);
});

Deno.test("ephemeral: credentials live in the process only", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  const ctx = await authContext(home.path, { keyring });
  const store = new AuthStore(
    ctx,
    resolveStoreMode({ option: "ephemeral", env: ctx.env, config: ctx.config }),
  );
  assert.deepEqual(await store.save(KEYCHAIN_AUTH), { kind: "memory" });
  assert.deepEqual((await store.load())?.auth, KEYCHAIN_AUTH);
  assert.equal(await exists(`${home.path}/auth.json`), false);
  assert.equal(keyring.calls.length, 0);
  const other = await authContext(home.path, { keyring });
  assert.equal(await openAuthStore(other, { store: "ephemeral" }).load(), undefined);
});

Deno.test("every secret read from storage is registered for redaction", async () => {
  await using home = await tempHome();
  const auth = chatgpt();
  await writeAuthFile(home.path, auth);
  const { ctx, store } = await storeFor(home.path, "file", null);
  await store.load();
  for (const secret of [auth.tokens!.access_token, auth.tokens!.refresh_token]) {
    assert.equal(ctx.secrets.redact(`x ${secret} y`), "x [REDACTED] y");
  }
});

Deno.test("a corrupt auth.json is a CdxError naming the file (never 'not logged in', never internal)", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(`${home.path}/auth.json`, '{"auth_mode": "apikey", ');
  const { store } = await storeFor(home.path, "file", null);
  await assert.rejects(store.load(), (e) => {
    assert.ok(e instanceof CdxError);
    assert.match(e.message, new RegExp(`${home.path}/auth\\.json is not valid JSON`));
    assert.equal(e.exitCode, 1);
    return true;
  });
});
