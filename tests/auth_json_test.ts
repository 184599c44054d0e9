import assert from "node:assert/strict";
import {
  type AuthData,
  parseAuth,
  parseLegacyTokens,
  resolveAuthMode,
  serializeAuthCompact,
  serializeAuthFile,
} from "../lib/auth/auth_json.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { parseIdClaims, tokenExpiryMs } from "../lib/auth/jwt.ts";
import { keyringAccount, keyringAccountForPath } from "../lib/auth/keyring_item.ts";
import { ensureStoreKeyInConfig, insertStoreKey, resolveStoreMode } from "../lib/auth/modes.ts";
import { mapEnv } from "../lib/context.ts";
import { CdxError } from "../lib/errors.ts";
import { makeJwt } from "./fakes/codex_auth_server.ts";

Deno.test("the API-key auth.json is codex's exact bytes: pretty, 2 spaces, no trailing newline", () => {
  const text = serializeAuthFile({ OPENAI_API_KEY: "sk-test-123456", auth_mode: "apikey" });
  assert.equal(text, '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-test-123456"\n}');
  assert.equal(
    serializeAuthCompact({ auth_mode: "apikey", OPENAI_API_KEY: "sk-test-123456" }),
    '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-test-123456"}',
  );
});

Deno.test("a ChatGPT record keeps codex's key order, null API key, and unknown fields", () => {
  const text = `{
  "last_refresh": "2026-11-26T06:52:42.960452110Z",
  "future_field": {"a": 1},
  "tokens": {"login_owner_id": "x", "refresh_token": "r", "access_token": "a", "id_token": "i",
             "account_id": null, "extra_token_field": true},
  "OPENAI_API_KEY": null,
  "auth_mode": "chatgpt"
}`;
  const auth = parseAuth(text, "auth.json");
  const out = JSON.parse(serializeAuthFile(auth));
  assert.deepEqual(Object.keys(out), [
    "auth_mode",
    "OPENAI_API_KEY",
    "tokens",
    "last_refresh",
    "future_field",
  ]);
  assert.deepEqual(Object.keys(out.tokens), [
    "id_token",
    "access_token",
    "refresh_token",
    "login_owner_id",
    "account_id",
    "extra_token_field",
  ]);
  assert.equal(out.OPENAI_API_KEY, null);
  assert.deepEqual(out.future_field, { a: 1 });
});

Deno.test("auth_mode resolution: explicit field, else API key when the file has one, else ChatGPT", () => {
  assert.equal(resolveAuthMode({ auth_mode: "chatgpt", OPENAI_API_KEY: "sk-x" }), "chatgpt");
  assert.equal(resolveAuthMode({ OPENAI_API_KEY: "sk-legacy" }), "apikey");
  const legacyBoth: AuthData = {
    OPENAI_API_KEY: "sk-legacy",
    tokens: { id_token: "i", access_token: "a", refresh_token: "r" },
  };
  assert.equal(resolveAuthMode(legacyBoth), "apikey");
  assert.equal(resolveAuthMode({ tokens: legacyBoth.tokens }), "chatgpt");
});

Deno.test("a broken auth.json is an error naming the file, not 'not logged in'", () => {
  assert.throws(() => parseAuth("{not json", "/h/auth.json"), /\/h\/auth\.json is not valid JSON/);
  assert.throws(() => parseAuth('{"tokens":{"id_token":"i"}}', "f"), /tokens.access_token/);
});

Deno.test("the legacy device_code_tokens.json becomes a ChatGPT record (flat or nested tokens)", () => {
  const flat = parseLegacyTokens(
    '{"access_token":"at","refresh_token":"rt","id_token":"it","account_id":"acc","expiry":"x"}',
    "legacy",
  );
  assert.equal(flat?.auth_mode, "chatgpt");
  assert.equal(flat?.tokens?.account_id, "acc");
  assert.equal(flat?.tokens?.refresh_token, "rt");
  const nested = parseLegacyTokens('{"tokens":{"access_token":"at2"}}', "legacy");
  assert.equal(nested?.tokens?.access_token, "at2");
  assert.equal(nested?.tokens?.refresh_token, "");
  assert.equal(parseLegacyTokens("{}", "legacy"), undefined);
});

