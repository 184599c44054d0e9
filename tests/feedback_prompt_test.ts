/**
 * `cdx feedback` at a real terminal (a pseudo-terminal driven by python3's
 * `pty`): the first Ctrl-C at any prompt cancels — exit 130, `interrupted`,
 * nothing saved — even while the prompt is blocked reading stdin.
 */
import assert from "node:assert/strict";
import { lineReader } from "../lib/io.ts";
import { CancelledError, InterruptSignal } from "../lib/cancel.ts";
import { runCdxInPty } from "./helpers/pty.ts";
import { withHome } from "./helpers/auth_context.ts";

const cases: Array<[string, Array<{ wait?: string; send?: string }>]> = [
  ["the first prompt (report kind)", [{ wait: "What kind of report?" }]],
  ["the note prompt", [{ wait: "What kind of report?", send: "2\r" }, { wait: "Describe" }]],
  [
    "the final confirmation",
    [
      { wait: "What kind of report?", send: "1\r" },
      { wait: "Describe", send: "it broke\r" },
      { wait: "? [Y/n] " },
    ],
  ],
];

for (const [where, before] of cases) {
  Deno.test(`a terminal Ctrl-C at ${where} cancels at once: exit 130, nothing saved`, async () => {
    await withHome(async (home) => {
      const output = `${home}/report.zip`;
      const r = await runCdxInPty(["feedback", "--output", output], [
        ...before,
        { send: "\x03" },
        { wait: "interrupted", send: "\r" },
      ], { env: { CODEX_HOME: home } });
      assert.equal(r.timedOutWaitingFor, undefined, `no ${r.timedOutWaitingFor}:\n${r.output}`);
      assert.equal(r.code, 130, r.output);
      assert.doesNotMatch(r.output, /Saved the report|internal error/);
      await assert.rejects(Deno.stat(output), Deno.errors.NotFound);
    });
  });
}

Deno.test("at a terminal, answering every prompt saves the report (the same driver, exit 0)", async () => {
  await withHome(async (home) => {
    const output = `${home}/report.zip`;
    const r = await runCdxInPty(["feedback", "--output", output], [
      { wait: "What kind of report?", send: "1\r" },
      { wait: "Describe", send: "it broke\r" },
      { wait: "holds:" },
      { wait: "? [Y/n] ", send: "\r" },
      { wait: "Saved the report" },
    ], { env: { CODEX_HOME: home } });
    assert.equal(r.timedOutWaitingFor, undefined, r.output);
    assert.equal(r.code, 0, r.output);
    assert.ok((await Deno.stat(output)).size > 0);
  });
});

Deno.test("lineReader: an abort rejects a blocked read at once; the next call gets what is typed later", async () => {
  let feed = (_bytes: Uint8Array | null) => {};
  let reads = 0;
  const source = {
    read(p: Uint8Array): Promise<number | null> {
      reads++;
      return new Promise((resolve) => {
        feed = (bytes) => {
          if (bytes === null) return resolve(null);
          p.set(bytes);
          resolve(bytes.length);
        };
      });
    },
  };
  const readLine = lineReader(source);
  const controller = new AbortController();
  const blocked = readLine(controller.signal);
  controller.abort(new InterruptSignal("SIGINT"));
  await assert.rejects(blocked, CancelledError);
  const next = readLine();
  feed(new TextEncoder().encode("typed\r\nmore"));
  assert.equal(await next, "typed");
  assert.equal(reads, 1, "the pending read was taken over, not doubled");
  const last = readLine();
  feed(null);
  assert.equal(await last, "more");
  assert.equal(await readLine(), undefined);
});
