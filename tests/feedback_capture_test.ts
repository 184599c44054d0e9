import assert from "node:assert/strict";
import fc from "fast-check";
import { configureLogging, getLogger, type LogRecord } from "../lib/log.ts";
import { createTestContext, mapEnv, MemoryOutput } from "../lib/context.ts";
import { SecretRegistry } from "../lib/secrets.ts";
import {
  FeedbackCapture,
  installedCapture,
  installFeedbackCapture,
  MAX_TAG_KEYS,
} from "../lib/feedback/capture.ts";
import { persistSettings } from "../lib/feedback/settings.ts";
import { MASK, redactPatterns } from "../lib/redact.ts";
import { recordedArgv } from "../lib/feedback/argv.ts";
import { maskConfigToml } from "../lib/feedback/diagnostics.ts";

function record(
  message: string,
  properties: Record<string, unknown> = {},
  category = ["cdx", "auth"],
): LogRecord {
  return {
    category,
    level: "trace",
    message: [message],
    rawMessage: message,
    timestamp: Date.UTC(2026, 10, 26, 7, 0, 0, 5),
    properties,
  };
}

const JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEyMyIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLWJ5dGVz";

Deno.test("patterns mask JWTs, Bearer tokens, sk- keys, Authorization and Cookie headers", () => {
  const cases: Array<[string, string]> = [
    [`id token ${JWT} parsed`, "eyJhbGci"],
    ["sending Bearer abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnop"],
    ["key sk-proj-AbCdEf0123456789xyz accepted", "sk-proj-AbCd"],
    ["Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpw"],
    ['headers {"authorization":"Token zzzzsecretzzzz","accept":"json"}', "zzzzsecretzzzz"],
    ["Cookie: session=abc123def456; other=1", "abc123def456"],
    ["set-cookie: __Secure-next-auth=qwertyuiop123", "qwertyuiop123"],
  ];
  for (const [text, secret] of cases) {
    const out = redactPatterns(text);
    assert.ok(!out.includes(secret), `${text} → ${out}`);
    assert.ok(out.includes(MASK), out);
  }
  assert.equal(redactPatterns('{"accept":"json"}'), '{"accept":"json"}');
  assert.equal(redactPatterns("Authorization: [REDACTED]"), "Authorization: [REDACTED]");
});

Deno.test("patterns mask token fields of JSON bodies, form bodies and NAME=value text", () => {
  const fields = [
    "access_token",
    "refresh_token",
    "id_token",
    "device_auth_id",
    "code_verifier",
    "authorization_code",
    "OPENAI_API_KEY",
  ];
  for (const field of fields) {
    const value = `v4lue-of-${field}-XYZ`;
    for (
      const text of [
        `{"${field}": "${value}", "other": 1}`,
        `{"${field}":"${value}"}`,
        `grant_type=refresh_token&${field}=${value}&client_id=app`,
        `${field}=${value}`,
      ]
    ) {
      const out = redactPatterns(text);
      assert.ok(!out.includes(value), `${text} → ${out}`);
      assert.ok(out.includes(field), "the field name stays visible");
    }
  }
  const nested = redactPatterns(
    String.raw`{"body":"{\"refresh_token\":\"nested-secret-1\",\"x\":1}"}`,
  );
  assert.ok(!nested.includes("nested-secret-1"), nested);
  const spaced = redactPatterns('{"access_token": "Bearer with spaces-secret"}');
  assert.ok(!spaced.includes("spaces-secret"), spaced);
  const exchange = redactPatterns("grant_type=authorization_code&code=AUTHCODE123&redirect_uri=x");
  assert.ok(!exchange.includes("AUTHCODE123"), exchange);
  assert.ok(exchange.includes("grant_type=authorization_code"), exchange);
  assert.equal(redactPatterns('{"OPENAI_API_KEY": null}'), '{"OPENAI_API_KEY": null}');
});

