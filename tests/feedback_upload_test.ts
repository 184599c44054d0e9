import assert from "node:assert/strict";
import {
  createEnvelope,
  dsnFromString,
  parseEnvelope,
  parseRetryAfterHeader,
  serializeEnvelope,
} from "@sentry/core";
import { createTestContext, mapEnv, MemoryOutput } from "../lib/context.ts";
import { CdxError, ExitCode } from "../lib/errors.ts";
import { buildEnvelope, parseDsn, sentryAuthHeader } from "../lib/feedback/envelope.ts";
import { retryAfterSeconds } from "../lib/feedback/upload.ts";
import { prepareReport, reportEnvelope } from "../lib/feedback/report.ts";
import { appendBlock } from "../lib/feedback/persist.ts";
import { formatBlock } from "../lib/feedback/blocks.ts";
import { type FeedbackOptions, runFeedback } from "../commands/feedback.ts";
import { refusedDsn, type SentryMode, startFakeSentry } from "./fakes/sentry_server.ts";
import { runCdx } from "./helpers/cli.ts";
import { withHome } from "./helpers/auth_context.ts";

const decoder = new TextDecoder();

type Item = [Record<string, unknown>, unknown];

function payloadJson(payload: unknown): Record<string, unknown> {
  return payload instanceof Uint8Array
    ? JSON.parse(decoder.decode(payload))
    : payload as Record<string, unknown>;
}

function options(extra: Partial<FeedbackOptions>): FeedbackOptions {
  return { command: "feedback", ...extra } as FeedbackOptions;
}

Deno.test("DSN: envelope endpoint and X-Sentry-Auth come from the DSN; a bad DSN is a usage error", () => {
  const dsn = parseDsn("https://abc123@o33249.ingest.us.sentry.io/4510195390611458");
  assert.equal(
    dsn.envelopeUrl,
    "https://o33249.ingest.us.sentry.io/api/4510195390611458/envelope/",
  );
  assert.equal(
    sentryAuthHeader(dsn, "0.1.0"),
    "Sentry sentry_version=7, sentry_key=abc123, sentry_client=cdx/0.1.0",
  );
  assert.equal(
    parseDsn("http://k@host:9000/sentry/7").envelopeUrl,
    "http://host:9000/sentry/api/7/envelope/",
  );
  assert.throws(() => parseDsn("not a dsn"), (e) => e instanceof CdxError && e.exitCode === 2);
  assert.throws(() => parseDsn("https://host/1"), CdxError);
});

Deno.test("the envelope parsed by @sentry/core: header, event (message, level, tags, note) and log attachments", async () => {
  await withHome(async (home) => {
    await appendBlock(
      home,
      formatBlock(
        { id: "r1", startedAt: 0, version: "0.1.0", exitCode: 0, argv: [], tags: {} },
        "2026-11-26T00:00:00.000Z DEBUG cdx: hello\n",
      ),
      { maxBytes: 1 << 20 },
    );
    const ctx = createTestContext({ globals: { codexHome: home } });
    const report = await prepareReport(ctx, {
      classification: "bug",
      note: "login hangs",
      includeLogs: true,
    });
    const dsn = parseDsn("http://publickey123@127.0.0.1:9/4242");
    const { envelope, eventId } = reportEnvelope(ctx, report, dsn);
    const [header, items] = parseEnvelope(envelope) as unknown as [Record<string, unknown>, Item[]];
    assert.equal(header.event_id, eventId);
    assert.match(eventId, /^[0-9a-f]{32}$/);
    assert.equal(header.dsn, dsn.raw);
    assert.ok(!Number.isNaN(Date.parse(header.sent_at as string)));
    assert.deepEqual(header.sdk, { name: "cdx", version: "0.0.0-test" });

    assert.deepEqual(items.map(([h]) => h.type), ["event", "attachment", "attachment"]);
    const [eventHeader, eventPayload] = items[0];
    assert.equal(typeof eventHeader.length, "number");
    const event = payloadJson(eventPayload);
    assert.equal(event.event_id, eventId);
    assert.equal(event.level, "error");
    assert.equal(event.message, `[Bug]: cdx session ${report.reportId}`);
    assert.deepEqual(event.exception, { values: [{ type: "Bug", value: "login hangs" }] });
    const tags = event.tags as Record<string, string>;
    assert.equal(tags.thread_id, report.reportId);
    assert.equal(tags.classification, "bug");
    assert.equal(tags.cli_version, "0.0.0-test");
    assert.equal(tags.session_source, "cli");
    assert.equal(tags.reason, "login hangs");

    const attachments = items.slice(1).map(([h, payload]) => ({ h, payload }));
    assert.deepEqual(attachments.map((a) => a.h.filename), ["cdx-logs.log", "diagnostics.txt"]);
    for (const { h, payload } of attachments) {
      assert.equal(h.content_type, "text/plain");
      assert.equal(h.attachment_type, "event.attachment");
      assert.equal((payload as Uint8Array).length, h.length);
    }
    assert.match(decoder.decode(attachments[0].payload as Uint8Array), /DEBUG cdx: hello/);
    assert.match(decoder.decode(attachments[1].payload as Uint8Array), /cdx diagnostics/);
  });
});

