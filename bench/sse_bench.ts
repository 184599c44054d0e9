/**
 * SSE parsing as `cdx run` does it — `lib/model/sse.ts`: UTF-8 decoding,
 * the npm parser `eventsource-parser` with its 32 MiB cap, events collected
 * per read — against the bare library, on a Responses API stream of 10,000
 * deltas (~1.9 MB) fed as the network delivers it (one read per event) and
 * in 16 KiB reads, and on one 1 MiB data line. Plus the full per-event work
 * of `cdx run` (parse + JSON + interpret) and what the parser adds to
 * start-up. The README's "Dependencies and why" records the outcome, and the
 * measurement against the hand-written parser cdx had before.
 *
 *   deno bench -A bench/sse_bench.ts
 */
import { createParser } from "eventsource-parser";
import { createProcessRunner } from "../lib/process.ts";
import { SseParser } from "../lib/model/sse.ts";
import { interpretEvent } from "../lib/model/events.ts";
import { responseEvents } from "../tests/fakes/responses_server.ts";

const encoder = new TextEncoder();
const READ = 16 * 1024;
const CAP = 32 * 1024 * 1024;

function chunked(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += READ) out.push(bytes.subarray(i, i + READ));
  return out;
}

const deltas = Array.from({ length: 10_000 }, (_, i) => `tok${i % 10} `);
const events = responseEvents(deltas);
const perEvent = events.map((e) => encoder.encode(e));
const stream = encoder.encode(events.join(""));
const streamChunks = chunked(stream);
const longLine = encoder.encode(`data: ${"x".repeat(1024 * 1024)}\n\n`);
const longChunks = chunked(longLine);
const mb = (n: number) => (n / 1e6).toFixed(2);

function cdx(chunks: Uint8Array[], expected: number): void {
  const parser = new SseParser({ maxBufferLength: CAP });
  let n = 0;
  for (const chunk of chunks) n += parser.push(chunk).length;
  if (n !== expected) throw new Error(`got ${n} events`);
}

function bare(chunks: Uint8Array[], expected: number): void {
  const decoder = new TextDecoder();
  let n = 0;
  const parser = createParser({ onEvent: () => void n++, maxBufferSize: CAP });
  for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
  if (n !== expected) throw new Error(`got ${n} events`);
}

const cases: Array<[string, Uint8Array[], number]> = [
  [`10,000 deltas, one read per event, ${mb(stream.length)} MB`, perEvent, 10_008],
  [`10,000 deltas in 16 KiB reads, ${mb(stream.length)} MB`, streamChunks, 10_008],
  [`one 1 MiB data line, ${mb(longLine.length)} MB`, longChunks, 1],
];
for (const [name, chunks, expected] of cases) {
  Deno.bench(
    `eventsource-parser, bare: ${name}`,
    { group: name, baseline: true },
    () => bare(chunks, expected),
  );
  Deno.bench(`SseParser (cdx): ${name}`, { group: name }, () => cdx(chunks, expected));
}

Deno.bench(`cdx run's per-event work: parse + JSON + interpret, ${mb(stream.length)} MB`, {
  group: "work",
}, () => {
  const parser = new SseParser();
  let text = 0;
  for (const chunk of perEvent) {
    for (const ev of parser.push(chunk)) {
      const e = interpretEvent(ev);
      if (e?.type === "text_delta") text += e.delta.length;
    }
  }
  if (text !== 50_000) throw new Error(`got ${text} chars`);
});

// What the parser adds to start-up: a Deno process importing it, against an empty one.
// Both sides spawn through lib/process.ts, so its own cost cancels out of the comparison.
const sseModule = new URL("../lib/model/sse.ts", import.meta.url).href;
const runner = createProcessRunner();
const startup = (code: string) => async () => {
  const out = await runner.run(Deno.execPath(), ["eval", "--no-check", code]);
  if (out.code !== 0) throw new Error(`deno eval failed: ${code}`);
};
const once = { group: "start-up", n: 30, warmup: 3 };
Deno.bench("start-up: empty program", { ...once, baseline: true }, startup(""));
Deno.bench(
  "start-up: import lib/model/sse.ts (with eventsource-parser)",
  once,
  startup(`await import(${JSON.stringify(sseModule)});`),
);
