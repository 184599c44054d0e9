/**
 * One log record through the feedback capture: format, redaction (exact
 * values and patterns) and the ring write. Goal: median at most 2 µs.
 *
 * Run: `deno bench -A bench/feedback_bench.ts`
 *
 * @module
 */
import type { LogRecord } from "../lib/logger.ts";
import { SecretRegistry } from "../lib/secrets.ts";
import { FeedbackCapture } from "../lib/feedback/capture.ts";

const secrets = new SecretRegistry();
for (let i = 0; i < 8; i++) secrets.register(`registered-secret-value-${i}-${crypto.randomUUID()}`);
const capture = new FeedbackCapture({ secrets });

/** A typical debug record: an HTTP exchange summary with interpolated values. */
const typical: LogRecord = {
  category: ["cdx", "auth"],
  level: "debug",
  message: ["POST ", "https://auth.openai.com/oauth/token", " answered ", 200, " in ", 143, " ms"],
  rawMessage: "POST {url} answered {status} in {ms} ms",
  timestamp: Date.now(),
  properties: { url: "https://auth.openai.com/oauth/token", status: 200, ms: 143 },
};

/** A record that carries a secret the patterns must catch. */
const withSecret: LogRecord = {
  ...typical,
  message: ["request headers ", '{"authorization":"Bearer abcdefghijklmnopqrstuvwxyz0123"}', ""],
  rawMessage: "request headers {headers}",
  properties: { headers: '{"authorization":"Bearer abcdefghijklmnopqrstuvwxyz0123"}' },
};

Deno.bench(
  "feedback capture: one typical record (format + redact + ring)",
  { baseline: true },
  () => {
    capture.sink(typical);
  },
);

Deno.bench("feedback capture: one record with a bearer header to mask", () => {
  capture.sink(withSecret);
});