Deno.test("without logs the envelope carries the event only; good_result is level info without exception", async () => {
  await withHome(async (home) => {
    const ctx = createTestContext({ globals: { codexHome: home } });
    const report = await prepareReport(ctx, { classification: "good_result", includeLogs: false });
    const { envelope } = reportEnvelope(ctx, report, parseDsn("http://k@127.0.0.1:9/1"));
    const [, items] = parseEnvelope(envelope) as unknown as [unknown, Item[]];
    assert.deepEqual(items.map(([h]) => h.type), ["event"]);
    const event = payloadJson(items[0][1]);
    assert.equal(event.level, "info");
    assert.equal(event.message, `[Good result]: cdx session ${report.reportId}`);
    assert.equal(event.exception, undefined);
  });
});

Deno.test("upload to a 200 endpoint: receipt with the event id, X-Sentry-Auth sent, temp bundle removed", async () => {
  await using sentry = startFakeSentry({ status: 200 });
  await withHome(async (home) => {
    const stdout = new MemoryOutput();
    const ctx = createTestContext({
      env: mapEnv({ CDX_FEEDBACK_DSN: sentry.dsn }),
      fetch: globalThis.fetch.bind(globalThis),
      stdout,
      globals: { codexHome: home },
    });
    const code = await runFeedback(
      ctx,
      options({ upload: true, yes: true, note: "n", json: true }),
    );
    assert.equal(code, 0);
    assert.equal(sentry.received.length, 1);
    const request = sentry.received[0];
    assert.equal(request.path, "/api/4242/envelope/");
    assert.match(request.headers.get("x-sentry-auth")!, /sentry_key=publickey123/);
    assert.equal(request.headers.get("content-type"), "application/x-sentry-envelope");
    const [header] = parseEnvelope(request.body) as unknown as [Record<string, unknown>];
    const receipt = JSON.parse(stdout.text());
    assert.equal(receipt.uploaded, true);
    assert.equal(receipt.event_id, header.event_id);
    assert.equal(receipt.bundle, null);
    const left = [...Deno.readDirSync(`${home}/log`)].map((e) => e.name);
    assert.ok(!left.some((n) => n.endsWith(".zip")), `left behind: ${left}`);
  });
});

const failures: Array<[string, SentryMode, RegExp, number]> = [
  ["413", { status: 413 }, /too large \(HTTP 413\)/, ExitCode.FAILURE],
  [
    "429",
    { status: 429, retryAfter: "60" },
    /rate-limiting.*429, retry after 60 s/,
    ExitCode.FAILURE,
  ],
  ["503", { status: 503 }, /HTTP 503/, ExitCode.FAILURE],
  [
    "a hang past the bound",
    "hang",
    /did not answer within 300 ms \(feedback upload\)/,
    ExitCode.TIMEOUT,
  ],
];

for (const [name, mode, message, exitCode] of failures) {
  Deno.test(`upload answered by ${name}: non-zero exit, the bundle kept on disk and its path given`, async () => {
    await using sentry = startFakeSentry(mode);
    await withHome(async (home) => {
      const output = `${home}/report.zip`;
      const ctx = createTestContext({
        env: mapEnv({ CDX_FEEDBACK_DSN: sentry.dsn, CDX_REQUEST_TIMEOUT: "0.3" }),
        fetch: globalThis.fetch.bind(globalThis),
        globals: { codexHome: home },
      });
      await assert.rejects(
        runFeedback(ctx, options({ upload: true, yes: true, output })),
        (error) => {
          assert.ok(error instanceof CdxError, String(error));
          assert.match(error.message, message);
          assert.equal(error.exitCode, exitCode);
          assert.match(error.hint!, new RegExp(`kept at ${output}`));
          return true;
        },
      );
      assert.ok((await Deno.stat(output)).size > 0);
      assert.equal(sentry.received.length, 1);
    });
  });
}

