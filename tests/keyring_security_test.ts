/**
 * The macOS backend (`security` + chunking), on Linux, against a faithful
 * fake `security` placed first on PATH (tests/fakes/security.ts): the
 * interactive-mode line limit, its quoting, exit codes 44/36 and hex output.
 */
import assert from "node:assert/strict";
import { createProcessRunner } from "../lib/process.ts";
import {
  createPlatformKeyring,
  KeyringLockedError,
  KeyringTooLargeError,
  KeyringUnavailableError,
  SecurityKeyring,
} from "../lib/keyring/mod.ts";
import {
  addGenericPasswordLine,
  decodeSecurityOutput,
  quoteSecurityArg,
  SECURITY_LINE_MAX,
} from "../lib/keyring/security.ts";
import { type RecordingRunner, recordingRunner } from "./helpers/recording_runner.ts";
import { runChild } from "./helpers/spawn.ts";

const FAKE_BIN = new URL("./fakes/bin", import.meta.url).pathname;
const SERVICE = "Codex Auth";
const ignore = Deno.build.os === "windows";
const encoder = new TextEncoder();

interface FakeEnv {
  dir: string;
  env: Record<string, string>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function fakeSecurity(options: { locked?: boolean } = {}): Promise<FakeEnv> {
  const dir = await Deno.makeTempDir({ prefix: "cdx-fake-security-" });
  const env: Record<string, string> = {
    PATH: `${FAKE_BIN}:${Deno.env.get("PATH") ?? ""}`,
    FAKE_SECURITY_KEYCHAIN: `${dir}/keychain.json`,
  };
  if (options.locked) env.FAKE_SECURITY_LOCKED = "1";
  return {
    dir,
    env,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

function macKeyring(runner: RecordingRunner) {
  // The fake is a Deno script: give it time to start on a busy machine.
  return createPlatformKeyring({
    os: "darwin",
    runner,
    env: { get: () => undefined },
    timeoutMs: 20_000,
  });
}

function runFake(env: Record<string, string>, args: string[], stdin?: string) {
  return runChild("security", args, { env, stdin });
}

const VALUES: Record<string, string> = {
  "ASCII JSON": '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-mac-ascii-0123456789"}',
  "quotes, backslashes, apostrophes": `he said "hi" \\ it's C:\\path\\"x"`,
  "UTF-8 (read back from hex)": "clé-secrète 🔑 ключ",
  "multi-line (stored as cdx-base64)": "line one\nline two\r\n\tend\n",
  "8 KiB (too large for one `security -i` line: refused, never chunked)": "k".repeat(8192),
};

Deno.test({
  name: "macOS backend round-trips values through the fake security, secret on stdin only",
  ignore,
  async fn(t) {
    await using fake = await fakeSecurity();
    const runner = recordingRunner(createProcessRunner(), { env: fake.env });
    const keyring = macKeyring(runner);

    for (const [name, value] of Object.entries(VALUES)) {
      await t.step(`round trip: ${name}`, async () => {
        const account = `cli|mac-${name.length}`;
        if ((await keyring.fits?.(SERVICE, account, value)) === false) {
          await assert.rejects(keyring.save(SERVICE, account, value), KeyringTooLargeError);
          assert.equal(await keyring.load(SERVICE, account), undefined);
          return;
        }
        await keyring.save(SERVICE, account, value);
        assert.equal(await keyring.load(SERVICE, account), value);
        assert.equal(await keyring.delete(SERVICE, account), true);
        assert.equal(await keyring.load(SERVICE, account), undefined);
      });
    }

    await t.step("a plain value is stored raw, so codex reads exactly it", async () => {
      const value = '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-raw"}';
      await keyring.save(SERVICE, "cli|raw", value);
      const read = await runFake(fake.env, [
        "find-generic-password",
        "-s",
        SERVICE,
        "-a",
        "cli|raw",
        "-w",
      ]);
      assert.equal(read.stdout, `${value}\n`);
      await keyring.delete(SERVICE, "cli|raw");
    });

    await t.step(
      "an item another tool stored (non-printable → hex output) is decoded",
      async () => {
        const value = "tab\there é";
        const add = await runFake(
          fake.env,
          ["-i"],
          `${addGenericPasswordLine(SERVICE, "cli|other", value)}\n`,
        );
        assert.equal(add.code, 0, add.stderr);
        const raw = await runFake(fake.env, [
          "find-generic-password",
          "-s",
          SERVICE,
          "-a",
          "cli|other",
          "-w",
        ]);
        assert.match(raw.stdout, /^[0-9a-f]+\n$/);
        assert.equal(await keyring.load(SERVICE, "cli|other"), value);
      },
    );

    await t.step("missing item: load → undefined (exit 44), delete → false", async () => {
      assert.equal(await keyring.load(SERVICE, "cli|missing"), undefined);
      assert.equal(await keyring.delete(SERVICE, "cli|missing"), false);
    });

    await t.step(
      "every write is one `security -i` command line under 4095 bytes; no secret in argv",
      () => {
        const argv = runner.argvText();
        for (const value of Object.values(VALUES)) {
          assert.ok(!argv.includes(value.slice(0, 24)), "secret found in argv");
        }
        const writes = runner.spawns.filter((s) => s.args[0] === "-i");
        assert.ok(writes.length > 0);
        for (const write of writes) {
          const lines = write.stdin!.split("\n");
          assert.equal(lines.length, 2, "one command per process");
          assert.equal(lines[1], "");
          assert.ok(encoder.encode(lines[0]).length <= SECURITY_LINE_MAX);
        }
      },
    );
  },
});

Deno.test({
  name:
    "the fake security is faithful: a line over 4095 bytes is cut and the rest runs as a command",
  ignore,
  async fn() {
    await using fake = await fakeSecurity();
    const value = "v".repeat(5000);
    const line = `add-generic-password -U -a "a" -s "s" -w "${value}"`;
    const result = await runFake(fake.env, ["-i"], `${line}\n`);
    assert.match(result.stderr, /unknown command "v+"/);
    const read = await runFake(fake.env, ["find-generic-password", "-s", "s", "-a", "a", "-w"]);
    assert.equal(read.stdout.length - 1 < value.length, true, "stored a shorter value");
  },
});

Deno.test({
  name: "a locked keychain (exit 36) is KeyringLockedError for load, save and delete",
  ignore,
  async fn() {
    await using fake = await fakeSecurity();
    const open = macKeyring(recordingRunner(createProcessRunner(), { env: fake.env }));
    await open.save(SERVICE, "cli|locked", "value");
    const lockedEnv = { ...fake.env, FAKE_SECURITY_LOCKED: "1" };
    const keyring = macKeyring(recordingRunner(createProcessRunner(), { env: lockedEnv }));
    const error = await keyring.load(SERVICE, "cli|locked").catch((e) => e);
    assert.ok(error instanceof KeyringLockedError, String(error));
    assert.match(error.message, /unlock-keychain/);
    await assert.rejects(keyring.save(SERVICE, "cli|locked", "new"), KeyringLockedError);
    await assert.rejects(keyring.delete(SERVICE, "cli|locked"), KeyringLockedError);
  },
});

Deno.test("a missing security program is KeyringUnavailableError", async () => {
  const keyring = new SecurityKeyring({
    runner: createProcessRunner(),
    security: "/nonexistent/security",
  });
  await assert.rejects(keyring.load(SERVICE, "cli|x"), KeyringUnavailableError);
});

Deno.test("security -w output: raw printable text stays as is, hex of non-printable bytes is decoded", () => {
  assert.equal(decodeSecurityOutput(encoder.encode("6162\n")), "6162", "hex-looking but printable");
  assert.equal(decodeSecurityOutput(encoder.encode("plain\n")), "plain");
  assert.equal(decodeSecurityOutput(encoder.encode("c3a90a\n")), "é\n");
  assert.equal(decodeSecurityOutput(encoder.encode("\n")), "");
});

Deno.test("security -i quoting escapes only double quotes and backslashes", () => {
  assert.equal(quoteSecurityArg(`a"b\\c'd`), `"a\\"b\\\\c'd"`);
  assert.equal(
    addGenericPasswordLine("S", "A", "V"),
    'add-generic-password -U -a "A" -s "S" -w "V"',
  );
});
