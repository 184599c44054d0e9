import assert from "node:assert/strict";
import fc from "fast-check";
import { type SseEvent, SseLimitError, SseParser } from "../lib/model/sse.ts";
import { responseEvents, splitText } from "./fakes/responses_server.ts";

const encoder = new TextEncoder();

function parseChunks(chunks: Uint8Array[]): SseEvent[] {
  const parser = new SseParser();
  const out: SseEvent[] = [];
  for (const chunk of chunks) out.push(...parser.push(chunk));
  return out;
}

/** A whole stream held in memory, parsed in one read. */
function parseSseText(text: string): SseEvent[] {
  return parseChunks([encoder.encode(text)]);
}

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(bytes.length, Math.max(0, c))))].sort((
    a,
    b,
  ) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

Deno.test("a data line followed by a blank line is one message event", () => {
  assert.deepEqual(parseSseText("data: hello\n\n"), [{ event: "message", data: "hello", id: "" }]);
});

Deno.test("multi-line data is joined with LF; the event field names the type", () => {
  assert.deepEqual(parseSseText("event: add\ndata: a\ndata:b\ndata:  c\n\n"), [
    { event: "add", data: "a\nb\n c", id: "" },
  ]);
});

Deno.test("comments and unknown fields are ignored; an event with no data is not dispatched", () => {
  assert.deepEqual(parseSseText(": keep-alive\nfoo: bar\n\nevent: x\n\ndata: y\n\n"), [
    { event: "message", data: "y", id: "" },
  ]);
});

Deno.test("CRLF, CR and LF line ends are all accepted, also mixed", () => {
  const expected = [{ event: "e", data: "1\n2", id: "" }, { event: "message", data: "3", id: "" }];
  assert.deepEqual(parseSseText("event: e\r\ndata: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n"), expected);
  assert.deepEqual(parseSseText("event: e\rdata: 1\rdata: 2\r\rdata: 3\r\r"), expected);
  assert.deepEqual(parseSseText("event: e\r\ndata: 1\rdata: 2\n\r\ndata: 3\n\r"), expected);
});

Deno.test("a CR at the end of one read and a LF at the start of the next are one line end", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push(encoder.encode("data: a\r")), []);
  assert.deepEqual(parser.push(encoder.encode("\ndata: b\r")), []);
  assert.deepEqual(parser.push(encoder.encode("\n\r\n")), [{
    event: "message",
    data: "a\nb",
    id: "",
  }]);
});

Deno.test("a leading BOM is stripped, even split across reads; a second BOM is data", () => {
  const bytes = encoder.encode("\uFEFFdata: x\n\ndata: \uFEFFy\n\n");
  assert.deepEqual(parseChunks([bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)]), [
    { event: "message", data: "x", id: "" },
    { event: "message", data: "\uFEFFy", id: "" },
  ]);
  assert.deepEqual(parseSseText("\uFEFFdata: z\n\n"), [{ event: "message", data: "z", id: "" }]);
});

Deno.test("only one space after the colon is removed; a field without colon has empty value", () => {
  assert.deepEqual(parseSseText("data:   two spaces\ndata\n\n"), [
    { event: "message", data: "  two spaces\n", id: "" },
  ]);
});

Deno.test("id persists across events and ignores values with NUL; retry fields change nothing", () => {
  assert.deepEqual(
    parseSseText("id: 7\nretry: 1500\ndata: a\n\nid: x\0y\nretry: 1s\ndata: b\n\n"),
    [
      { event: "message", data: "a", id: "7" },
      { event: "message", data: "b", id: "7" },
    ],
  );
});

Deno.test("an event cut before its blank line is discarded at the end of the stream", () => {
  assert.deepEqual(parseSseText("data: done\n\ndata: cut"), [
    { event: "message", data: "done", id: "" },
  ]);
  assert.deepEqual(parseSseText("data: cut\n"), []);
});

Deno.test("multi-byte characters split inside a code point come out whole", () => {
  const bytes = encoder.encode("data: ✓é🙂\n\n");
  const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
  assert.deepEqual(parseChunks(chunks), [{ event: "message", data: "✓é🙂", id: "" }]);
});

Deno.test("a 4 MiB data line split into 1 KiB reads parses as one event", () => {
  const big = "x".repeat(4 * 1024 * 1024);
  const bytes = encoder.encode(`event: big\ndata: ${big}\n\ndata: after\n\n`);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 1024) chunks.push(bytes.subarray(i, i + 1024));
  const events = parseChunks(chunks);
  assert.equal(events.length, 2);
  assert.equal(events[0].event, "big");
  assert.equal(events[0].data.length, big.length);
  assert.equal(events[1].data, "after");
});

