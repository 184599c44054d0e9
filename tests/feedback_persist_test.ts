import assert from "node:assert/strict";
import { appendBlock, logFilePath, readLog, UnsafeLogPathError } from "../lib/feedback/persist.ts";
import { formatBlock, keepNewestBlocks, parseBlocks, shrinkBlock } from "../lib/feedback/blocks.ts";
import { ROOT, runCdx } from "./helpers/cli.ts";

const posix = Deno.build.os !== "windows";

function block(id: string, lines: number, exitCode = 0): string {
  const body = Array.from(
    { length: lines },
    (_, i) => `2026-11-26T07:00:00.000Z TRACE cdx: ${id} line ${i}\n`,
  )
    .join("");
  return formatBlock({
    id,
    startedAt: Date.UTC(2026, 10, 26),
    version: "0.1.0",
    exitCode,
    argv: ["login", "status"],
    tags: id === "b" ? { auth_mode: "apikey" } : {},
  }, body);
}

Deno.test("a block round-trips: header, masked argv, tags, body, footer", () => {
  const text = block("a", 2) + block("b", 1, 1);
  const blocks = parseBlocks(text);
  assert.equal(blocks.length, 2);
  assert.deepEqual(blocks.map((b) => [b.id, b.exit, b.complete]), [["a", "0", true], [
    "b",
    "1",
    true,
  ]]);
  assert.deepEqual(blocks[0].argv, ["login", "status"]);
  assert.deepEqual(blocks[1].tags, { auth_mode: "apikey" });
  assert.equal(blocks[0].body.split("\n").length, 3);
  assert.equal(blocks.map((b) => b.raw).join(""), text);
});

Deno.test("a logged line cannot fake a block boundary", () => {
  const text = formatBlock(
    { id: "x", startedAt: 0, version: "0.1.0", exitCode: 0, argv: [], tags: {} },
    "==> cdx invocation evil start=x version=y exit=0\n<== cdx invocation x end\nafter\n",
  );
  const blocks = parseBlocks(text);
  assert.equal(blocks.length, 1);
  assert.ok(blocks[0].complete);
  assert.match(blocks[0].body, /after/);
});

Deno.test("a cut block (writer still busy) is parsed as incomplete and never kept by a trim", () => {
  const whole = block("a", 2);
  const cut = block("b", 5).slice(0, 120);
  const blocks = parseBlocks(whole + cut);
  assert.deepEqual(blocks.map((b) => b.complete), [true, false]);
  assert.equal(keepNewestBlocks(whole + cut, 1 << 20), whole);
});

Deno.test("a block larger than the cap keeps the tail of its body and stays whole", () => {
  const big = block("big", 500);
  const small = shrinkBlock(big, 2000);
  assert.ok(new TextEncoder().encode(small).length <= 2000);
  const [parsed] = parseBlocks(small);
  assert.ok(parsed.complete);
  assert.match(parsed.body, /big line 499\n$/);
  assert.match(parsed.body, /older records dropped/);
});

