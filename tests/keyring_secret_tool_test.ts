/**
 * The Linux backend (`secret-tool`, one item per value as codex writes) against a real, unlocked
 * gnome-keyring on a private D-Bus started in a temp dir — never the user's
 * keyring. Skipped (visibly) where the tools are missing.
 */
import assert from "node:assert/strict";
import { CancelledError } from "../lib/cancel.ts";
import { mapEnv } from "../lib/context.ts";
import { createProcessRunner } from "../lib/process.ts";
import {
  CHUNKED_HEADER_PREFIX,
  codexAttributes,
  codexLabel,
  createPlatformKeyring,
  KeyringLockedError,
  type KeyringStore,
  KeyringTimeoutError,
  KeyringTooLargeError,
  KeyringUnavailableError,
  SECRET_SERVICE_MAX_BYTES,
  SecretToolKeyring,
} from "../lib/keyring/mod.ts";
import { hasSecretServiceTools, startSecretService } from "./helpers/secret_service.ts";
import { recordingRunner } from "./helpers/recording_runner.ts";
import { FakeSecretToolRunner } from "./fakes/secret_tool_runner.ts";
import { runChild } from "./helpers/spawn.ts";

const ignore = !hasSecretServiceTools();
const SERVICE = "Codex Auth";

function secretTool(
  env: Record<string, string>,
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runChild("secret-tool", args, { env, stdin });
}

function linuxKeyring(env: Record<string, string>, runner = createProcessRunner()): KeyringStore {
  return createPlatformKeyring({ os: "linux", runner, env: mapEnv(env), timeoutMs: 3000 });
}

const VALUES: Record<string, string> = {
  "ASCII": '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-test-ascii-0123456789"}',
  "UTF-8": "clé-secrète 🔑 ключ 鍵 \u00e9\u0301",
  "multi-line (trailing newline kept)": "line one\nline two\r\n\tindented\n",
  "8191 bytes (largest `secret-tool store`)": "a".repeat(8191),
  "8 KiB (8192 bytes, over D-Bus)": "b".repeat(8192),
  // 7 UTF-8 bytes per repetition: 65 541 bytes.
  "64 KiB of mixed UTF-8 (over D-Bus)": "xé🔑".repeat(Math.ceil(65536 / 7)),
};