Deno.test("upload to a refused connection: exit 1, bundle kept under $CODEX_HOME/log, path printed (real CLI)", async () => {
  await withHome(async (home) => {
    const r = await runCdx(["feedback", "--upload", "--yes", "--note", "x"], {
      env: { CODEX_HOME: home, CDX_FEEDBACK_DSN: refusedDsn() },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: feedback upload failed: cannot reach 127\.0\.0\.1:\d+/);
    const path = /kept at (\S+\.zip);/.exec(r.stderr)?.[1];
    assert.ok(path, r.stderr);
    assert.ok(path.startsWith(`${home}/log/`));
    assert.ok((await Deno.stat(path)).size > 0);
    assert.equal(r.stdout, "");
  });
});

Deno.test("cdx feedback --upload (real CLI) against the fake: success only after the 2xx, event id printed", async () => {
  await using sentry = startFakeSentry({ status: 503 });
  await withHome(async (home) => {
    const env = { CODEX_HOME: home, CDX_FEEDBACK_DSN: sentry.dsn };
    const failed = await runCdx(["feedback", "--upload", "--yes"], { env });
    assert.equal(failed.code, 1);
    assert.doesNotMatch(failed.stdout + failed.stderr, /uploaded/i);
    sentry.setMode({ status: 200 });
    const ok = await runCdx(["feedback", "--upload", "--yes", "--classification", "bug"], { env });
    assert.equal(ok.code, 0, ok.stderr);
    const [header] = parseEnvelope(sentry.received[1].body) as unknown as [Record<string, string>];
    assert.match(ok.stdout, new RegExp(`Feedback uploaded \\(event ${header.event_id}`));
  });
});

Deno.test("no DSN configured (real CLI): clear error suggesting --output, exit 1", async () => {
  await withHome(async (home) => {
    const r = await runCdx(["feedback", "--upload", "--yes"], { env: { CODEX_HOME: home } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no feedback DSN/);
    assert.match(r.stderr, /hint: .*--output/);
  });
});

Deno.test("the hand-written DSN parser, envelope and Retry-After reading agree with @sentry/core's", () => {
  for (
    const raw of [
      "https://abc123@o33249.ingest.us.sentry.io/4510195390611458",
      "http://k@host:9000/sentry/7",
      "https://public:secret@self.hosted.example/prefix/deep/12",
    ]
  ) {
    const ours = parseDsn(raw);
    const theirs = dsnFromString(raw)!;
    assert.equal(ours.publicKey, theirs.publicKey);
    assert.equal(ours.projectId, theirs.projectId);
    assert.equal(ours.protocol, theirs.protocol);
    assert.equal(ours.host, theirs.host + (theirs.port ? `:${theirs.port}` : ""));
    assert.equal(ours.pathPrefix, theirs.path ? `/${theirs.path}` : "");
  }
  const dsn = parseDsn("http://publickey123@127.0.0.1:9/4242");
  const event = { event_id: "0".repeat(32), sdk: { name: "cdx", version: "1" }, message: "m" };
  const attachment = {
    filename: "cdx-logs.log",
    contentType: "text/plain",
    data: new TextEncoder().encode("line one\nline two\n"),
  };
  const ours = parseEnvelope(buildEnvelope(dsn, event, [attachment], 0));
  const theirs = parseEnvelope(serializeEnvelope(createEnvelope(
    { event_id: event.event_id, dsn: dsn.raw, sent_at: new Date(0).toISOString(), sdk: event.sdk },
    [
      // deno-lint-ignore no-explicit-any
      [{ type: "event" }, event as any],
      [{
        type: "attachment",
        length: attachment.data.length,
        filename: attachment.filename,
        content_type: attachment.contentType,
        attachment_type: "event.attachment",
      }, attachment.data],
    ],
  )));
  assert.deepEqual(ours[0], theirs[0]);
  const strip = ([h, p]: [Record<string, unknown>, unknown]) => {
    const { length: _length, ...rest } = h;
    const text = p instanceof Uint8Array ? decoder.decode(p) : JSON.stringify(p);
    try {
      return [rest, JSON.parse(text)];
    } catch {
      return [rest, text];
    }
  };
  assert.deepEqual(
    (ours[1] as unknown as Item[]).map(strip),
    (theirs[1] as unknown as Item[]).map(strip),
  );
  const now = Date.UTC(2026, 0, 1);
  for (const header of ["60", "0", "Thu, 01 Jan 2026 00:01:30 GMT", "soon"]) {
    const theirs = parseRetryAfterHeader(header, now);
    assert.equal(
      (retryAfterSeconds(header, now) ?? 60) * 1000,
      theirs,
      `Retry-After: ${header}`,
    );
  }
});
