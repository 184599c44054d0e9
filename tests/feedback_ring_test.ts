import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteRing } from "../lib/feedback/ring.ts";
import { concatBytes as concat } from "../lib/bytes.ts";

const writes = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 60 });

Deno.test("ring never holds or allocates more than its capacity, whatever is written", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), writes, (capacity, chunks) => {
      const ring = new ByteRing(capacity);
      for (const chunk of chunks) {
        ring.write(chunk);
        assert.ok(ring.length <= capacity);
        assert.ok(ring.allocated <= capacity);
        assert.equal(ring.bytes().length, ring.length);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("ring always holds exactly the newest bytes written, in order", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40_000 }), writes, (capacity, chunks) => {
      const ring = new ByteRing(capacity);
      const all: Uint8Array[] = [];
      for (const chunk of chunks) {
        ring.write(chunk);
        all.push(chunk);
        const everything = concat(all);
        const expected = everything.subarray(Math.max(0, everything.length - capacity));
        assert.deepEqual(ring.bytes(), expected);
        assert.equal(ring.totalWritten, everything.length);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("ring grows past its initial allocation and then wraps around (large capacity)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 9000 }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 17_000, max: 70_000 }),
      (sizes, capacity) => {
        const ring = new ByteRing(capacity);
        const all: Uint8Array[] = [];
        sizes.forEach((size, i) => {
          const chunk = new Uint8Array(size).fill(i % 251);
          ring.write(chunk);
          all.push(chunk);
        });
        const everything = concat(all);
        assert.deepEqual(
          ring.bytes(),
          everything.subarray(Math.max(0, everything.length - capacity)),
        );
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("a record larger than the capacity keeps its tail", () => {
  const ring = new ByteRing(8);
  ring.write(new TextEncoder().encode("old"));
  ring.write(new TextEncoder().encode("0123456789abcdef"));
  assert.equal(new TextDecoder().decode(ring.bytes()), "89abcdef");
  ring.write(new TextEncoder().encode("XY"));
  assert.equal(new TextDecoder().decode(ring.bytes()), "abcdefXY");
});

Deno.test("a ring starts small: a process that logs little never allocates 4 MiB", () => {
  const ring = new ByteRing();
  ring.write(new Uint8Array(100));
  assert.equal(ring.capacity, 4 * 1024 * 1024);
  assert.ok(ring.allocated <= 64 * 1024);
});

Deno.test("ring capacity must be a positive integer", () => {
  assert.throws(() => new ByteRing(0), RangeError);
  assert.throws(() => new ByteRing(1.5), RangeError);
});
