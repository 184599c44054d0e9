/**
 * The real keychain path: cdx as a subprocess against a private
 * gnome-keyring (secret-tool), and interop with the real codex CLI 0.169.0
 * in both directions, in file and keyring mode.
 *
 * The codex tests run only when `npx` has @openai/codex@0.169.0 in its cache
 * (they never download: `npm_config_offline=true`).
 */
import assert from "node:assert/strict";
import { hasSecretServiceTools, startSecretService } from "./helpers/secret_service.ts";
import { runCdx } from "./helpers/cli.ts";
import { keyringAccount } from "../lib/auth/keyring_item.ts";
import { chatgptAuth, serializeAuthFile } from "../lib/auth/auth_json.ts";
import { makeJwt } from "./fakes/codex_auth_server.ts";
import { exists, tempHome } from "./helpers/auth_context.ts";
import { runChild } from "./helpers/spawn.ts";
import { assertSchema } from "./helpers/schema.ts";

const HAS_SS = Deno.build.os === "linux" && hasSecretServiceTools();
const KEY = "sk-proj-keyring-test-0123456789abcd";

function secretTool(env: Record<string, string>, args: string[], stdin?: string) {
  return runChild("secret-tool", args, { env, stdin });
}

async function lookup(env: Record<string, string>, home: string) {
  return await secretTool(env, [
    "lookup",
    "service",
    "Codex Auth",
    "username",
    await keyringAccount(home),
  ]);
}

Deno.test({
  name:
    "keychain: auto login stores codex's item, no auth.json, adds the config key; status and logout use it",
  ignore: !HAS_SS,
  async fn() {
    await using ss = await startSecretService();
    await using home = await tempHome();
    const env = { ...ss.env, CODEX_HOME: home.path };
    const login = await runCdx(["login", "--with-api-key"], { env, stdin: KEY });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, /note: added cli_auth_credentials_store = "auto"/);
    assert.equal(await exists(`${home.path}/auth.json`), false);
    const item = await lookup(ss.env, home.path);
    assert.equal(item.stdout, `{"auth_mode":"apikey","OPENAI_API_KEY":"${KEY}"}`);

    const status = await runCdx(["login", "status", "--json"], { env });
    const parsed = assertSchema("status", JSON.parse(status.stdout));
    assert.equal(parsed.store.location, "keyring");
    assert.equal(parsed.store.service, "Codex Auth");
    assert.equal(parsed.store.account, await keyringAccount(home.path));
    assert.ok(!status.stderr.includes(KEY) && !status.stdout.includes(KEY));

    const logout = await runCdx(["logout"], { env });
    assert.equal(logout.stderr, "Successfully logged out\n");
    assert.equal((await lookup(ss.env, home.path)).code, 1);
  },
});

Deno.test({
  name:
    "keychain: status only reports a pending move of a plain auth.json; the next use moves it (auto)",
  ignore: !HAS_SS,
  async fn() {
    await using ss = await startSecretService();
    await using home = await tempHome();
    await Deno.writeTextFile(
      `${home.path}/auth.json`,
      serializeAuthFile({ auth_mode: "apikey", OPENAI_API_KEY: KEY }),
    );
    const env = { ...ss.env, CODEX_HOME: home.path };
    const status = await runCdx(["login", "status"], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Stored in: file/);
    assert.match(
      status.stdout,
      /Pending: the credentials will be moved into the keychain on next use/,
    );
    assert.equal(await exists(`${home.path}/auth.json`), true, "status writes nothing");
    assert.equal(await exists(`${home.path}/config.toml`), false, "status edits no config");
    assert.equal((await lookup(ss.env, home.path)).code, 1);

    const token = await runCdx(["login", "token"], { env });
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout, `${KEY}\n`);
    assert.equal(await exists(`${home.path}/auth.json`), false);
    assert.equal(JSON.parse((await lookup(ss.env, home.path)).stdout).OPENAI_API_KEY, KEY);
    const after = await runCdx(["login", "status"], { env });
    assert.match(after.stdout, /Stored in: keychain/);
  },
});

