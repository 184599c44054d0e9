import assert from "node:assert/strict";
import { createProcessRunner, ExecutableNotFoundError, text } from "../lib/process.ts";
import { CancelledError, InterruptSignal, TimeoutError } from "../lib/cancel.ts";

const runner = createProcessRunner();

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

Deno.test("run returns exit code, stdout and stderr of a real child", async () => {
  const r = await runner.run("sh", ["-c", "printf out; printf err >&2; exit 3"]);
  assert.equal(r.code, 3);
  assert.equal(text(r.stdout), "out");
  assert.equal(text(r.stderr), "err");
});

Deno.test("stdin is fed verbatim and closed (cat echoes bytes, newline and NUL included)", async () => {
  const input = "line one\nzwei — drei\u0000end";
  const r = await runner.run("cat", [], { stdin: input });
  assert.equal(r.code, 0);
  assert.equal(text(r.stdout), input);
});

Deno.test("large stdin and stdout (1 MiB) pass through without deadlock", async () => {
  const big = "x".repeat(1 << 20);
  const r = await runner.run("cat", [], { stdin: big });
  assert.equal(r.stdout.length, big.length);
});

Deno.test("env adds variables for the child; clearEnv starts from nothing", async () => {
  const r = await runner.run("sh", ["-c", 'printf "%s|%s" "$CDX_X" "${HOME-unset}"'], {
    env: { CDX_X: "1" },
    clearEnv: true,
  });
  assert.equal(text(r.stdout), "1|unset");
});

Deno.test("a missing executable is an ExecutableNotFoundError", async () => {
  const error = await runner.run("cdx-no-such-tool-xyz", []).catch((e) => e);
  assert.ok(error instanceof ExecutableNotFoundError);
  assert.equal(error.command, "cdx-no-such-tool-xyz");
});

Deno.test("timeout kills the child (SIGTERM) and rejects with TimeoutError; no zombie left", async () => {
  const pidFile = await Deno.makeTempFile();
  const error = await runner.run("sh", ["-c", `echo $$ > ${pidFile}; exec sleep 30`], {
    timeoutMs: 100,
    timeoutMessage: "slow tool",
  }).catch((e) => e);
  assert.ok(error instanceof TimeoutError);
  assert.equal(error.message, "slow tool");
  const pid = Number((await Deno.readTextFile(pidFile)).trim());
  assert.ok(pid > 0);
  assert.equal(alive(pid), false);
  await Deno.remove(pidFile);
});

Deno.test("a child that ignores SIGTERM is SIGKILLed after the grace period", async () => {
  const pidFile = await Deno.makeTempFile();
  const error = await runner.run(
    "sh",
    ["-c", `trap '' TERM; echo $$ > ${pidFile}; while :; do sleep 0.05; done`],
    { timeoutMs: 100, killGraceMs: 50 },
  ).catch((e) => e);
  assert.ok(error instanceof TimeoutError);
  const pid = Number((await Deno.readTextFile(pidFile)).trim());
  assert.equal(alive(pid), false);
  await Deno.remove(pidFile);
});

Deno.test("abort kills the child and rejects with CancelledError carrying the reason", async () => {
  const controller = new AbortController();
  const pending = runner.run("sleep", ["30"], { signal: controller.signal });
  setTimeout(() => controller.abort(new InterruptSignal("SIGINT")), 20);
  const error = await pending.catch((e) => e);
  assert.ok(error instanceof CancelledError);
  assert.ok(error.reason instanceof InterruptSignal);
});

Deno.test("an already aborted signal spawns nothing", async () => {
  const controller = new AbortController();
  controller.abort();
  const marker = await Deno.makeTempDir();
  await assert.rejects(
    runner.run("sh", ["-c", `touch ${marker}/ran`], { signal: controller.signal }),
    CancelledError,
  );
  assert.equal(await Deno.stat(`${marker}/ran`).then(() => true, () => false), false);
  await Deno.remove(marker, { recursive: true });
});

Deno.test("a grandchild holding the pipe open does not delay the timeout", async () => {
  const started = performance.now();
  await assert.rejects(
    runner.run("sh", ["-c", "sleep 5 & sleep 5"], { timeoutMs: 50, killGraceMs: 20 }),
    TimeoutError,
  );
  // Not a speed assertion: without the early cancel this would wait the full 5 s.
  assert.ok(performance.now() - started < 4000);
});

Deno.test("argv is logged at debug but stdin never is", async () => {
  const { getLogger, setCaptureSink } = await import("../lib/log.ts");
  const lines: string[] = [];
  setCaptureSink((r) => lines.push(JSON.stringify(r.properties) + r.message.join("")));
  try {
    const logged = createProcessRunner(getLogger(["t"]));
    await logged.run("cat", ["--", "visible-arg"], { stdin: "stdin-secret-value" });
    const all = lines.join("\n");
    assert.match(all, /visible-arg/);
    assert.doesNotMatch(all, /stdin-secret-value/);
  } finally {
    setCaptureSink(undefined);
  }
});