Deno.test("writeFileAtomic creates a 0600 file in a 0700 dir and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const home = `${dir}/new/home`;
    await writeFileAtomic(`${home}/auth.json`, "one");
    await writeFileAtomic(`${home}/auth.json`, "two");
    assert.equal(await Deno.readTextFile(`${home}/auth.json`), "two");
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(`${home}/auth.json`)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(home)).mode! & 0o777, 0o700);
    }
    const names = [...Deno.readDirSync(home)].map((e) => e.name);
    assert.deepEqual(names, ["auth.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keychain account names match codex's vectors (sha256 of the canonical CODEX_HOME)", async () => {
  assert.equal(await keyringAccountForPath("/home/u/.codex"), "cli|9ba275091964248d");
  assert.equal(await keyringAccountForPath("~/.codex"), "cli|940db7b1d0e4eb40");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink(dir, `${dir}-link`);
    // A symlinked CODEX_HOME hashes to the same item as its target.
    assert.equal(await keyringAccount(`${dir}-link`), await keyringAccountForPath(dir));
    // A path that does not exist is hashed as given.
    assert.equal(
      await keyringAccount(`${dir}/missing`),
      await keyringAccountForPath(`${dir}/missing`),
    );
  } finally {
    await Deno.remove(`${dir}-link`);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JWT claims: email (top-level or profile), plan, account id, subject, access-token exp", () => {
  const id = makeJwt({
    sub: "user-77",
    "https://api.openai.com/profile": { email: "p@example.com" },
    "https://api.openai.com/auth": { chatgpt_account_id: "acc-9", chatgpt_plan_type: "pro" },
  });
  assert.deepEqual(parseIdClaims(id), {
    email: "p@example.com",
    accountId: "acc-9",
    plan: "pro",
    userId: undefined,
    subject: "user-77",
    exp: undefined,
  });
  assert.equal(tokenExpiryMs(makeJwt({ exp: 1000 })), 1_000_000);
  // An exp no Date can hold is no expiry, not "Invalid time value".
  assert.equal(tokenExpiryMs(makeJwt({ exp: 1e20 })), undefined);
  assert.equal(tokenExpiryMs(makeJwt({ exp: "soon" })), undefined);
  assert.equal(tokenExpiryMs("opaque-token"), undefined);
  assert.deepEqual(parseIdClaims("a..c"), {});
});

Deno.test("store mode precedence: --store > CDX_CREDENTIALS_STORE > config.toml > auto", () => {
  const config = { path: "/h/config.toml", values: { cli_auth_credentials_store: "file" } };
  const none = { path: "/h/config.toml", values: {} };
  const env = mapEnv({ CDX_CREDENTIALS_STORE: "keyring" });
  assert.deepEqual(resolveStoreMode({ option: "ephemeral", env, config }), {
    mode: "ephemeral",
    source: "option",
    configured: "file",
  });
  assert.equal(resolveStoreMode({ env, config }).mode, "keyring");
  assert.equal(resolveStoreMode({ env: mapEnv({}), config }).mode, "file");
  assert.deepEqual(resolveStoreMode({ env: mapEnv({}), config: none }), {
    mode: "auto",
    source: "default",
  });
  assert.throws(
    () => resolveStoreMode({ env: mapEnv({ CDX_CREDENTIALS_STORE: "vault" }), config: none }),
    (e) => e instanceof CdxError && e.exitCode === 2,
  );
  assert.throws(
    () =>
      resolveStoreMode({
        env: mapEnv({}),
        config: { path: "c", values: { cli_auth_credentials_store: "disk" } },
      }),
    /cli_auth_credentials_store must be one of/,
  );
});

Deno.test("the store key goes before the first table; every other byte stays", () => {
  const text = '# my config\nmodel = "o3"\n\n[profiles.fast]\nmodel = "o4-mini"\n';
  assert.equal(
    insertStoreKey(text),
    '# my config\nmodel = "o3"\n\ncli_auth_credentials_store = "auto"\n[profiles.fast]\nmodel = "o4-mini"\n',
  );
  assert.equal(insertStoreKey(""), 'cli_auth_credentials_store = "auto"\n');
  assert.equal(insertStoreKey("a = 1"), 'a = 1\ncli_auth_credentials_store = "auto"\n');
  assert.equal(
    insertStoreKey("a = 1\r\n[t]\r\n"),
    'a = 1\r\ncli_auth_credentials_store = "auto"\r\n[t]\r\n',
  );
  // A "[" inside a multi-line string is not a table header.
  const multi = 'x = """\n[not a table]\n"""\n[t]\n';
  assert.equal(
    insertStoreKey(multi),
    'x = """\n[not a table]\n"""\ncli_auth_credentials_store = "auto"\n[t]\n',
  );
});

Deno.test("ensureStoreKeyInConfig creates config.toml, keeps its mode, and never adds the key twice", async () => {
  const home = await Deno.makeTempDir();
  try {
    assert.equal(await ensureStoreKeyInConfig(home), `${home}/config.toml`);
    assert.equal(
      await Deno.readTextFile(`${home}/config.toml`),
      'cli_auth_credentials_store = "auto"\n',
    );
    assert.equal(await ensureStoreKeyInConfig(home), undefined);
    await Deno.writeTextFile(`${home}/config.toml`, "[t]\nk = 1\n", { mode: 0o644 });
    await Deno.chmod(`${home}/config.toml`, 0o644);
    await ensureStoreKeyInConfig(home);
    assert.equal(
      await Deno.readTextFile(`${home}/config.toml`),
      'cli_auth_credentials_store = "auto"\n[t]\nk = 1\n',
    );
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(`${home}/config.toml`)).mode! & 0o777, 0o644);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("setStoreKey replaces the top-level value in place (comment and other bytes kept) or inserts it", async () => {
  const { setStoreKey } = await import("../lib/auth/modes.ts");
  assert.equal(
    setStoreKey('model = "m"\ncli_auth_credentials_store = "auto" # why\n[x]\na = 1\n', "file"),
    'model = "m"\ncli_auth_credentials_store = "file" # why\n[x]\na = 1\n',
  );
  assert.equal(
    setStoreKey("cli_auth_credentials_store='keyring'\r\n", "auto"),
    'cli_auth_credentials_store="auto"\r\n',
  );
  // A key of the same name inside a table is not the top-level one.
  assert.equal(
    setStoreKey('[t]\ncli_auth_credentials_store = "auto"\n', "file"),
    'cli_auth_credentials_store = "file"\n[t]\ncli_auth_credentials_store = "auto"\n',
  );
  assert.equal(setStoreKey("", "file"), 'cli_auth_credentials_store = "file"\n');
});