Deno.test("appending creates log/ 0700 and cdx.log 0600, and keeps blocks in order", async () => {
  const home = await Deno.makeTempDir();
  try {
    await appendBlock(home, block("a", 3), { maxBytes: 1 << 20 });
    await appendBlock(home, block("b", 3), { maxBytes: 1 << 20 });
    const text = await Deno.readTextFile(logFilePath(home));
    assert.deepEqual(parseBlocks(text).map((b) => b.id), ["a", "b"]);
    if (posix) {
      assert.equal((await Deno.stat(`${home}/log`)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(logFilePath(home))).mode! & 0o777, 0o600);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("the log stays under its cap by dropping the oldest invocations", async () => {
  const home = await Deno.makeTempDir();
  try {
    const cap = 4000;
    for (let i = 0; i < 40; i++) await appendBlock(home, block(`inv${i}`, 5), { maxBytes: cap });
    const bytes = await Deno.readFile(logFilePath(home));
    assert.ok(bytes.length <= cap, `${bytes.length} > ${cap}`);
    const blocks = parseBlocks(new TextDecoder().decode(bytes));
    assert.ok(blocks.every((b) => b.complete));
    assert.equal(blocks.at(-1)!.id, "inv39");
    const ids = blocks.map((b) => Number(b.id.slice(3)));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "oldest dropped first, order kept");
    if (posix) assert.equal((await Deno.stat(logFilePath(home))).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("20 concurrent cdx processes: cdx.log within its cap, every invocation block whole", async () => {
  const home = await Deno.makeTempDir();
  try {
    const cap = 6000; // small, so the concurrent appends also trim
    const runs = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          runCdx(["--log-level", "trace", "logout", "--no-revoke"], {
            env: { CODEX_HOME: home, CDX_LOG_MAX_BYTES: String(cap), CDX_TEST_RUN: String(i) },
          }),
      ),
    );
    const bytes = await Deno.readFile(logFilePath(home));
    assert.ok(bytes.length <= cap, `${bytes.length} > ${cap}`);
    const text = new TextDecoder().decode(bytes);
    const blocks = parseBlocks(text);
    assert.ok(blocks.length >= 2 && blocks.length < 20, `${blocks.length} blocks: some trimmed`);
    assert.ok(blocks.every((b) => b.complete), "every block whole");
    assert.equal(blocks.map((b) => b.raw).join(""), text, "nothing between or around blocks");
    assert.equal(new Set(blocks.map((b) => b.id)).size, blocks.length);
    for (const b of blocks) {
      assert.match(b.body, /TRACE|DEBUG/);
      assert.deepEqual(b.argv, ["--log-level", "trace", "logout", "--no-revoke"]);
      assert.ok(runs.some((r) => String(r.code) === b.exit));
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("20 concurrent cdx processes under the default cap: all 20 blocks kept, none interleaved", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          runCdx(["--log-level", "trace", "logout", "--no-revoke"], { env: { CODEX_HOME: home } }),
      ),
    );
    const text = await Deno.readTextFile(logFilePath(home));
    const blocks = parseBlocks(text);
    assert.equal(blocks.length, 20);
    assert.ok(blocks.every((b) => b.complete));
    assert.equal(blocks.map((b) => b.raw).join(""), text);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("20 cdx processes reaching their exit at the same moment with 40 KiB each: within the cap, every block whole, none lost", async () => {
  const home = await Deno.makeTempDir();
  try {
    const burst = (env: Record<string, string>) =>
      runCdx(["--log-level", "warn", "logout", "--no-revoke"], {
        entry: `${ROOT}/tests/fakes/feedback_burst_cli.ts`,
        env: { CODEX_HOME: home, CDX_TEST_RECORDS: "40", ...env },
      });
    // One run alone gives the size of a block (all runs log the same).
    assert.equal((await burst({})).code, 0);
    const blockBytes = (await Deno.stat(logFilePath(home))).size;
    await Deno.remove(logFilePath(home));
    // A cap of 15.5 blocks: the 16th append trims while the last ones race with it.
    const cap = Math.floor(15.5 * blockBytes);
    const barrier = await Deno.makeTempDir({ dir: home });
    const runs = await Promise.all(
      Array.from({ length: 20 }, () =>
        burst({
          CDX_LOG_MAX_BYTES: String(cap),
          CDX_TEST_BARRIER_DIR: barrier,
          CDX_TEST_BARRIER_COUNT: "20",
        })),
    );
    assert.deepEqual(runs.map((r) => r.code), Array(20).fill(0));
    const bytes = await Deno.readFile(logFilePath(home));
    assert.ok(bytes.length <= cap, `${bytes.length} > ${cap}`);
    const text = new TextDecoder().decode(bytes);
    const blocks = parseBlocks(text);
    assert.ok(blocks.every((b) => b.complete), "every block whole");
    assert.equal(blocks.map((b) => b.raw).join(""), text, "nothing between or around blocks");
    for (const b of blocks) assert.equal(b.body.match(/ TRACE cdx\.burst: record /g)?.length, 40);
    // Serialised appends and trims lose nothing: exactly as many blocks as 20 appends one
    // after the other leave (an append lost to a racing trim shows up as fewer).
    assert.equal(blocks.length, blocksLeftBySerialAppends(20, blockBytes, cap));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

/** What appendBlock leaves after `count` equal blocks appended one at a time. */
function blocksLeftBySerialAppends(count: number, blockBytes: number, cap: number): number {
  let held = 0;
  for (let i = 0; i < count; i++) {
    if ((held + 1) * blockBytes > cap) {
      held = Math.floor(Math.max(0, Math.floor(cap * 0.75) - blockBytes) / blockBytes);
    }
    held++;
  }
  return held;
}

Deno.test("CDX_LOG_PERSIST=0 leaves no cdx.log", async () => {
  const home = await Deno.makeTempDir();
  try {
    await runCdx(["--log-level", "trace", "logout", "--no-revoke"], {
      env: { CODEX_HOME: home, CDX_LOG_PERSIST: "0" },
    });
    await assert.rejects(Deno.stat(logFilePath(home)), Deno.errors.NotFound);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

/** A victim in `outside` and a symbolic link to it planted at `at` (its directory created 0700). */
async function plantLink(outside: string, at: string): ReturnType<typeof victim> {
  const target = await victim(outside);
  await Deno.mkdir(at.replace(/\/[^/]+$/, ""), { recursive: true, mode: 0o700 });
  await Deno.symlink(target.path, at);
  return target;
}

/** A CODEX_HOME and a directory outside it (where a planted link points), both removed after. */
async function withHomeAndOutside(
  fn: (home: string, outside: string) => Promise<void>,
): Promise<void> {
  const home = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    await fn(home, outside);
  } finally {
    await Deno.remove(home, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
}

/** A victim file outside CODEX_HOME with known content and mode. */
async function victim(dir: string): Promise<{ path: string; check: () => Promise<void> }> {
  const path = `${dir}/victim.txt`;
  await Deno.writeTextFile(path, "victim content\n");
  await Deno.chmod(path, 0o644);
  return {
    path,
    check: async () => {
      assert.equal(await Deno.readTextFile(path), "victim content\n", "victim content unchanged");
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644, "victim mode unchanged");
    },
  };
}

Deno.test({
  name: "cdx.log as a symbolic link to a victim: replaced by a regular file, the victim unchanged",
  ignore: !posix,
  fn: async () => {
    await withHomeAndOutside(async (home, outside) => {
      const target = await plantLink(outside, logFilePath(home));
      const replaced: string[] = [];
      await appendBlock(home, block("a", 2), {
        maxBytes: 1 << 20,
        onReplace: (m) => replaced.push(m),
      });
      await target.check();
      const info = await Deno.lstat(logFilePath(home));
      assert.ok(info.isFile && !info.isSymlink);
      assert.equal(info.mode! & 0o777, 0o600);
      assert.deepEqual(parseBlocks(await Deno.readTextFile(logFilePath(home))).map((b) => b.id), [
        "a",
      ]);
      assert.match(replaced.join(), /was a symbolic link/);
    });
  },
});

Deno.test({
  name: "cdx.log hard-linked to a victim, or with a wrong mode: rewritten as a new 0600 file",
  ignore: !posix,
  fn: async () => {
    const home = await Deno.makeTempDir();
    try {
      await appendBlock(home, block("a", 1), { maxBytes: 1 << 20 });
      const other = `${home}/other-name`;
      await Deno.link(logFilePath(home), other);
      const before = await Deno.readTextFile(other);
      await appendBlock(home, block("b", 1), { maxBytes: 1 << 20 });
      assert.equal(await Deno.readTextFile(other), before, "the other name keeps its content");
      assert.equal((await Deno.stat(logFilePath(home))).nlink, 1);
      // A regular cdx.log with a wrong mode keeps its blocks and gets 0600 back.
      await Deno.chmod(logFilePath(home), 0o644);
      await appendBlock(home, block("c", 1), { maxBytes: 1 << 20 });
      assert.equal((await Deno.stat(logFilePath(home))).mode! & 0o777, 0o600);
      const ids = parseBlocks(await Deno.readTextFile(logFilePath(home))).map((b) => b.id);
      assert.deepEqual(ids, ["b", "c"], "the hard-linked content was not read back; b and c kept");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name: "a symbolic link as the log directory is refused: nothing is written into its target",
  ignore: !posix,
  fn: async () => {
    await withHomeAndOutside(async (home, outside) => {
      await Deno.symlink(outside, `${home}/log`);
      await assert.rejects(
        appendBlock(home, block("a", 1), { maxBytes: 1 << 20 }),
        (error) => error instanceof UnsafeLogPathError && /symbolic link/.test(error.message),
      );
      assert.deepEqual([...Deno.readDirSync(outside)], []);
      assert.equal(await readLog(home), "");
    });
  },
});

Deno.test({
  name: "cdx.log.lock as a symbolic link to a victim: the victim unchanged",
  ignore: !posix,
  fn: async () => {
    await withHomeAndOutside(async (home, outside) => {
      const target = await plantLink(outside, `${logFilePath(home)}.lock`);
      await appendBlock(home, block("a", 1), { maxBytes: 1 << 20 });
      await target.check();
      assert.ok(!(await Deno.lstat(`${logFilePath(home)}.lock`)).isSymlink);
    });
  },
});

Deno.test({
  name: "real CLI with cdx.log linked to a victim: exit 0, a warning, the victim unchanged",
  ignore: !posix,
  fn: async () => {
    await withHomeAndOutside(async (home, outside) => {
      const target = await plantLink(outside, logFilePath(home));
      const r = await runCdx(["logout", "--no-revoke"], { env: { CODEX_HOME: home } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: replaced .*cdx\.log: it was a symbolic link/);
      await target.check();
      assert.equal(parseBlocks(await Deno.readTextFile(logFilePath(home))).length, 1);
    });
  },
});