Deno.test({
  name: "secret-tool backend round-trips values, reports absence, and interoperates with codex",
  ignore,
  async fn(t) {
    await using ss = await startSecretService();
    const runner = recordingRunner(createProcessRunner());
    const keyring = linuxKeyring(ss.env, runner);

    for (const [name, value] of Object.entries(VALUES)) {
      await t.step(`round trip: ${name}`, async () => {
        const account = `cli|roundtrip-${name.length}`;
        await keyring.save(SERVICE, account, value);
        assert.equal(await keyring.load(SERVICE, account), value);
        assert.equal(await keyring.delete(SERVICE, account), true);
        assert.equal(await keyring.load(SERVICE, account), undefined);
      });
    }

    await t.step(
      "a chunked item an older cdx wrote loads, and a save replaces it by one item with no chunk left",
      async () => {
        const account = "cli|legacy-chunked";
        const pieces = ["CODEX_CHUNKED:3:abc", "def", "ghi"];
        for (const [i, piece] of pieces.entries()) {
          const name = i === 0 ? account : `${account}:${i}`;
          const stored = await secretTool(
            ss.env,
            ["store", "--label=x", ...codexAttributes(SERVICE, name)],
            piece,
          );
          assert.equal(stored.code, 0, stored.stderr);
        }
        assert.equal(await keyring.load(SERVICE, account), "abcdefghi");
        await keyring.save(SERVICE, account, "one item");
        const main = await secretTool(ss.env, ["lookup", ...codexAttributes(SERVICE, account)]);
        assert.equal(main.stdout, "one item");
        for (const a of [`${account}:1`, `${account}:2`]) {
          const gone = await secretTool(ss.env, ["lookup", ...codexAttributes(SERVICE, a)]);
          assert.equal(gone.code, 1, `${a} should be deleted`);
        }
        await keyring.delete(SERVICE, account);
      },
    );

    await t.step(
      "a 64 KiB value is one item, as codex stores it (written over D-Bus)",
      async () => {
        const account = "cli|big";
        const value = "z".repeat(65536);
        await keyring.save(SERVICE, account, value);
        const main = await secretTool(ss.env, ["lookup", ...codexAttributes(SERVICE, account)]);
        assert.ok(main.stdout === value, "the item holds the whole value");
        const chunk = await secretTool(ss.env, [
          "lookup",
          ...codexAttributes(SERVICE, `${account}:1`),
        ]);
        assert.equal(chunk.code, 1, "no chunk items");
        assert.equal(await keyring.delete(SERVICE, account), true);
        assert.equal(
          (await secretTool(ss.env, ["lookup", ...codexAttributes(SERVICE, account)])).code,
          1,
        );
      },
    );

    await t.step(
      "a value over 1 MiB is KeyringTooLargeError: never chunked, never cut",
      async () => {
        const account = "cli|too-large";
        const value = "t".repeat(SECRET_SERVICE_MAX_BYTES + 1);
        await assert.rejects(keyring.save(SERVICE, account, value), KeyringTooLargeError);
        assert.equal(await keyring.load(SERVICE, account), undefined);
      },
    );

    await t.step("replacing a long value with a short one leaves one item", async () => {
      const account = "cli|shrink";
      await keyring.save(SERVICE, account, "q".repeat(20000));
      await keyring.save(SERVICE, account, "short");
      assert.equal(await keyring.load(SERVICE, account), "short");
      const stale = await secretTool(ss.env, [
        "lookup",
        ...codexAttributes(SERVICE, `${account}:1`),
      ]);
      assert.equal(stale.code, 1);
      await keyring.delete(SERVICE, account);
    });

    await t.step(
      "load of a missing item returns undefined; delete of it returns false",
      async () => {
        assert.equal(await keyring.load(SERVICE, "cli|missing"), undefined);
        assert.equal(await keyring.delete(SERVICE, "cli|missing"), false);
      },
    );

    await t.step(
      "an item cdx saves is found by secret-tool with codex's attributes and label",
      async () => {
        const account = "cli|9ba275091964248d";
        const value = '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-interop-cdx-to-codex"}';
        await keyring.save(SERVICE, account, value);
        const found = await secretTool(ss.env, [
          "lookup",
          "application",
          "rust-keyring",
          "service",
          SERVICE,
          "target",
          "default",
          "username",
          account,
        ]);
        assert.equal(found.stdout, value);
        const search = await secretTool(ss.env, [
          "search",
          "service",
          SERVICE,
          "username",
          account,
        ]);
        assert.match(
          search.stdout,
          new RegExp(`label = ${escapeRegExp(codexLabel(SERVICE, account))}`),
        );
        assert.equal(
          codexLabel(SERVICE, account),
          `${account}@Codex Auth:default (keyring v3.6.3)`,
        );
        await keyring.delete(SERVICE, account);
      },
    );

    await t.step(
      "an item stored with codex's attributes is loaded (and replaced) by cdx",
      async () => {
        const account = "cli|940db7b1d0e4eb40";
        const value = '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-interop-codex-to-cdx"}';
        const stored = await secretTool(
          ss.env,
          [
            "store",
            `--label=${codexLabel(SERVICE, account)}`,
            ...codexAttributes(SERVICE, account),
          ],
          value,
        );
        assert.equal(stored.code, 0, stored.stderr);
        assert.equal(await keyring.load(SERVICE, account), value);
        await keyring.save(SERVICE, account, "replaced");
        const search = await secretTool(ss.env, ["search", "--all", "username", account]);
        assert.equal(search.stdout.match(/^\[/gm)?.length, 1, "one item, replaced in place");
        await keyring.delete(SERVICE, account);
      },
    );

    await t.step("no secret ever appears in a child's argv; secrets go on stdin", () => {
      const argv = runner.argvText();
      for (const value of Object.values(VALUES)) {
        assert.ok(!argv.includes(value.slice(0, 32)), "secret prefix found in argv");
      }
      assert.ok(!argv.includes("sk-interop"));
      assert.ok(runner.spawns.some((s) => s.args[0] === "store" && s.stdin !== undefined));
    });

    await t.step(
      "a value that fits: load is one spawn; after a load, save is store + read-back and delete one clear",
      async () => {
        const account = "cli|spawns";
        const fresh = linuxKeyring(ss.env, runner);
        let before = runner.spawns.length;
        await fresh.save(SERVICE, account, "fits");
        assert.deepEqual(
          runner.spawns.slice(before).map((s) => s.args[0]),
          ["lookup", "store", "lookup"],
          "first save in a process: one peek for chunks of an older value",
        );
        before = runner.spawns.length;
        assert.equal(await fresh.load(SERVICE, account), "fits");
        assert.equal(runner.spawns.length - before, 1, "load: one lookup");
        before = runner.spawns.length;
        await fresh.save(SERVICE, account, "fits again");
        assert.deepEqual(
          runner.spawns.slice(before).map((s) => s.args[0]),
          ["store", "lookup"],
          "save after a load: store, read back",
        );
        before = runner.spawns.length;
        assert.equal(await fresh.delete(SERVICE, account), true);
        assert.deepEqual(runner.spawns.slice(before).map((s) => s.args[0]), ["clear"]);
      },
    );
  },
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test({
  name: "a locked collection is KeyringLockedError for load, save and delete — never 'absent'",
  ignore,
  async fn() {
    await using ss = await startSecretService();
    const keyring = linuxKeyring(ss.env);
    await keyring.save(SERVICE, "cli|locked", "value-before-lock");
    await ss.lock();
    await assert.rejects(keyring.load(SERVICE, "cli|locked"), KeyringLockedError);
    await assert.rejects(keyring.load(SERVICE, "cli|never-existed"), KeyringLockedError);
    await assert.rejects(keyring.save(SERVICE, "cli|locked", "new-value"), KeyringLockedError);
    await assert.rejects(keyring.delete(SERVICE, "cli|locked"), KeyringLockedError);
  },
});

Deno.test({
  name: "without dbus-send the locked check falls back to `secret-tool search`",
  ignore,
  async fn() {
    await using ss = await startSecretService();
    const make = () =>
      new SecretToolKeyring({
        runner: createProcessRunner(),
        env: mapEnv(ss.env),
        dbusSend: "/nonexistent/dbus-send",
      });
    await make().save(SERVICE, "cli|fallback", "value");
    assert.equal(await make().load(SERVICE, "cli|absent"), undefined);
    await ss.lock();
    await assert.rejects(make().load(SERVICE, "cli|fallback"), KeyringLockedError);
  },
});

Deno.test({
  name: "a session bus address that leads nowhere is KeyringUnavailableError with an install hint",
  ignore,
  async fn() {
    const keyring = linuxKeyring({ DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/cdx-bus" });
    const error = await keyring.load(SERVICE, "cli|x").catch((e) => e);
    assert.ok(error instanceof KeyringUnavailableError, String(error));
    assert.match(error.hint ?? "", /gnome-keyring|file/);
    await assert.rejects(keyring.save(SERVICE, "cli|x", "v"), KeyringUnavailableError);
  },
});

Deno.test("a missing secret-tool is KeyringUnavailableError naming libsecret-tools", async () => {
  const keyring = new SecretToolKeyring({
    runner: createProcessRunner(),
    secretTool: "/nonexistent/secret-tool",
  });
  const error = await keyring.load(SERVICE, "cli|x").catch((e) => e);
  assert.ok(error instanceof KeyringUnavailableError);
  assert.match(error.hint ?? "", /libsecret-tools/);
});

async function hangingTool(): Promise<{ path: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "cdx-hang-" });
  const path = `${dir}/secret-tool`;
  await Deno.writeTextFile(path, "#!/bin/sh\nexec sleep 30\n");
  await Deno.chmod(path, 0o755);
  return { path, dir };
}

Deno.test({
  name: "a secret-tool that hangs is killed and reported as KeyringTimeoutError",
  ignore: Deno.build.os === "windows",
  async fn() {
    const { path, dir } = await hangingTool();
    try {
      const keyring = new SecretToolKeyring({
        runner: createProcessRunner(),
        secretTool: path,
        timeoutMs: 200,
      });
      const error = await keyring.load(SERVICE, "cli|x").catch((e) => e);
      assert.ok(error instanceof KeyringTimeoutError, String(error));
      assert.match(error.message, /200 ms/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "aborting the Context signal interrupts a keychain call with CancelledError",
  ignore: Deno.build.os === "windows",
  async fn() {
    const { path, dir } = await hangingTool();
    try {
      const controller = new AbortController();
      const keyring = new SecretToolKeyring({
        runner: createProcessRunner(),
        secretTool: path,
        signal: controller.signal,
        timeoutMs: 10_000,
      });
      const pending = keyring.save(SERVICE, "cli|x", "value");
      setTimeout(() => controller.abort(), 50);
      await assert.rejects(pending, CancelledError);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a stored value starting with a chunk prefix is wrapped so it reads back verbatim", async () => {
  const fake = new FakeSecretToolRunner();
  const keyring = createPlatformKeyring({ os: "linux", runner: fake, env: mapEnv({}) });
  const tricky = `${CHUNKED_HEADER_PREFIX}2:not really chunked`;
  await keyring.save(SERVICE, "acct", tricky);
  assert.match(
    fake.peek(codexAttributes(SERVICE, "acct"))!,
    /^CDX_CHUNKED:[0-9a-f]{8}:1:CODEX_CHUNKED:2:/,
  );
  assert.equal(await keyring.load(SERVICE, "acct"), tricky);
});

Deno.test("secret-tool's silent truncation and a lossy store are KeyringErrors, not success", async () => {
  const fake = new FakeSecretToolRunner();
  fake.truncateAt = 10;
  const raw = new SecretToolKeyring({ runner: fake });
  await assert.rejects(raw.save(SERVICE, "a", "0123456789abcdef"), /truncated/);
  fake.truncateAt = 8192;
  fake.corruptStores = true;
  await assert.rejects(raw.save(SERVICE, "a", "value"), /read back differs/);
});

Deno.test("no D-Bus and no Secret Service provider are KeyringUnavailableError (fake secret-tool)", async () => {
  for (const state of ["no-bus", "no-provider"] as const) {
    const fake = new FakeSecretToolRunner();
    fake.state = state;
    const keyring = createPlatformKeyring({ os: "linux", runner: fake, env: mapEnv({}) });
    await assert.rejects(keyring.load(SERVICE, "a"), KeyringUnavailableError, state);
    await assert.rejects(keyring.save(SERVICE, "a", "v"), KeyringUnavailableError, state);
    await assert.rejects(keyring.delete(SERVICE, "a"), KeyringUnavailableError, state);
  }
});

Deno.test("values loaded or saved are registered with the secret registry at once", async () => {
  const registered: string[] = [];
  const fake = new FakeSecretToolRunner();
  const keyring = createPlatformKeyring({
    os: "linux",
    runner: fake,
    env: mapEnv({}),
    secrets: { register: (v) => registered.push(v) },
  });
  await keyring.save(SERVICE, "a", "sk-saved-secret");
  fake.items.clear();
  await keyring.save(SERVICE, "b", "sk-other");
  registered.length = 0;
  assert.equal(await keyring.load(SERVICE, "b"), "sk-other");
  assert.deepEqual(registered, ["sk-other"]);
});
