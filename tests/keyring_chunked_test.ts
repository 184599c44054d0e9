/**
 * The backend-agnostic chunking wrapper: codex's `CODEX_CHUNKED:<count>:`
 * scheme, chunks before header, complete deletes, and errors — never a wrong
 * value — for missing or corrupt chunks.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CHUNKED_HEADER_PREFIX,
  ChunkedKeyringStore,
  KeyringError,
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
  load(_service: string, account: string) {
    this.log.push(`load ${account}`);
    return Promise.resolve(this.items.get(account));
  }
  save(_service: string, account: string, value: string) {
    this.log.push(`save ${account}`);
    if (this.valueSize(value) > this.limit) return Promise.reject(new Error("over the limit"));
    this.items.set(account, value);
    return Promise.resolve();
  }
  delete(_service: string, account: string) {
    this.log.push(`delete ${account}`);
    return Promise.resolve(this.items.delete(account));
  }
}

Deno.test("a value that fits is one plain item, loaded with one backend call", async () => {
  const raw = new TinyKeyring(32);
  const store = new ChunkedKeyringStore(raw);
  await store.save("s", "acct", "short value");
  assert.deepEqual([...raw.items], [["acct", "short value"]]);
  raw.log.length = 0;
  assert.equal(await store.load("s", "acct"), "short value");
  assert.deepEqual(raw.log, ["load acct"]);
});

Deno.test("a long value becomes CODEX_CHUNKED:<count>:<first> plus <account>:1.. chunks, header last", async () => {
  const raw = new TinyKeyring(24);
  const store = new ChunkedKeyringStore(raw);
  const value = "0123456789".repeat(5);
  await store.save("s", "acct", value);
  const header = raw.items.get("acct")!;
  assert.ok(header.startsWith(`${CHUNKED_HEADER_PREFIX}`));
  const parsed = parseChunkHeader(header)!;
  assert.equal(raw.items.size, parsed.count);
  for (let i = 1; i < parsed.count; i++) assert.ok(raw.items.has(`acct:${i}`));
  const saves = raw.log.filter((l) => l.startsWith("save"));
  assert.equal(saves.at(-1), "save acct", "the header is written last");
  assert.equal(await store.load("s", "acct"), value);
});

Deno.test("items written by codex's chunking (count includes the first piece) load", async () => {
  const raw = new TinyKeyring(10_000);
  raw.items.set("cli|x", "CODEX_CHUNKED:3:abc");
  raw.items.set("cli|x:1", "def");
  raw.items.set("cli|x:2", "ghi");
  assert.equal(await new ChunkedKeyringStore(raw).load("s", "cli|x"), "abcdefghi");
});

Deno.test("delete removes the header and every chunk", async () => {
  const raw = new TinyKeyring(20);
  const store = new ChunkedKeyringStore(raw);
  await store.save("s", "acct", "x".repeat(200));
  assert.ok(raw.items.size > 5);
  assert.equal(await store.delete("s", "acct"), true);
  assert.equal(raw.items.size, 0);
  assert.equal(await store.delete("s", "acct"), false);
});

Deno.test("a missing chunk is a KeyringError, never a shorter value", async () => {
  const raw = new TinyKeyring(20);
  const store = new ChunkedKeyringStore(raw);
  await store.save("s", "acct", "y".repeat(100));
  raw.items.delete("acct:2");
  await assert.rejects(store.load("s", "acct"), (e) => {
    assert.ok(e instanceof KeyringError);
    assert.match(e.message, /chunk 2 of \d+ is missing/);
    assert.ok(!e.message.includes("yyyy"), "no secret in the message");
    return true;
  });
});

Deno.test("a corrupt chunk count is a KeyringError", async () => {
  for (const bad of ["CODEX_CHUNKED:x:abc", "CODEX_CHUNKED:0:abc", "CODEX_CHUNKED:-1:a"]) {
    const raw = new TinyKeyring(100);
    raw.items.set("acct", bad);
    await assert.rejects(new ChunkedKeyringStore(raw).load("s", "acct"), KeyringError, bad);
  }
});

Deno.test("a header without a second colon is a plain value, as in codex", async () => {
  const raw = new TinyKeyring(100);
  raw.items.set("acct", "CODEX_CHUNKED:nocolon");
  assert.equal(await new ChunkedKeyringStore(raw).load("s", "acct"), "CODEX_CHUNKED:nocolon");
});

Deno.test("a shorter value replacing a chunked one leaves no stale chunks", async () => {
  const raw = new TinyKeyring(20);
  const store = new ChunkedKeyringStore(raw);
  await store.save("s", "acct", "z".repeat(150));
  await store.save("s", "acct", "z".repeat(45));
  const count = parseChunkHeader(raw.items.get("acct")!)!.count;
  assert.equal(raw.items.size, count);
  await store.save("s", "acct", "tiny");
  assert.deepEqual([...raw.items.keys()], ["acct"]);
});

Deno.test("chunks never split a code point and always fit the backend limit (property)", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", maxLength: 300 }),
      fc.integer({ min: 24, max: 80 }),
      (value, max) => {
        const size = (t: string) => encoder.encode(t).length;
        const pieces = splitIntoChunks(value, max, size);
        assert.equal(pieces.join(""), value);
        const header = `${CHUNKED_HEADER_PREFIX}${pieces.length}:${pieces[0]}`;
        assert.ok(size(header) <= max);
        for (const piece of pieces.slice(1)) assert.ok(size(piece) <= max);
        for (const piece of pieces) {
          assert.ok(
            !/[\uD800-\uDBFF]$/.test(piece),
            "split a surrogate pair",
          );
        }
      },
    ),
  );
});

Deno.test("round trips of arbitrary strings through a tiny backend (property)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: "binary", maxLength: 200 }), async (value) => {
      const raw = new TinyKeyring(30);
      const store = new ChunkedKeyringStore(raw);
      await store.save("s", "a", value);
      assert.equal(await store.load("s", "a"), value);
      await store.delete("s", "a");
      assert.equal(raw.items.size, 0);
    }),
    { numRuns: 200 },
  );
});