Deno.test("a Responses stream split at every single byte boundary yields the same events", () => {
  const bytes = encoder.encode(responseEvents(splitText("Hi ✓ there, ünïcode!")).join(""));
  const whole = parseChunks([bytes]);
  assert.ok(whole.length > 5);
  for (let k = 1; k < bytes.length; k++) {
    assert.deepEqual(
      parseChunks([bytes.subarray(0, k), bytes.subarray(k)]),
      whole,
      `split at ${k}`,
    );
  }
  assert.deepEqual(parseChunks(Array.from(bytes, (b) => Uint8Array.of(b))), whole);
});

Deno.test("push returns exactly the events each read completes", () => {
  const parser = new SseParser();
  const reads = ["data: a\n\ndata: b\n\nda", "ta: c\n", "\n"].map((t) => encoder.encode(t));
  assert.deepEqual(reads.map((r) => parser.push(r).map((e) => e.data)), [["a", "b"], [], ["c"]]);
});

Deno.test("a line held across reads beyond the cap is an SseLimitError, also one that never ends", () => {
  // The cap bounds what is held between reads; a read itself is at most 64 KiB.
  const limits = { maxBufferLength: 64 };
  const long = `data: ${"x".repeat(100)}\n\n`;
  const parser = new SseParser(limits);
  const pieces = () => {
    for (let i = 0; i < long.length; i += 7) parser.push(encoder.encode(long.slice(i, i + 7)));
  };
  assert.throws(pieces, (e) => e instanceof SseLimitError && e.limit === 64);
  // A data line that never ends is stopped too (a 1 GB line must not be buffered).
  const endless = new SseParser(limits);
  endless.push(encoder.encode("data: "));
  assert.throws(() => {
    for (let i = 0; i < 100; i++) endless.push(encoder.encode("yyyyyyyyyy"));
  }, SseLimitError);
  // Once over, the parser stays failed.
  assert.throws(() => endless.push(encoder.encode("\n\n")), SseLimitError);
  // Under the cap is fine.
  const fits = new SseParser({ maxBufferLength: 64 });
  assert.deepEqual(fits.push(encoder.encode("data: 1234\n\n")).map((e) => e.data), ["1234"]);
});

Deno.test("an event whose data lines add up over the cap is an SseLimitError; the next event starts from zero", () => {
  const parser = new SseParser({ maxBufferLength: 50 });
  const line = `data: ${"z".repeat(20)}\n`;
  assert.equal(parser.push(encoder.encode(line + line + "\n")).length, 1);
  assert.equal(parser.push(encoder.encode(line + line + "\n")).length, 1);
  assert.throws(
    () => parser.push(encoder.encode(line + line + line + "\n")),
    (e) => e instanceof SseLimitError && /larger than 50 characters/.test(e.message),
  );
});

// --- properties -------------------------------------------------------------

const fieldText = fc.string({ unit: "grapheme", maxLength: 12 }).map((s) =>
  s.replace(/[\r\n]/g, "")
);
const eventArb = fc.record({
  event: fc.option(fieldText.filter((s) => s.length > 0), { nil: undefined }),
  data: fc.array(fieldText, { minLength: 1, maxLength: 4 }),
  comment: fc.option(fieldText, { nil: undefined }),
});
const lineEnd = fc.constantFrom("\n", "\r\n", "\r");

/** Serializes events with a chosen line end (and optional BOM); returns text and expected events. */
const streamArb = fc.record({
  events: fc.array(eventArb, { maxLength: 8 }),
  eol: lineEnd,
  bom: fc.boolean(),
}).map(({ events, eol, bom }) => {
  let text = bom ? "\uFEFF" : "";
  const expected: SseEvent[] = [];
  for (const e of events) {
    if (e.comment !== undefined) text += `:${e.comment}${eol}`;
    if (e.event !== undefined) text += `event: ${e.event}${eol}`;
    for (const d of e.data) text += `data: ${d}${eol}`;
    text += eol;
    // "event: x" with x starting with a space keeps it after the first one is removed.
    expected.push({ event: e.event ?? "message", data: e.data.join("\n"), id: "" });
  }
  return { bytes: encoder.encode(text), expected };
});

Deno.test("property: any split of a valid stream yields the serialized events", () => {
  fc.assert(
    fc.property(
      streamArb,
      fc.array(fc.nat({ max: 400 }), { maxLength: 12 }),
      ({ bytes, expected }, cuts) => {
        assert.deepEqual(parseChunks(splitAt(bytes, cuts)), expected);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("property: any split of a Responses stream equals parsing it whole", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: "grapheme", maxLength: 6 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.nat({ max: 3000 }), { maxLength: 20 }),
      (deltas, cuts) => {
        const bytes = encoder.encode(responseEvents(deltas).join(""));
        const whole = parseChunks([bytes]);
        assert.deepEqual(parseChunks(splitAt(bytes, cuts)), whole);
        const text = whole
          .map((e) => JSON.parse(e.data))
          .filter((j) => j.type === "response.output_text.delta")
          .map((j) => j.delta)
          .join("");
        assert.equal(text, deltas.join(""));
      },
    ),
    { numRuns: 300 },
  );
});
