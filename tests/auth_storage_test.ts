/**
 * Storage rules: inspect / repair / save / delete in every mode, with
 * MockKeyringStore error injection at each step. The invariants under test:
 * no path loses a credential, two copies never diverge silently (the newer
 * wins), a keychain that cannot be read is never "not logged in", and a
 * read-only inspection writes nothing.
 */
import assert from "node:assert/strict";
import {
  apiKeyAuth,
  type AuthData,
  chatgptAuth,
  MAX_AUTH_BYTES,
  serializeAuthCompact,
  serializeAuthFile,
} from "../lib/auth/auth_json.ts";
import { inspectAuth, resolveAuthStore } from "../lib/auth/store.ts";
import { deleteFromStore, saveToStore } from "../lib/auth/save.ts";
import { loadAuth } from "../lib/auth/credentials.ts";
import type { StoreMode } from "../lib/auth/modes.ts";
import { KEYRING_SERVICE, keyringAccount } from "../lib/auth/keyring_item.ts";
import { KeyringTooLargeError, MockKeyringStore } from "../lib/keyring/mod.ts";
import type { KeyringStore } from "../lib/keyring/store.ts";
import { CancelledError } from "../lib/cancel.ts";
import { CdxError, ExitCode } from "../lib/errors.ts";
import { makeJwt } from "./fakes/codex_auth_server.ts";
import { authContext, exists, modeOf, tempHome } from "./helpers/auth_context.ts";

const FILE_AUTH = apiKeyAuth("sk-file-0123456789abcdef");
const KEYCHAIN_AUTH = apiKeyAuth("sk-keychain-0123456789abcdef");

function chatgpt(lastRefreshMs = Date.UTC(2026, 10, 26), rt = "rt_storage_test_0001"): AuthData {
  return chatgptAuth({
    id_token: makeJwt({ email: "a@example.com" }),
    access_token: makeJwt({ exp: 4_000_000_000, rt }),
    refresh_token: rt,
    account_id: "acct-1",
  }, lastRefreshMs);
}

async function writeAuthFile(home: string, auth: AuthData): Promise<void> {
  await Deno.writeTextFile(`${home}/auth.json`, serializeAuthFile(auth), { mode: 0o600 });
}

async function readAuthFile(home: string): Promise<AuthData> {
  return JSON.parse(await Deno.readTextFile(`${home}/auth.json`));
}

async function keychainHolds(keyring: MockKeyringStore, home: string): Promise<string | undefined> {
  return keyring.peek(KEYRING_SERVICE, await keyringAccount(home));
}

async function setup(
  home: string,
  mode: StoreMode | undefined,
  keyring: KeyringStore | null,
  signal?: AbortSignal,
) {
  const ctx = await authContext(home, { keyring, signal });
  return { ctx, store: resolveAuthStore(ctx, { store: mode }) };
}

/** A keychain that aborts `controller` right after a successful save (a crash there). */
function crashingAfterSave(inner: MockKeyringStore, controller: AbortController): KeyringStore {
  return {
    load: (s, a) => inner.load(s, a),
    save: async (s, a, v) => {
      await inner.save(s, a, v);
      controller.abort(new Error("crash"));
    },
    delete: (s, a) => inner.delete(s, a),
    describe: () => "crashing",
  };
}

Deno.test("auto: a file credential moves into the keychain: config first, then the verified item, then the file goes", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  await Deno.writeTextFile(`${home.path}/device_code_tokens.json`, '{"access_token":"legacy-at"}');
  const keyring = new MockKeyringStore();
  const { ctx } = await setup(home.path, undefined, keyring);
  const { active } = await loadAuth(ctx);
  assert.equal(active?.location.kind, "keyring");
  assert.deepEqual(active?.auth, FILE_AUTH);
  assert.equal(await keychainHolds(keyring, home.path), serializeAuthCompact(FILE_AUTH));
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

Deno.test("inspect is read-only: a pending migration is reported, nothing is written or created", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  const { ctx, store } = await setup(home.path, "auto", keyring);
  const before = [...Deno.readDirSync(home.path)].map((e) => e.name).sort();
  const snapshot = await inspectAuth(ctx, store);
  assert.deepEqual(snapshot.repairs.map((r) => r.kind), ["move-to-keyring"]);
  assert.equal(snapshot.active?.location.kind, "file");
  assert.deepEqual([...Deno.readDirSync(home.path)].map((e) => e.name).sort(), before);
  assert.equal(keyring.calls.filter((c) => c.operation !== "load").length, 0);
  // A CODEX_HOME that does not exist is not created by inspecting it.
  const missing = `${home.path}/not-there`;
  const other = await authContext(missing, { keyring });
  const empty = await inspectAuth(other, resolveAuthStore(other));
  assert.equal(empty.active, undefined);
  assert.equal(await exists(missing), false);
});

