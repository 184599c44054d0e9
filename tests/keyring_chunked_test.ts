/**
 * The chunking wrapper: legacy `CODEX_CHUNKED:<count>:` items still load;
 * without `chunkWrites` (Linux, macOS: codex reads one item, never chunks) a
 * value that does not fit is a KeyringTooLargeError; with it (Windows) each
 * write is a new generation switched by the main item last, so a reader
 * never sees a mix of two values; deletes are complete; missing or corrupt
 * chunks are errors, never a wrong value.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ChunkedKeyringStore,
  GENERATION_HEADER_PREFIX,
  KeyringError,
  KeyringTooLargeError,
  parseChunkHeader,
  type RawKeyring,
} from "../lib/keyring/mod.ts";
import { splitIntoChunks } from "../lib/keyring/chunked.ts";

const encoder = new TextEncoder();

/** A raw keyring with a tiny UTF-8 byte limit that records every call. */
class TinyKeyring implements RawKeyring {
  readonly items = new Map<string, string>();
  readonly log: string[] = [];
  constructor(readonly limit: number) {}
  describe() {
    return "tiny";
  }
  maxValueSize() {
    return this.limit;
  }
  valueSize(value: string) {
    return encoder.encode(value).length;
  }
  /** Called before each save (tests read concurrently there). */
  beforeSave?: (account: string) => Promise<void>;
  load(_service: string, account: string) {
    this.log.push(`load ${account}`);
    return Promise.resolve(this.items.get(account));
  }
  async save(_service: string, account: string, value: string) {
    this.log.push(`save ${account}`);
    await this.beforeSave?.(account);
    if (this.valueSize(value) > this.limit) throw new Error("over the limit");
    this.items.set(account, value);
  }
  delete(_service: string, account: string) {
    this.log.push(`delete ${account}`);
    return Promise.resolve(this.items.delete(account));
  }
}

const chunking = { chunkWrites: true, maxChunks: 1000 };

Deno.test("a value that fits is one plain item, loaded with one backend call", async () => {
  const raw = new TinyKeyring(32);
  const store = new ChunkedKeyringStore(raw);
  await store.save("s", "acct", "short value");
  assert.deepEqual([...raw.items], [["acct", "short value"]]);
  raw.log.length = 0;
  assert.equal(await store.load("s", "acct"), "short value");
  assert.deepEqual(raw.log, ["load acct"]);
});

Deno.test("without chunkWrites a value that does not fit is KeyringTooLargeError and nothing is written", async () => {
  const raw = new TinyKeyring(24);
  const store = new ChunkedKeyringStore(raw);
  assert.equal(store.fits("s", "acct", "x".repeat(50)), false);
  assert.equal(store.fits("s", "acct", "x".repeat(20)), true);
  await assert.rejects(store.save("s", "acct", "x".repeat(50)), KeyringTooLargeError);
  assert.equal(raw.items.size, 0);
});

Deno.test("with chunkWrites a long value is a generation: chunks <account>:<gen>:<i> first, the main item last", async () => {
  const raw = new TinyKeyring(40);
  const store = new ChunkedKeyringStore(raw, chunking);
  const value = "0123456789".repeat(8);
  await store.save("s", "acct", value);
  const header = raw.items.get("acct")!;
  assert.ok(header.startsWith(GENERATION_HEADER_PREFIX));
  const parsed = parseChunkHeader(header)!;
  assert.match(parsed.gen!, /^[0-9a-f]{8}$/);
  assert.equal(raw.items.size, parsed.count);
  for (let i = 1; i < parsed.count; i++) assert.ok(raw.items.has(`acct:${parsed.gen}:${i}`));
  const saves = raw.log.filter((l) => l.startsWith("save"));
  assert.equal(saves.at(-1), "save acct", "the main item is written last");
  assert.equal(await store.load("s", "acct"), value);
});

Deno.test("a reader during a rewrite sees the old value or the new one, never a mix", async () => {
  const raw = new TinyKeyring(40);
  const writer = new ChunkedKeyringStore(raw, chunking);
  const oldValue = "a".repeat(150);
  const newValue = "b".repeat(150);
  await writer.save("s", "acct", oldValue);
  const seen: string[] = [];
  raw.beforeSave = async () => {
    seen.push((await new ChunkedKeyringStore(raw, chunking).load("s", "acct"))!);
  };
  await writer.save("s", "acct", newValue);
  raw.beforeSave = undefined;
  seen.push((await new ChunkedKeyringStore(raw, chunking).load("s", "acct"))!);
  assert.ok(seen.length > 3);
  for (const v of seen) assert.ok(v === oldValue || v === newValue, `mixed read: ${v}`);
  assert.equal(seen.at(-1), newValue);
  // The old generation is gone.
  assert.equal(raw.items.size, parseChunkHeader(raw.items.get("acct")!)!.count);
});

