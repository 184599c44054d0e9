/**
 * What a cdx browser login saves, the real codex 0.169.0 reads — in file
 * mode (auth.json) and in keyring mode (a private gnome-keyring on its own
 * D-Bus): `codex login status` says `Logged in using ChatGPT`.
 */
import assert from "node:assert/strict";
import { hasSecretServiceTools, startSecretService } from "./helpers/secret_service.ts";
import { spawnCdx } from "./helpers/cli.ts";
import { startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { exists, tempHome } from "./helpers/auth_context.ts";
import { playBrowser, watchCdx } from "./helpers/browser.ts";
import { hasCodexPeer, noCodexNote, runCodex } from "./helpers/codex_peer.ts";

const HAS_CODEX = hasCodexPeer();
const NO_CODEX = noCodexNote();

const HAS_SS = Deno.build.os === "linux" && hasSecretServiceTools();

for (const mode of ["file", "keyring"] as const) {
  Deno.test({
    name: `codex interop (${mode}): codex reads what a cdx browser login saved${
      NO_CODEX || (HAS_SS ? "" : " [SKIPPED: gnome-keyring/secret-tool not installed]")
    }`,
    ignore: !HAS_CODEX || !HAS_SS,
    async fn() {
      await using ss = await startSecretService();
      await using home = await tempHome();
      await Deno.writeTextFile(
        `${home.path}/config.toml`,
        `cli_auth_credentials_store = "${mode}"\n`,
      );
      await using fake = await startCodexAuthServer({ email: "peer@example.com" });
      const env = { ...ss.env, CODEX_HOME: home.path };
      const cdx = watchCdx(spawnCdx(["login", "--no-browser", "--port", "0"], {
        env: { ...env, CDX_ISSUER: fake.url },
      }));
      await playBrowser(await cdx.authorizeUrl());
      const login = await cdx.done();
      assert.equal(login.code, 0, login.stderr);
      assert.equal(await exists(`${home.path}/auth.json`), mode === "file");

      const status = await runCodex(["login", "status"], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stderr, /Logged in using ChatGPT/);
    },
  });
}