Deno.test({
  name: "keychain: file mode never asks the keychain (no secret-tool spawn for status or token)",
  ignore: !HAS_SS,
  async fn() {
    await using ss = await startSecretService();
    await using home = await tempHome();
    const env = { ...ss.env, CODEX_HOME: home.path, CDX_CREDENTIALS_STORE: "file" };
    assert.equal((await runCdx(["login", "--with-api-key"], { env, stdin: KEY })).code, 0);
    for (const args of [["login", "status"], ["login", "token"]]) {
      const run = await runCdx([...args, "--log-level", "debug"], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.ok(!/spawn secret-tool/.test(run.stderr), run.stderr);
    }
    // The control: in auto mode the same debug log does show the keychain call.
    const auto = await runCdx(["login", "status", "--log-level", "debug"], {
      env: { ...ss.env, CODEX_HOME: home.path, CDX_CREDENTIALS_STORE: "auto" },
    });
    assert.match(auto.stderr, /spawn secret-tool/);
  },
});

Deno.test({
  name:
    "keychain: locked collection — keyring mode and an auto login stop with exit 3 (naming --store file), writing no second copy; --store file works",
  ignore: !HAS_SS,
  async fn() {
    await using ss = await startSecretService();
    await ss.lock();
    await using home = await tempHome();
    const env = { ...ss.env, CODEX_HOME: home.path };
    const strict = await runCdx(["login", "--with-api-key", "--store", "keyring"], {
      env,
      stdin: KEY,
    });
    assert.equal(strict.code, 3, strict.stderr);
    assert.match(strict.stderr, /could not save the credentials in the keychain/);
    assert.equal(await exists(`${home.path}/auth.json`), false);

    const auto = await runCdx(["login", "--with-api-key"], { env, stdin: KEY });
    assert.equal(auto.code, 3, auto.stderr);
    assert.match(auto.stderr, /--store file/);
    assert.equal(await exists(`${home.path}/auth.json`), false);
    assert.ok(!auto.stderr.includes(KEY));

    const status = await runCdx(["login", "status"], { env });
    assert.equal(status.code, 3, "a locked keychain is never 'not logged in'");
    assert.match(status.stdout, /Login state unknown: the keychain could not be read/);

    const file = await runCdx(["login", "--with-api-key", "--store", "file"], { env, stdin: KEY });
    assert.equal(file.code, 0, file.stderr);
    const after = await runCdx(["login", "status", "--store", "file"], { env });
    assert.equal(after.code, 0);
    assert.match(after.stdout, /Stored in: file/);
  },
});

// --- interop with the real codex CLI -------------------------------------------------------------

const CODEX_PKG = "@openai/codex@0.169.0";

function codexAvailable(): boolean {
  try {
    const out = new Deno.Command("npx", {
      args: ["-y", CODEX_PKG, "--version"],
      env: { npm_config_offline: "true" },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.success && new TextDecoder().decode(out.stdout).includes("0.169.0");
  } catch {
    return false;
  }
}

const HAS_CODEX = HAS_SS && codexAvailable();

async function codex(args: string[], env: Record<string, string>, stdin?: string) {
  const out = await runChild("npx", ["-y", CODEX_PKG, ...args], {
    env: { npm_config_offline: "true", ...env },
    stdin,
  });
  // codex warns about helper binaries when CODEX_HOME is under the temp dir.
  const stderr = out.stderr.split("\n").filter((l) => !l.startsWith("WARNING: proceeding"))
    .join("\n");
  return { ...out, stderr };
}

/** A private keyring and a CODEX_HOME whose config.toml selects `mode`. */
async function interopHome(mode: "file" | "keyring") {
  const ss = await startSecretService();
  const home = await tempHome();
  await Deno.writeTextFile(`${home.path}/config.toml`, `cli_auth_credentials_store = "${mode}"\n`);
  return {
    ss,
    home,
    env: { ...ss.env, CODEX_HOME: home.path },
    async [Symbol.asyncDispose]() {
      await home[Symbol.asyncDispose]();
      await ss[Symbol.asyncDispose]();
    },
  };
}

for (const mode of ["file", "keyring"] as const) {
  Deno.test({
    name: `codex interop (${mode}): what cdx saves, codex login status reports`,
    ignore: !HAS_CODEX,
    async fn() {
      await using peer = await interopHome(mode);
      const { ss, home, env } = peer;
      assert.equal((await runCdx(["login", "--with-api-key"], { env, stdin: KEY })).code, 0);
      const status = await codex(["login", "status"], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stderr, /API key configured - sk-proj-\*\*\*9abcd/);

      // A ChatGPT login saved by cdx (tokens) is read by codex too.
      const auth = chatgptAuth({
        id_token: makeJwt({ email: "i@example.com" }),
        access_token: makeJwt({ exp: 4_000_000_000 }),
        refresh_token: "rt_interop_000001",
        account_id: "acct-i",
      }, Date.now());
      const { saveLogin } = await import("../lib/auth/credentials.ts");
      const { authContext } = await import("./helpers/auth_context.ts");
      const { createPlatformKeyring } = await import("../lib/keyring/mod.ts");
      const { createProcessRunner } = await import("../lib/process.ts");
      const ctx = await authContext(home.path, {
        env: ss.env,
        keyring: createPlatformKeyring({
          os: "linux",
          runner: createProcessRunner(),
          env: { get: (n) => ss.env[n] },
        }),
      });
      await saveLogin(ctx, auth, { store: mode });
      const chat = await codex(["login", "status"], env);
      assert.equal(chat.code, 0, chat.stderr);
      assert.match(chat.stderr, /Logged in using ChatGPT/);
    },
  });

  Deno.test({
    name:
      `codex interop (${mode}): what codex login --with-api-key saves, cdx login status reports`,
    ignore: !HAS_CODEX,
    async fn() {
      await using peer = await interopHome(mode);
      const { home, env } = peer;
      const saved = await codex(["login", "--with-api-key"], env, `${KEY}\n`);
      assert.equal(saved.code, 0, saved.stderr);
      assert.equal(await exists(`${home.path}/auth.json`), mode === "file");
      const status = await runCdx(["login", "status", "--json"], { env });
      assert.equal(status.code, 0, status.stderr);
      const parsed = assertSchema("status", JSON.parse(status.stdout));
      assert.equal(parsed.api_key, "sk-proj-***9abcd");
      assert.equal(parsed.store.location, mode === "file" ? "file" : "keyring");
      // And codex's logout after cdx read it leaves nothing behind for cdx.
      assert.equal((await codex(["logout"], env)).code, 0);
      assert.equal((await runCdx(["login", "status"], { env })).code, 1);
    },
  });
}

Deno.test({
  name:
    "codex interop: device login against the local fake — codex and cdx write the same auth.json shape, and read each other's",
  ignore: !HAS_CODEX,
  async fn() {
    const { startCodexAuthServer } = await import("./fakes/codex_auth_server.ts");
    await using fake = await startCodexAuthServer({ interval: "1", autoApproveAfterPolls: 2 });
    await using codexHome = await tempHome();
    await using cdxHome = await tempHome();
    const byCodex = await codex(
      ["login", "--device-auth", "--experimental_issuer", fake.url],
      { CODEX_HOME: codexHome.path },
    );
    assert.equal(byCodex.code, 0, byCodex.stderr);
    const cdxEnv = {
      CODEX_HOME: cdxHome.path,
      CDX_CREDENTIALS_STORE: "file",
      CDX_ISSUER: fake.url,
      CDX_TEST_POLL_SCALE: "0.01",
    };
    assert.equal(
      (await runCdx(["login", "--device-auth", "--no-browser"], { env: cdxEnv })).code,
      0,
    );

    const a = JSON.parse(await Deno.readTextFile(`${codexHome.path}/auth.json`));
    const b = JSON.parse(await Deno.readTextFile(`${cdxHome.path}/auth.json`));
    assert.deepEqual(Object.keys(b), Object.keys(a));
    assert.deepEqual(Object.keys(b.tokens), Object.keys(a.tokens));
    assert.deepEqual(b.tokens.oauth_provenance, a.tokens.oauth_provenance);

    // Each reads the other's login.
    const cdxReads = await runCdx(["login", "status", "--json"], {
      env: { CODEX_HOME: codexHome.path, CDX_CREDENTIALS_STORE: "file" },
    });
    assert.equal(assertSchema("status", JSON.parse(cdxReads.stdout)).email, "user@example.com");
    const codexReads = await codex(["login", "status"], { CODEX_HOME: cdxHome.path });
    assert.match(codexReads.stderr, /Logged in using ChatGPT/);
  },
});