Deno.test("items written by codex's proposed chunking (count includes the first piece) still load", async () => {
  const raw = new TinyKeyring(10_000);
  raw.items.set("cli|x", "CODEX_CHUNKED:3:abc");
  raw.items.set("cli|x:1", "def");
  raw.items.set("cli|x:2", "ghi");
  assert.equal(await new ChunkedKeyringStore(raw).load("s", "cli|x"), "abcdefghi");
});

Deno.test("replacing a legacy chunked item with one plain item removes every old chunk", async () => {
  const raw = new TinyKeyring(10_000);
  raw.items.set("cli|x", "CODEX_CHUNKED:3:abc");
  raw.items.set("cli|x:1", "def");
  raw.items.set("cli|x:2", "ghi");
  const store = new ChunkedKeyringStore(raw);
  await store.save("s", "cli|x", "plain");
  assert.deepEqual([...raw.items], [["cli|x", "plain"]]);
});

Deno.test("delete removes the main item and every chunk", async () => {
  const raw = new TinyKeyring(30);
  const store = new ChunkedKeyringStore(raw, chunking);
  await store.save("s", "acct", "x".repeat(200));
  assert.ok(raw.items.size > 5);
  assert.equal(await new ChunkedKeyringStore(raw).delete("s", "acct"), true);
  assert.equal(raw.items.size, 0);
  assert.equal(await store.delete("s", "acct"), false);
});

Deno.test("a missing chunk is a KeyringError, never a shorter value", async () => {
  const raw = new TinyKeyring(30);
  const store = new ChunkedKeyringStore(raw, chunking);
  await store.save("s", "acct", "y".repeat(100));
  const { gen } = parseChunkHeader(raw.items.get("acct")!)!;
  raw.items.delete(`acct:${gen}:2`);
  await assert.rejects(new ChunkedKeyringStore(raw).load("s", "acct"), (e) => {
    assert.ok(e instanceof KeyringError);
    assert.match(e.message, /chunk 2 of \d+ is missing/);
    assert.ok(!e.message.includes("yyyy"), "no secret in the message");
    return true;
  });
});

Deno.test("a corrupt chunk count is a KeyringError", async () => {
  for (
    const bad of [
      "CODEX_CHUNKED:x:abc",
      "CODEX_CHUNKED:0:abc",
      "CODEX_CHUNKED:-1:a",
      "CDX_CHUNKED:zz:2:a",
    ]
  ) {
    const raw = new TinyKeyring(100);
    raw.items.set("acct", bad);
    await assert.rejects(new ChunkedKeyringStore(raw).load("s", "acct"), KeyringError, bad);
  }
});

Deno.test("a header without a second colon is a plain value, as in codex's proposal", async () => {
  const raw = new TinyKeyring(100);
  raw.items.set("acct", "CODEX_CHUNKED:nocolon");
  assert.equal(await new ChunkedKeyringStore(raw).load("s", "acct"), "CODEX_CHUNKED:nocolon");
});

Deno.test("a shorter value replacing a chunked one leaves no stale chunks", async () => {
  const raw = new TinyKeyring(30);
  const store = new ChunkedKeyringStore(raw, chunking);
  await store.save("s", "acct", "z".repeat(150));
  await store.save("s", "acct", "z".repeat(45));
  const count = parseChunkHeader(raw.items.get("acct")!)!.count;
  assert.equal(raw.items.size, count);
  await store.save("s", "acct", "tiny");
  assert.deepEqual([...raw.items.keys()], ["acct"]);
});

Deno.test("a value needing more chunks than maxChunks is refused, not spread over 129 items", async () => {
  const raw = new TinyKeyring(30);
  const store = new ChunkedKeyringStore(raw, { chunkWrites: true, maxChunks: 4 });
  await assert.rejects(store.save("s", "acct", "q".repeat(1000)), KeyringTooLargeError);
  assert.equal(raw.items.size, 0);
});

Deno.test("chunks never split a code point and always fit the backend limit (property)", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", maxLength: 300 }),
      fc.integer({ min: 40, max: 80 }),
      (value, max) => {
        const size = (t: string) => encoder.encode(t).length;
        const headerFor = (n: number) => `${GENERATION_HEADER_PREFIX}0123abcd:${n}:`;
        const pieces = splitIntoChunks(value, max, size, headerFor);
        assert.equal(pieces.join(""), value);
        assert.ok(size(headerFor(pieces.length) + pieces[0]) <= max);
        for (const piece of pieces.slice(1)) assert.ok(size(piece) <= max);
        for (const piece of pieces) {
          assert.ok(!/[\uD800-\uDBFF]$/.test(piece), "split a surrogate pair");
        }
      },
    ),
  );
});

Deno.test("round trips of arbitrary strings through a tiny backend (property)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: "binary", maxLength: 200 }), async (value) => {
      const raw = new TinyKeyring(40);
      const store = new ChunkedKeyringStore(raw, chunking);
      await store.save("s", "a", value);
      assert.equal(await new ChunkedKeyringStore(raw, chunking).load("s", "a"), value);
      await store.delete("s", "a");
      assert.equal(raw.items.size, 0);
    }),
    { numRuns: 200 },
  );
});