Deno.test("auto: keychain failing on save during a migration keeps the file and returns its credential", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  keyring.inject({ failure: "locked", operation: "save" });
  const { ctx } = await setup(home.path, "auto", keyring);
  const { active } = await loadAuth(ctx);
  assert.deepEqual(active?.auth, FILE_AUTH);
  assert.equal(active?.location.kind, "file");
  assert.deepEqual(await readAuthFile(home.path), FILE_AUTH);
  assert.match(ctx.stderr.text(), /warning: the keychain could not be used/);
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
  const { ctx } = await setup(home.path, "auto", truncating);
  const { active } = await loadAuth(ctx);
  assert.deepEqual(active?.auth, FILE_AUTH);
  assert.deepEqual(await readAuthFile(home.path), FILE_AUTH);
});

Deno.test("migration crashed after the keychain save: nothing is lost, codex still finds it, the next load finishes", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  const controller = new AbortController();
  const { ctx } = await setup(
    home.path,
    "auto",
    crashingAfterSave(keyring, controller),
    controller.signal,
  );
  await assert.rejects(loadAuth(ctx), CancelledError);
  // Every prefix leaves codex a copy it reads: config says auto, and the file is still there.
  assert.deepEqual(await readAuthFile(home.path), FILE_AUTH);
  assert.match(
    await Deno.readTextFile(`${home.path}/config.toml`),
    /cli_auth_credentials_store = "auto"/,
  );
  const again = await setup(home.path, "auto", keyring);
  const { active } = await loadAuth(again.ctx);
  assert.deepEqual(active?.auth, FILE_AUTH);
  assert.equal(active?.location.kind, "keyring");
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("keychain and a different auth.json: the newer copy wins — the file, unless the keychain's last_refresh is later", async () => {
  await using home = await tempHome();
  const older = chatgpt(Date.UTC(2026, 10, 1), "rt_old_0000000001");
  const newer = chatgpt(Date.UTC(2026, 10, 2), "rt_new_0000000002");
  // Keychain older than the file (a fallback save left it): the file wins and replaces it.
  {
    await writeAuthFile(home.path, newer);
    const keyring = new MockKeyringStore();
    await keyring.save(
      KEYRING_SERVICE,
      await keyringAccount(home.path),
      serializeAuthCompact(older),
    );
    const { ctx, store } = await setup(home.path, "auto", keyring);
    const snapshot = await inspectAuth(ctx, store);
    assert.deepEqual(snapshot.active?.auth, newer);
    assert.deepEqual(snapshot.repairs.map((r) => r.kind), ["move-to-keyring"]);
    const { active } = await loadAuth(ctx);
    assert.deepEqual(active?.auth, newer);
    assert.equal(await keychainHolds(keyring, home.path), serializeAuthCompact(newer));
    assert.equal(await exists(`${home.path}/auth.json`), false);
  }
  // Keychain newer than the file: the keychain wins, the stale file goes.
  {
    await writeAuthFile(home.path, older);
    const keyring = new MockKeyringStore();
    await keyring.save(
      KEYRING_SERVICE,
      await keyringAccount(home.path),
      serializeAuthCompact(newer),
    );
    const { ctx } = await setup(home.path, "auto", keyring);
    const { active } = await loadAuth(ctx);
    assert.deepEqual(active?.auth, newer);
    assert.equal(await exists(`${home.path}/auth.json`), false);
  }
  // API keys have no date: the file (the copy written last in every known path) wins.
  {
    await writeAuthFile(home.path, FILE_AUTH);
    const keyring = new MockKeyringStore();
    await keyring.save(
      KEYRING_SERVICE,
      await keyringAccount(home.path),
      serializeAuthCompact(KEYCHAIN_AUTH),
    );
    const { ctx } = await setup(home.path, "auto", keyring);
    assert.deepEqual((await loadAuth(ctx)).active?.auth, FILE_AUTH);
  }
});

Deno.test("auto: a locked keychain on load uses auth.json with a warning, and without auth.json the state is unknown (exit 3)", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  keyring.inject({ failure: "locked" });
  const { ctx } = await setup(home.path, "auto", keyring);
  const { active } = await loadAuth(ctx);
  assert.deepEqual(active?.auth, FILE_AUTH);
  assert.match(ctx.stderr.text(), /warning: the keychain could not be read \(mock keychain locked/);
  assert.equal(keyring.calls.filter((c) => c.operation === "save").length, 0);
  await Deno.remove(`${home.path}/auth.json`);
  const again = await setup(home.path, "auto", keyring);
  await assert.rejects(loadAuth(again.ctx), (e) => {
    assert.ok(e instanceof CdxError);
    assert.equal(e.exitCode, ExitCode.STORE_UNAVAILABLE);
    assert.match(e.message, /cannot tell whether you are logged in/);
    return true;
  });
});

Deno.test("keyring mode: a failing keychain is exit 3 on load and on save, and no file is written", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  keyring.inject({ failure: "locked" });
  const { ctx, store } = await setup(home.path, "keyring", keyring);
  await assert.rejects(loadAuth(ctx), (e) => e instanceof CdxError && e.exitCode === 3);
  await assert.rejects(
    saveToStore(ctx, store, KEYCHAIN_AUTH, { onUnreadableKeyring: "fail" }),
    (e) =>
      e instanceof CdxError && e.exitCode === 3 &&
      /could not save the credentials in the keychain/.test(e.message),
  );
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("auto: a login with a locked keychain stops (exit 3, --store file named) and writes no second copy", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  await keyring.save(
    KEYRING_SERVICE,
    await keyringAccount(home.path),
    serializeAuthCompact(KEYCHAIN_AUTH),
  );
  keyring.inject({ failure: "locked" });
  const { ctx, store } = await setup(home.path, "auto", keyring);
  await assert.rejects(
    saveToStore(ctx, store, FILE_AUTH, { onUnreadableKeyring: "fail" }),
    (e) => e instanceof CdxError && e.exitCode === 3 && /--store file/.test(e.hint ?? ""),
  );
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("auto: no keychain at all — the save goes to auth.json (0600) with a warning that names the file", async () => {
  await using home = await tempHome();
  const { ctx, store } = await setup(home.path, "auto", null);
  const { location, notices } = await saveToStore(ctx, store, KEYCHAIN_AUTH, {
    onUnreadableKeyring: "fail",
  });
  assert.deepEqual(location, { kind: "file", path: `${home.path}/auth.json` });
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);
  assert.ok(notices.some((n) => n.text.includes(`credentials saved to ${home.path}/auth.json`)));
  assert.ok(!notices.some((n) => n.text.includes("sk-keychain")));
});

Deno.test("auto: a keychain save that fails after a refresh keeps the new tokens in auth.json and removes the stale item", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  await keyring.save(
    KEYRING_SERVICE,
    await keyringAccount(home.path),
    serializeAuthCompact(chatgpt()),
  );
  keyring.inject({ failure: "error", operation: "save" });
  const { ctx, store } = await setup(home.path, "auto", keyring);
  const next = chatgpt(Date.UTC(2026, 10, 27), "rt_rotated_00000002");
  const { location, notices } = await saveToStore(ctx, store, next, {
    onUnreadableKeyring: "file",
  });
  assert.equal(location.kind, "file");
  assert.deepEqual(await readAuthFile(home.path), next);
  assert.equal(await keychainHolds(keyring, home.path), undefined, "no stale copy left to win");
  assert.ok(notices.some((n) => n.level === "warning"));
});

Deno.test("auto: credentials too large for one keychain item stay in auth.json; no migration is retried", async () => {
  await using home = await tempHome();
  const inner = new MockKeyringStore();
  const small: KeyringStore = {
    load: (s, a) => inner.load(s, a),
    save: (s, a, v) =>
      v.length > 64
        ? Promise.reject(new KeyringTooLargeError("too large (test)", v.length, 64))
        : inner.save(s, a, v),
    delete: (s, a) => inner.delete(s, a),
    describe: () => "small",
    fits: (_s, _a, v) => v.length <= 64,
  };
  const big = chatgpt();
  const { ctx, store } = await setup(home.path, "auto", small);
  const saved = await saveToStore(ctx, store, big, { onUnreadableKeyring: "fail" });
  assert.equal(saved.location.kind, "file");
  assert.ok(saved.notices.some((n) => /too large/.test(n.text)));
  const snapshot = await inspectAuth(ctx, store);
  assert.deepEqual(snapshot.repairs, []);
  assert.equal(snapshot.active?.location.kind, "file");
});

Deno.test("file mode: auth.json is 0600 after every write and the keychain is never touched", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  const { ctx, store } = await setup(home.path, "file", keyring);
  for (const auth of [KEYCHAIN_AUTH, chatgpt(), FILE_AUTH]) {
    await saveToStore(ctx, store, auth, { onUnreadableKeyring: "fail" });
    assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);
    assert.equal(await Deno.readTextFile(`${home.path}/auth.json`), serializeAuthFile(auth));
  }
  await loadAuth(ctx, { store: "file" });
  assert.equal(keyring.calls.length, 0);
});

