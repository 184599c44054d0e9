/**
 * The status line while `cdx run` waits for the model's first token: on a
 * terminal (a real pseudo-terminal from util-linux `script`) it appears and
 * is erased before the answer; on a pipe nothing is ever printed.
 */
import assert from "node:assert/strict";
import { cdxCommandLine } from "./helpers/cli.ts";
import { startCdx } from "./helpers/live_cdx.ts";
import { normalStream, startResponsesServer } from "./fakes/responses_server.ts";
import { withHome } from "./helpers/auth_context.ts";

const KEY = "sk-test-progress-key-31";
const CLEAR = "\r\x1b[2K";
const hasScript = (() => {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

Deno.test({
  name:
    "waiting for the first token: a status line on a terminal, erased before the answer; nothing on a pipe",
  ignore: !hasScript || Deno.build.os === "windows",
  async fn() {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await using server = startResponsesServer(() => ({ ...normalStream("The answer."), gate }));
    await withHome(async (home) => {
      const env = { CODEX_HOME: home, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseUrl };
      // The same wait on a pipe, side by side with the terminal run.
      await using piped = startCdx(["run", "question"], { env });
      const { cmd, args } = cdxCommandLine();
      const line = [cmd, ...args, "run", "question"].map(shellQuote).join(" ");
      await using tty = startCdx([], {
        env: { ...env, TERM: "xterm", COLUMNS: "100", LINES: "30" },
      }, { cmd: "script", args: ["-qfec", line, "/dev/null"] });
      try {
        await tty.waitForStdout(/Waiting for the model…/, 30_000);
      } finally {
        release();
      }
      const t = await tty.finish();
      const p = await piped.finish();
      assert.equal(t.code, 0, t.stdout);
      const spinner = t.stdout.lastIndexOf("Waiting for the model…");
      const answer = t.stdout.indexOf("The answer.");
      assert.ok(answer > spinner, JSON.stringify(t.stdout));
      const erase = t.stdout.indexOf(CLEAR, spinner);
      assert.ok(erase > spinner && erase < answer, "the line is erased before the answer");
      assert.equal(t.stdout.slice(erase + CLEAR.length).replaceAll("\r", ""), "The answer.\n");
      assert.equal(p.code, 0, p.stderr);
      assert.equal(p.stdout, "The answer.\n");
      assert.equal(p.stderr, "", "nothing on a pipe, though the wait was as long");
    });
  },
});
