/**
 * `cdx login` at a real terminal (a pseudo-terminal, via python3's `pty`):
 * with no browser on this machine it offers to paste the address the
 * browser ended on, and that completes the login; Ctrl-C typed at that
 * prompt exits 130 at once; and the device-code countdown line is cleared
 * before a warning, never glued to it.
 */
import assert from "node:assert/strict";
import { cdxAtTerminal, HAS_PTY, NO_PTY, type Terminal } from "./helpers/pty.ts";
import { type CodexAuthServer, startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { chatgptAuth, serializeAuthFile } from "../lib/auth/auth_json.ts";
import { exists, tempHome } from "./helpers/auth_context.ts";
import { authorizeUrlIn, waitFor } from "./helpers/browser.ts";

function fileEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CODEX_HOME: home, CDX_CREDENTIALS_STORE: "file", ...extra };
}

/** `cdx login` at a terminal, no browser, against the codex fake: at its paste prompt. */
async function atPastePrompt(
  fn: (s: { home: string; fake: CodexAuthServer; term: Terminal }) => Promise<void>,
): Promise<void> {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({});
  const term = cdxAtTerminal(
    ["login", "--port", "0"],
    fileEnv(home.path, { CDX_ISSUER: fake.url }),
  );
  await waitFor(() => term.screen().includes("Paste the address here"), "the paste prompt");
  await fn({ home: home.path, fake, term });
}

Deno.test({
  name:
    `terminal, no display: the pasted address of the page that failed to load completes the login${NO_PTY}`,
  ignore: !HAS_PTY,
  fn: () =>
    atPastePrompt(async ({ home, fake, term }) => {
      assert.match(term.screen(), /cdx did not open a browser \(no graphical session/);
      const url = authorizeUrlIn(term.screen())!;
      // The browser is on another machine: it follows the redirect but cannot reach this one.
      const redirect = await fetch(url, { redirect: "manual" });
      const callback = redirect.headers.get("location")!;
      await term.type(`${callback}\n`);
      const r = await term.done();
      assert.equal(r.code, 0, r.screen);
      assert.match(r.screen, /Successfully logged in\r\n/);
      assert.equal(fake.exchangedCodes.length, 1);
      assert.ok(await exists(`${home}/auth.json`));
    }),
});

Deno.test({
  name: `terminal: Ctrl-C at the paste prompt exits 130 at once and saves nothing${NO_PTY}`,
  ignore: !HAS_PTY,
  fn: () =>
    atPastePrompt(async ({ home, term }) => {
      await term.type("\x03");
      const r = await term.done();
      assert.equal(r.code, 130, r.screen);
      assert.match(r.screen, /interrupted\r\n$/);
      assert.equal(await exists(`${home}/auth.json`), false);
    }),
});

Deno.test({
  name:
    `terminal: a warning during the device-code countdown starts on a cleared line, never glued to it${NO_PTY}`,
  ignore: !HAS_PTY,
  async fn() {
    await using home = await tempHome();
    await using fake = await startCodexAuthServer({ interval: "1", autoApproveAfterPolls: 3 });
    // A previous login whose refresh token cannot be revoked: cdx warns while the countdown runs.
    const old = fake.mintTokens();
    await Deno.writeTextFile(
      `${home.path}/auth.json`,
      serializeAuthFile(chatgptAuth({ ...old, account_id: "acct-123" }, Date.now())),
      { mode: 0o600 },
    );
    fake.failRevoke(503);
    const term = cdxAtTerminal(
      ["login", "--device-auth", "--no-browser"],
      fileEnv(home.path, {
        CDX_ISSUER: fake.url,
        CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${fake.url}/oauth/revoke`,
        CDX_TEST_POLL_SCALE: "0.5",
      }),
    );
    const r = await term.done();
    assert.equal(r.code, 0, r.screen);
    assert.match(r.screen, /Waiting for approval\.\.\. the code expires in 1[45]:\d\d/);
    const CLEAR = "\r\x1b[2K";
    assert.ok(r.screen.includes(`${CLEAR}warning: could not revoke the replaced token`), r.screen);
    // No countdown text runs into the warning: every warning is preceded by a cleared line.
    for (const { index } of r.screen.matchAll(/warning:/g)) {
      assert.equal(r.screen.slice(index - CLEAR.length, index), CLEAR, r.screen);
    }
    assert.match(r.screen, /Successfully logged in\r\n$/);
  },
});
