import assert from "node:assert/strict";
import {
  appendBlock,
  formatBlock,
  keepNewestBlocks,
  logFilePath,
  parseBlocks,
  shrinkBlock,
} from "../lib/feedback/persist.ts";
import { runCdx } from "./helpers/cli.ts";

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
    assert.ok(blocks.length >= 2, `${blocks.length} blocks`);
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