Deno.test("registered secrets are masked wherever they appear, even split across nothing", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 6, maxLength: 40 }).filter((s) => s.trim() === s && !s.includes(MASK)),
      fc.string({ maxLength: 30 }),
      fc.string({ maxLength: 30 }),
      (secret, before, after) => {
        const secrets = new SecretRegistry();
        secrets.register(secret);
        const out = secrets.redact(`${before}${secret}${after}`);
        assert.ok(!out.includes(secret), out);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("argv: values of secret-bearing options are masked, flags like --with-api-key are not", () => {
  const secrets = new SecretRegistry();
  assert.deepEqual(
    recordedArgv(
      ["login", "--with-api-key", "--store", "file", "--token", "abc", "--api-key=xyz"],
      secrets,
    ),
    ["login", "--with-api-key", "--store", "file", "--token", MASK, `--api-key=${MASK}`],
  );
  assert.deepEqual(recordedArgv(["logout", "--note=sk-abcdefghijkl123"], secrets), [
    "logout",
    `--note=${MASK}`,
  ]);
});

Deno.test("config.toml: secret-looking string values are masked, settings stay readable", () => {
  const text = [
    'model = "o4"',
    'cli_auth_credentials_store = "keyring"',
    "model_max_output_tokens = 2000",
    "[feedback]",
    'dsn = "https://abc@o1.ingest.sentry.io/1"',
    "[model_providers.x]",
    'experimental_bearer_token = "tok-123456"',
    'http_headers = { "Authorization" = "Bearer abcdefghijklmnop" }',
  ].join("\n");
  const out = maskConfigToml(text, new SecretRegistry());
  assert.ok(out.includes('model = "o4"'));
  assert.ok(out.includes('cli_auth_credentials_store = "keyring"'));
  assert.ok(out.includes("model_max_output_tokens = 2000"));
  for (const secret of ["abc@o1", "tok-123456", "abcdefghijklmnop"]) {
    assert.ok(!out.includes(secret), out);
  }
});

Deno.test("capture redacts a record before it enters the ring", () => {
  const secrets = new SecretRegistry();
  const capture = new FeedbackCapture({ secrets, capacity: 4096 });
  secrets.register("opaque-refresh-777");
  capture.sink({
    ...record(""),
    message: [
      "refreshing with ",
      "opaque-refresh-777",
      " and Bearer ",
      "abcdefghijklmnopqrstuvwxyz",
      "",
    ],
    properties: { token: "opaque-refresh-777", bearer: "abcdefghijklmnopqrstuvwxyz" },
  });
  const raw = new TextDecoder().decode(capture.ring.bytes());
  assert.ok(!raw.includes("opaque-refresh-777"), raw);
  assert.ok(!raw.includes("abcdefghijklmnop"), raw);
  assert.match(raw, /^2026-11-26T07:00:00\.005Z TRACE cdx\.auth: refreshing with \[REDACTED\]/);
});

Deno.test("capture keeps properties the message did not interpolate", () => {
  const capture = new FeedbackCapture({ capacity: 4096 });
  capture.sink(record("request done", { status: 200, access_token: "tok-abcdef-123" }));
  const text = capture.text();
  assert.match(text, /request done \{"status":200,"access_token":"\[REDACTED\]"\}/);
});

Deno.test("a secret registered after it was logged is masked in the capture's text", () => {
  const secrets = new SecretRegistry();
  const capture = new FeedbackCapture({ secrets, capacity: 4096 });
  capture.sink(record("read value late-secret-42 from stdin"));
  secrets.register("late-secret-42");
  assert.ok(!capture.text().includes("late-secret-42"));
});

Deno.test("tags come from the feedback_tags category, at most 64 keys, values redacted", () => {
  const secrets = new SecretRegistry();
  secrets.register("registered-tag-secret-42");
  const capture = new FeedbackCapture({ secrets, capacity: 1 << 16 });
  const tag = (properties: Record<string, unknown>) =>
    capture.sink(record("tag", properties, ["cdx", "feedback_tags"]));
  tag({ auth: "Bearer abcdefghijklmnopq", account: "acct registered-tag-secret-42" });
  for (let i = 0; i < 100; i++) tag({ [`key${i}`]: `value${i}` });
  tag({ key0: "updated", extra: "ignored" });
  capture.sink(record("not a tag", { other: "x" }, ["cdx", "auth"]));
  const tags = capture.tags();
  assert.equal(Object.keys(tags).length, MAX_TAG_KEYS);
  assert.equal(tags.auth, `Bearer ${MASK}`);
  assert.equal(tags.account, `acct ${MASK}`);
  assert.equal(tags.key0, "updated");
  assert.equal(tags.key61, "value61");
  assert.equal(tags.key62, undefined, "the 65th key is dropped");
  assert.equal(tags.extra, undefined);
  assert.equal(tags.other, undefined);
});

Deno.test("the installed capture receives every level, trace included, while the console shows warn", () => {
  const stderr = new MemoryOutput();
  const secrets = new SecretRegistry();
  configureLogging({ output: stderr, level: "warn", secrets });
  const ctx = createTestContext({ secrets, stderr });
  const installed = installFeedbackCapture(ctx, { capacity: 1 << 16 });
  try {
    const logger = getLogger(["cdx", "test"]);
    logger.trace("a trace line");
    logger.debug("a debug line");
    logger.info("an info line");
    logger.warn("a warn line");
    getLogger(["cdx", "feedback_tags"]).info("tags", { auth_mode: "apikey" });
    const text = installed.capture.text();
    for (const level of ["TRACE", "DEBUG", " INFO", " WARN"]) {
      assert.match(text, new RegExp(`${level} cdx\\.test:`));
    }
    assert.deepEqual(installed.capture.tags(), { auth_mode: "apikey" });
    assert.ok(!stderr.text().includes("trace line"));
    assert.ok(stderr.text().includes("a warn line"));
    assert.equal(installedCapture(ctx), installed);
  } finally {
    installed.dispose();
  }
  assert.equal(installedCapture(ctx), undefined);
});

Deno.test("persistence is on by default, off with CDX_LOG_PERSIST=0 or feedback.persist_logs = false", () => {
  const config = { path: "", values: {} };
  assert.equal(persistSettings({ env: mapEnv({}), config }).enabled, true);
  assert.equal(persistSettings({ env: mapEnv({}), config }).maxBytes, 8 * 1024 * 1024);
  assert.equal(persistSettings({ env: mapEnv({ CDX_LOG_PERSIST: "0" }), config }).enabled, false);
  assert.equal(persistSettings({ env: mapEnv({ CDX_LOG_PERSIST: "off" }), config }).enabled, false);
  assert.equal(persistSettings({ env: mapEnv({ CDX_LOG_PERSIST: "1" }), config }).enabled, true);
  assert.equal(
    persistSettings({
      env: mapEnv({}),
      config: { path: "", values: { feedback: { persist_logs: false } } },
    }).enabled,
    false,
  );
  assert.equal(
    persistSettings({ env: mapEnv({ CDX_LOG_MAX_BYTES: "4096" }), config }).maxBytes,
    4096,
  );
});
