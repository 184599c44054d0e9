/**
 * Memory check of the feedback capture: 1 GiB of log traffic (1 KiB records
 * at every level) into the capture sink must keep resident memory flat:
 * growth under 16 MiB once the 4 MiB ring is full and the JIT is warm.
 *
 * By default records go straight into the sink, so the number measures the
 * sink. `--via-logger` sends them through cdx's logger (lib/log.ts)
 * configured as cdx does (console at error), for comparison.
 *
 * Run: `deno run -A scripts/bench_feedback_memory.ts [MiB] [--via-logger]` (default 1024).
 * Prints a JSON line; exits 1 when the growth reaches 16 MiB.
 *
 * @module
 */
import { configureLogging, getLogger } from "../lib/log.ts";
import { createTestContext, MemoryOutput } from "../lib/context.ts";
import { SecretRegistry } from "../lib/secrets.ts";
import { installFeedbackCapture } from "../lib/feedback/capture.ts";

const MiB = 1024 * 1024;
const totalMiB = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 1024);
const LIMIT = 16 * MiB;
const RECORD_PAYLOAD = 1024 - 96; // ~1 KiB per formatted line with the prefix

const secrets = new SecretRegistry();
for (let i = 0; i < 8; i++) secrets.register(`bench-secret-${i}-${crypto.randomUUID()}`);
configureLogging({ output: new MemoryOutput(), level: "error", secrets });
const ctx = createTestContext({ secrets });
const installed = installFeedbackCapture(ctx);
const logger = getLogger(["cdx", "bench"]);

// Varied payloads, built once, so the loop measures the sink, not the generator.
const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 _-";
const payloads = Array.from({ length: 64 }, (_, i) => {
  let s = `payload ${i}: `;
  while (s.length < RECORD_PAYLOAD) s += alphabet[(s.length * 7 + i) % alphabet.length];
  s = i % 16 === 0
    ? `${s.slice(0, RECORD_PAYLOAD - 60)} Authorization: Bearer abcdefghijklmnop`
    : s;
  // A flat string, as text decoded from the network is (a `+=` rope is far slower to scan).
  return new TextDecoder().decode(new TextEncoder().encode(s));
});

const rss = () => Deno.memoryUsage().rss;
const startRss = rss();
let baselineRss = 0;
let peakRss = 0;
let sent = 0;
let records = 0;
const started = performance.now();
const target = totalMiB * MiB;
const viaLogger = Deno.args.includes("--via-logger");
const levels = ["trace", "debug", "info", "trace"] as const;
while (sent < target) {
  const payload = payloads[records % payloads.length];
  if (!viaLogger) {
    // Straight into the sink: what is measured is the sink, not the logger's own churn.
    installed.capture.sink({
      category: ["cdx", "bench"],
      level: levels[records & 3],
      message: ["chunk ", records, ": ", payload, ""],
      rawMessage: "chunk {n}: {payload}",
      timestamp: Date.now(),
      properties: (records & 3) === 3
        ? { n: records, payload, extra: "not interpolated" }
        : { n: records, payload },
    });
  } else {
    switch (records & 3) {
      case 0:
        logger.trace("chunk {n}: {payload}", { n: records, payload });
        break;
      case 1:
        logger.debug("chunk {n}: {payload}", { n: records, payload });
        break;
      case 2:
        logger.info("chunk {n}: {payload}", { n: records, payload });
        break;
      default:
        logger.trace("chunk {n}: {payload}", { n: records, payload, extra: "not interpolated" });
    }
  }
  sent += payload.length + 96;
  records++;
  if ((records & 0x3fff) === 0) {
    const now = rss();
    if (!baselineRss && sent >= 64 * MiB) baselineRss = now; // ring full, JIT warm
    if (baselineRss) peakRss = Math.max(peakRss, now);
  }
}
const seconds = (performance.now() - started) / 1000;
const endRss = rss();
peakRss = Math.max(peakRss, endRss);
const growth = peakRss - baselineRss;
const result = {
  mode: viaLogger ? "cdx logger -> sink" : "records straight into the sink",
  traffic_mib: Math.round(sent / MiB),
  records,
  seconds: Number(seconds.toFixed(1)),
  us_per_record: Number(((seconds * 1e6) / records).toFixed(2)),
  ring_bytes: installed.capture.ring.length,
  rss_start_mib: Number((startRss / MiB).toFixed(1)),
  rss_baseline_mib: Number((baselineRss / MiB).toFixed(1)),
  rss_peak_mib: Number((peakRss / MiB).toFixed(1)),
  rss_end_mib: Number((endRss / MiB).toFixed(1)),
  heap_used_end_mib: Number((Deno.memoryUsage().heapUsed / MiB).toFixed(1)),
  growth_after_warmup_mib: Number((growth / MiB).toFixed(1)),
  limit_mib: LIMIT / MiB,
  ok: growth < LIMIT,
};
installed.dispose();
Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(result)}\n`));
if (!result.ok) Deno.exit(1);