Deno.test("file mode: the legacy token file is converted to auth.json, then removed", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(
    `${home.path}/device_code_tokens.json`,
    '{"id_token":"it","access_token":"at-legacy","refresh_token":"rt-legacy","account_id":"a1"}',
  );
  const { ctx } = await setup(home.path, "file", null);
  const { active } = await loadAuth(ctx, { store: "file" });
  assert.equal(active?.location.kind, "file");
  assert.equal((await readAuthFile(home.path)).tokens?.refresh_token, "rt-legacy");
  assert.equal(await exists(`${home.path}/device_code_tokens.json`), false);
});

Deno.test("a group-readable auth.json is reported by inspect and set to 0600 by the next use", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  await Deno.chmod(`${home.path}/auth.json`, 0o644);
  const { ctx, store } = await setup(home.path, "file", null);
  const snapshot = await inspectAuth(ctx, store);
  assert.ok(snapshot.notices.some((n) => /mode 0644/.test(n.text)));
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o644, "inspect writes nothing");
  await loadAuth(ctx, { store: "file" });
  assert.equal(await modeOf(`${home.path}/auth.json`), 0o600);
});

Deno.test("config.toml saying file: an auto override does not move credentials where codex won't look", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(`${home.path}/config.toml`, 'cli_auth_credentials_store = "file"\n');
  await writeAuthFile(home.path, FILE_AUTH);
  const keyring = new MockKeyringStore();
  const { ctx } = await setup(home.path, "auto", keyring);
  const { active } = await loadAuth(ctx, { store: "auto" });
  assert.equal(active?.location.kind, "file");
  assert.equal(keyring.calls.filter((c) => c.operation === "save").length, 0);
});

