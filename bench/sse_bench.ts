/**
 * SSE parser throughput on a Responses API stream of 10,000 deltas
 * (~1.9 MB), fed in 16 KiB reads as a socket delivers it. MB/s = the size
 * printed in the bench name ÷ the time per iteration. Also: the full
 * per-event work of `cdx run` (parse + JSON + interpret), and a stream made
 * of one 1 MiB data line (long-line path).
 *
 *   deno bench -A bench/sse_bench.ts
 */
import { SseParser } from "../lib/model/sse.ts";
import { interpretEvent } from "../lib/model/events.ts";
import { responseEvents } from "../tests/fakes/responses_server.ts";

const encoder = new TextEncoder();
const READ = 16 * 1024;

function chunked(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += READ) out.push(bytes.subarray(i, i + READ));
  return out;
}

const deltas = Array.from({ length: 10_000 }, (_, i) => `tok${i % 10} `);
const stream = encoder.encode(responseEvents(deltas).join(""));
const streamChunks = chunked(stream);
const longLine = encoder.encode(`data: ${"x".repeat(1024 * 1024)}\n\n`);
const longChunks = chunked(longLine);
const mb = (n: number) => (n / 1e6).toFixed(2);

Deno.bench(`SseParser: 10,000-delta Responses stream, ${mb(stream.length)} MB`, {
  group: "sse",
  baseline: true,
}, () => {
  const parser = new SseParser();
  let n = 0;
  for (const chunk of streamChunks) n += parser.push(chunk).length;
  if (n !== 10_008) throw new Error(`got ${n} events`);
});

Deno.bench(`parse + JSON + interpret, ${mb(stream.length)} MB`, { group: "sse" }, () => {
  const parser = new SseParser();
  let text = 0;
  for (const chunk of streamChunks) {
    for (const ev of parser.push(chunk)) {
      const e = interpretEvent(ev);
      if (e?.type === "text_delta") text += e.delta.length;
    }
  }
  if (text !== 50_000) throw new Error(`got ${text} chars`);
});

Deno.bench(`SseParser: one 1 MiB data line, ${mb(longLine.length)} MB`, { group: "long" }, () => {
  const parser = new SseParser();
  let n = 0;
  for (const chunk of longChunks) n += parser.push(chunk).length;
  if (n !== 1) throw new Error(`got ${n} events`);
});
