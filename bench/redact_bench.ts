/**
 * Exact-value and pattern masking on their own, per text: what one record's
 * redaction costs inside the capture, and how it scales with the number and
 * size of the registered secrets (it must not).
 *
 * Run: `deno bench -A bench/redact_bench.ts`
 *
 * @module
 */
import { SecretRegistry } from "../lib/secrets.ts";
import { redactPatterns } from "../lib/redact.ts";

const typical =
  "2026-11-26T07:00:00.005Z DEBUG cdx.auth: POST https://auth.openai.com/oauth/token answered 200 in 143 ms\n";
const plain =
  "2026-11-26T07:00:00.005Z DEBUG cdx.model: stream started, 12 events so far, model o4-mini\n";
const long = typical.repeat(40);

function random(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return Array.from(bytes, (b) => alphabet[b & 63]).join("");
}

/** A registry as a logged-in process has one: two JWTs, a refresh token, an API key. */
function typicalSecrets(extra = 0, big = 0): SecretRegistry {
  const secrets = new SecretRegistry();
  secrets.register(`eyJhbGciOiJSUzI1NiJ9.${random(900)}.${random(342)}`);
  secrets.register(`eyJhbGciOiJSUzI1NiJ9.${random(600)}.${random(342)}`);
  secrets.register(`rt_${random(40)}`);
  secrets.register(`sk-proj-${random(156)}`);
  for (let i = 0; i < extra; i++) secrets.register(random(24 + (i % 200)));
  if (big) secrets.register(random(big));
  return secrets;
}

const none = new SecretRegistry();
const usual = typicalSecrets();
const many = typicalSecrets(1000);
const huge = typicalSecrets(0, 1 << 20);

Deno.bench("patterns: a record with a trigger word (full pattern runs)", {
  group: "patterns",
}, () => {
  redactPatterns(typical);
});
Deno.bench("patterns: a record without trigger word", { group: "patterns" }, () => {
  redactPatterns(plain);
});
Deno.bench("values: none registered", { group: "values", baseline: true }, () => {
  none.redactValues(typical);
});
Deno.bench("values: 4 secrets of a logged-in process", { group: "values" }, () => {
  usual.redactValues(typical);
});
Deno.bench("values: 1004 secrets", { group: "values" }, () => {
  many.redactValues(typical);
});
Deno.bench("values: 4 secrets and a 1 MiB one", { group: "values" }, () => {
  huge.redactValues(typical);
});
Deno.bench("values: 4 secrets, a 4 KiB record", { group: "values" }, () => {
  usual.redactValues(long);
});
Deno.bench("redact (values + patterns): typical record, 4 secrets", { group: "all" }, () => {
  usual.redact(typical);
});

const jwt = `eyJhbGciOiJSUzI1NiJ9.${random(1500)}.${random(342)}`;
Deno.bench("register: a 1.9 KB JWT into a fresh registry (start-up cost per token)", {
  group: "register",
}, () => {
  new SecretRegistry().register(jwt);
});