Deno.test("keyring save: the file goes only after a verified save; config key added once, before the item", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  await Deno.writeTextFile(`${home.path}/config.toml`, '[profiles.x]\nmodel = "m"\n');
  const keyring = new MockKeyringStore();
  const { ctx, store } = await setup(home.path, "keyring", keyring);
  await saveToStore(ctx, store, KEYCHAIN_AUTH, { onUnreadableKeyring: "fail" });
  assert.equal(await exists(`${home.path}/auth.json`), false);
  assert.equal(
    await Deno.readTextFile(`${home.path}/config.toml`),
    'cli_auth_credentials_store = "auto"\n[profiles.x]\nmodel = "m"\n',
  );
});

Deno.test("delete removes every copy; a keychain failing on delete is reported (state unknown) and the files still go", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  const account = await keyringAccount(home.path);
  await keyring.save(KEYRING_SERVICE, account, serializeAuthCompact(KEYCHAIN_AUTH));
  await writeAuthFile(home.path, FILE_AUTH);
  await Deno.writeTextFile(`${home.path}/device_code_tokens.json`, '{"access_token":"x"}');
  keyring.inject({ failure: "locked", operation: "delete", times: 1 });
  const { ctx, store } = await setup(home.path, "auto", keyring);
  const first = await deleteFromStore(ctx, store);
  assert.equal(first.keyringUnknown, true);
  assert.match(first.problems.join(), /keychain item could not be deleted/);
  assert.equal(await exists(`${home.path}/auth.json`), false);
  assert.ok(keyring.peek(KEYRING_SERVICE, account), "the keychain copy is still there");
  const second = await deleteFromStore(ctx, store);
  assert.deepEqual(second.removed.map((l) => l.kind), ["keyring"]);
  assert.equal(keyring.peek(KEYRING_SERVICE, account), undefined);
});

