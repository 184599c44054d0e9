/**
 * The real OS keychain round-trip suite, for CI runners (macOS login
 * keychain, Windows Credential Manager, Linux Secret Service). It writes to
 * the keychain of the user running it, so it only runs there when
 * `CDX_KEYRING_REAL_TEST=1` (set by `.github/workflows/keyring.yml`); items
 * use a random service name and are deleted at the end. Without that switch,
 * on Linux with the tools installed, the same suite runs against a private
 * gnome-keyring on its own D-Bus instead (never the user's keyring).
 */
import assert from "node:assert/strict";
import { mapEnv } from "../lib/context.ts";
import { createProcessRunner } from "../lib/process.ts";
import { createPlatformKeyring, KeyringTooLargeError } from "../lib/keyring/mod.ts";
import { recordingRunner } from "./helpers/recording_runner.ts";
import { hasSecretServiceTools, startSecretService } from "./helpers/secret_service.ts";

const enabled = Deno.env.get("CDX_KEYRING_REAL_TEST") === "1";
const privateLinux = !enabled && Deno.build.os === "linux" && hasSecretServiceTools();

const VALUES: Record<string, string> = {
  "ASCII": '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-ci-ascii-0123456789"}',
  "UTF-8": "clé-secrète 🔑 ключ 鍵",
  "multi-line": "line one\nline two\r\n\tend\n",
  "8 KiB": "k".repeat(8192),
  "64 KiB": "xé🔑".repeat(Math.ceil(65536 / 7)),
};

Deno.test({
  name: `the ${
    privateLinux ? "private Secret Service" : "real OS"
  } keychain round-trips values, reports absence, and keeps secrets out of argv`,
  ignore: !enabled && !privateLinux,
  async fn(t) {
    await using ss = privateLinux ? await startSecretService() : undefined;
    const service = `cdx-ci-${crypto.randomUUID()}`;
    const runner = recordingRunner(createProcessRunner());
    const keyring = createPlatformKeyring({
      os: Deno.build.os,
      runner,
      env: mapEnv({ ...Deno.env.toObject(), ...ss?.env }),
      timeoutMs: 15_000,
    });
    try {
      for (const [name, value] of Object.entries(VALUES)) {
        await t.step(`round trip: ${name}`, async () => {
          if ((await keyring.fits?.(service, `acct-${name.length}`, value)) === false) {
            // Too large for one item codex reads (and not chunked here): refused whole.
            await assert.rejects(
              keyring.save(service, `acct-${name.length}`, value),
              KeyringTooLargeError,
            );
            assert.equal(await keyring.load(service, `acct-${name.length}`), undefined);
            return;
          }
          await keyring.save(service, `acct-${name.length}`, value);
          assert.equal(await keyring.load(service, `acct-${name.length}`), value);
          assert.equal(await keyring.delete(service, `acct-${name.length}`), true);
          assert.equal(await keyring.load(service, `acct-${name.length}`), undefined);
        });
      }
      await t.step("missing item: load → undefined, delete → false", async () => {
        assert.equal(await keyring.load(service, "never-saved"), undefined);
        assert.equal(await keyring.delete(service, "never-saved"), false);
      });
      await t.step("no secret in any child's argv", () => {
        const argv = runner.argvText();
        for (const value of Object.values(VALUES)) assert.ok(!argv.includes(value.slice(0, 20)));
      });
    } finally {
      for (const name of Object.keys(VALUES)) {
        await keyring.delete(service, `acct-${name.length}`).catch(() => {});
      }
    }
  },
});
