import assert from "node:assert/strict";
import { reportError, SHORT_USAGE } from "../cli.ts";
import { CdxError, ExitCode, UsageError } from "../lib/errors.ts";
import { CancelledError, InterruptSignal, TimeoutError } from "../lib/cancel.ts";
import { MemoryOutput } from "../lib/context.ts";
import { SecretRegistry } from "../lib/secrets.ts";

async function report(error: unknown, logLevel = "warn", secrets = new SecretRegistry()) {
  const stderr = new MemoryOutput();
  const code = await reportError(error, { stderr, logLevel, redact: (t) => secrets.redact(t) });
  return { code, text: stderr.text() };
}

Deno.test("a CdxError prints `error:` and `hint:` lines and exits with its code", async () => {
  const r = await report(new CdxError("not logged in", { hint: "run `cdx login`" }));
  assert.equal(r.code, ExitCode.FAILURE);
  assert.equal(r.text, "error: not logged in\nhint: run `cdx login`\n");
});

Deno.test("a UsageError exits 2 with the short usage line", async () => {
  const r = await report(new UsageError("no prompt given"));
  assert.equal(r.code, ExitCode.USAGE);
  assert.equal(r.text, `error: no prompt given\n${SHORT_USAGE}\n`);
});

Deno.test("cancellation maps to 130 (SIGINT) or 143 (SIGTERM); a deadline to 124", async () => {
  assert.deepEqual(await report(new CancelledError(new InterruptSignal("SIGINT"))), {
    code: 130,
    text: "interrupted\n",
  });
  assert.deepEqual(await report(new CancelledError(new InterruptSignal("SIGTERM"))), {
    code: 143,
    text: "terminated\n",
  });
  const t = await report(new TimeoutError(5000, "no answer within 5 s"));
  assert.equal(t.code, ExitCode.TIMEOUT);
  assert.equal(t.text, "error: no answer within 5 s\n");
});

Deno.test("an unexpected error is an internal error with the feedback hint; the stack only at debug", async () => {
  const bug = new TypeError("x is undefined");
  const quiet = await report(bug);
  assert.equal(quiet.code, ExitCode.FAILURE);
  assert.match(quiet.text, /^internal error: x is undefined\nhint: .*cdx feedback/);
  assert.doesNotMatch(quiet.text, /at .*errors_test/);
  const loud = await report(bug, "debug");
  assert.match(loud.text, /TypeError: x is undefined\n\s+at /);
});

Deno.test("secrets are masked in every error line, registered or recognised by pattern", async () => {
  const secrets = new SecretRegistry();
  secrets.register("rt-very-secret-refresh-0123");
  const r = await report(
    new CdxError("refresh rt-very-secret-refresh-0123 failed", {
      hint: "header was Authorization: Bearer abcdefghijklmnop",
    }),
    "warn",
    secrets,
  );
  assert.doesNotMatch(r.text, /rt-very-secret-refresh-0123|abcdefghijklmnop/);
  assert.match(r.text, /\[REDACTED\]/);
});