Deno.test("auto delete without any keychain removes the files and is not an error", async () => {
  await using home = await tempHome();
  await writeAuthFile(home.path, FILE_AUTH);
  const { ctx, store } = await setup(home.path, "auto", null);
  const result = await deleteFromStore(ctx, store);
  assert.deepEqual(result.removed.map((l) => l.kind), ["file"]);
  assert.deepEqual(result.problems, []);
});

Deno.test("ephemeral: credentials live in the process only", async () => {
  await using home = await tempHome();
  const keyring = new MockKeyringStore();
  const { ctx, store } = await setup(home.path, "ephemeral", keyring);
  const saved = await saveToStore(ctx, store, KEYCHAIN_AUTH, { onUnreadableKeyring: "fail" });
  assert.deepEqual(saved.location, { kind: "memory" });
  assert.deepEqual((await loadAuth(ctx, { store: "ephemeral" })).active?.auth, KEYCHAIN_AUTH);
  assert.equal(await exists(`${home.path}/auth.json`), false);
  assert.equal(keyring.calls.length, 0);
  const other = await authContext(home.path, { keyring });
  assert.equal((await loadAuth(other, { store: "ephemeral" })).active, undefined);
});

Deno.test("every secret read from storage is registered for redaction", async () => {
  await using home = await tempHome();
  // Opaque tokens: no pattern recognises them, so only registration can mask them.
  const auth = chatgptAuth({
    id_token: "opaque-id-token-0123456789",
    access_token: "opaque-access-token-0123456789",
    refresh_token: "opaque-refresh-token-0123456789",
    account_id: "acct-1",
  }, Date.UTC(2026, 10, 26));
  await writeAuthFile(home.path, auth);
  const { ctx } = await setup(home.path, "file", null);
  const line = (s: string) => `x ${s} y`;
  for (const secret of [auth.tokens!.access_token, auth.tokens!.refresh_token]) {
    assert.equal(ctx.secrets.redact(line(secret)), line(secret), "not masked before the load");
  }
  await loadAuth(ctx, { store: "file" });
  for (
    const secret of [auth.tokens!.access_token, auth.tokens!.refresh_token, auth.tokens!.id_token]
  ) {
    assert.equal(ctx.secrets.redact(line(secret)), "x [REDACTED] y");
  }
});

Deno.test("a corrupt auth.json is a CdxError naming the file and the position, quoting none of it", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(
    `${home.path}/auth.json`,
    '{"auth_mode": "apikey", "OPENAI_API_KEY": sk-quoted-secret}',
  );
  const { ctx } = await setup(home.path, "file", null);
  await assert.rejects(loadAuth(ctx, { store: "file" }), (e) => {
    assert.ok(e instanceof CdxError);
    assert.match(e.message, new RegExp(`${home.path}/auth\\.json is not valid JSON`));
    assert.ok(!e.message.includes("sk-quoted"), e.message);
    assert.equal(e.exitCode, 1);
    return true;
  });
});

Deno.test("an oversized auth.json is refused with a clear error before it is parsed", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(`${home.path}/auth.json`, `{"pad":"${"x".repeat(MAX_AUTH_BYTES + 1)}"}`);
  const { ctx } = await setup(home.path, "file", null);
  await assert.rejects(loadAuth(ctx, { store: "file" }), /too large/);
});
