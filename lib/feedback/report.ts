/**
 * A feedback report from start to end: gather metadata, logs and
 * diagnostics into a bundle, write it, and build and upload its envelope.
 * `commands/feedback.ts` asks the questions and prints; this module decides.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { configString } from "../config.ts";
import { installedCapture } from "./capture.ts";
import { invocationBlock, parseBlocks, readLog } from "./persist.ts";
import { Redactor } from "../redact.ts";
import {
  buildZip,
  BUNDLE_FILES,
  type BundleFile,
  formatSize,
  selectLogs,
  textFile,
} from "./bundle.ts";
import { authSummary, diagnosticsText } from "./diagnostics.ts";
import {
  buildEnvelope,
  buildFeedbackEvent,
  type Classification,
  type Dsn,
  newEventId,
  parseDsn,
} from "./envelope.ts";
import { DEFAULT_UPLOAD_TIMEOUT_MS, uploadEnvelope, type UploadReceipt } from "./upload.ts";

/** What the user chose. */
export interface ReportRequest {
  classification: Classification;
  note?: string;
  /** Whether `cdx-logs.log` goes in (and attachments in the upload). */
  includeLogs: boolean;
}

/** A report ready to be written or uploaded. */
export interface PreparedReport {
  /** The report (session) id: this invocation's id. */
  reportId: string;
  request: ReportRequest;
  /** Files of the bundle, in zip order. */
  files: BundleFile[];
  /** The zip bytes. */
  zip: Uint8Array;
  /** The content of metadata.json. */
  metadata: Record<string, unknown>;
  /** Tags collected from the logs included. */
  tags: Record<string, string>;
}

/** The DSN from `CDX_FEEDBACK_DSN` or config `feedback.dsn`, parsed; undefined if neither is set. */
export function feedbackDsn(ctx: Pick<Context, "env" | "config">): Dsn | undefined {
  const raw = ctx.env.get("CDX_FEEDBACK_DSN") || configString(ctx.config, "feedback.dsn");
  return raw ? parseDsn(raw) : undefined;
}

/** The upload bound: `CDX_FEEDBACK_TIMEOUT_MS` (tests) or 10 s. */
export function feedbackTimeoutMs(ctx: Pick<Context, "env">): number {
  const value = Number(ctx.env.get("CDX_FEEDBACK_TIMEOUT_MS"));
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_UPLOAD_TIMEOUT_MS;
}

/**
 * Builds the bundle: `metadata.json`, `cdx-logs.log` (recent invocations of
 * cdx.log plus this one, at most 4 MiB; only with `includeLogs`) and
 * `diagnostics.txt`. Nothing in it is a secret: every text passes the redactor.
 */
export async function prepareReport(
  ctx: Context,
  request: ReportRequest,
): Promise<PreparedReport> {
  const installed = installedCapture(ctx);
  const redactor = installed?.capture.redactor ?? new Redactor(ctx.secrets);
  const reportId = installed?.invocationId ?? crypto.randomUUID();
  const persisted = await readLog(ctx.globals.codexHome).catch(() => "");
  const persistedBlocks = parseBlocks(persisted).filter((b) => b.complete);
  const currentBlock = installed
    ? invocationBlock(ctx, {
      capture: installed.capture,
      invocationId: installed.invocationId,
      startedAt: installed.startedAt,
    })
    : "";
  const logs = selectLogs(persisted, currentBlock, redactor);
  const tags: Record<string, string> = {};
  const includedIds = new Set(logs.invocationIds);
  for (const block of [...persistedBlocks, ...parseBlocks(currentBlock)]) {
    if (!includedIds.has(block.id)) continue;
    for (const [k, v] of Object.entries(block.tags)) tags[k] = redactor.redact(v);
  }
  const auth = await authSummary(ctx, tags);
  const persistence = installed
    ? installed.persist.enabled
      ? `on (cap ${formatSize(installed.persist.maxBytes)})`
      : `off (${installed.persist.reason})`
    : "not installed";
  const denoVersion = Deno.version.deno;
  const arch = Deno.build.arch;
  let osRelease: string | undefined;
  try {
    osRelease = Deno.osRelease();
  } catch {
    osRelease = undefined;
  }
  const metadata: Record<string, unknown> = {
    report_id: reportId,
    created_at: new Date(ctx.clock.now()).toISOString(),
    cdx_version: ctx.version,
    deno_version: denoVersion,
    os: ctx.os,
    arch,
    os_release: osRelease,
    classification: request.classification,
    note: request.note === undefined ? null : redactor.redact(request.note),
    tags: request.includeLogs ? tags : {},
    invocation_ids: request.includeLogs ? logs.invocationIds : [reportId],
    logs_included: request.includeLogs,
    auth_mode: auth.mode,
    credential_store: auth.store,
  };
  const diagnostics = diagnosticsText(ctx, {
    redactor,
    auth,
    persistence,
    logSummary: `${
      formatSize(new TextEncoder().encode(persisted).length)
    }, ${persistedBlocks.length} invocation(s)`,
    denoVersion,
    arch,
    osRelease,
  });
  const files: BundleFile[] = [
    textFile(BUNDLE_FILES.metadata, `${JSON.stringify(metadata, null, 2)}\n`),
  ];
  if (request.includeLogs) files.push(textFile(BUNDLE_FILES.logs, logs.text));
  files.push(textFile(BUNDLE_FILES.diagnostics, diagnostics));
  const zip = buildZip(files, new Date(ctx.clock.now()));
  return { reportId, request, files, zip, metadata, tags: request.includeLogs ? tags : {} };
}

/** Writes the bundle (mode 0600). */
export async function writeBundle(
  path: string,
  zip: Uint8Array,
  os: typeof Deno.build.os,
): Promise<void> {
  await Deno.writeFile(path, zip, { mode: 0o600 });
  if (os !== "windows") await Deno.chmod(path, 0o600);
}

/** The envelope of a report: the event, plus attachments only when logs are included. */
export function reportEnvelope(
  ctx: Pick<Context, "version" | "os" | "clock">,
  report: PreparedReport,
  dsn: Dsn,
  eventId: string = newEventId(),
): { envelope: Uint8Array; eventId: string } {
  const now = ctx.clock.now();
  const event = buildFeedbackEvent({
    eventId,
    sessionId: report.reportId,
    classification: report.request.classification,
    note: report.metadata.note as string | undefined ?? undefined,
    collectedTags: report.tags,
    cliVersion: ctx.version,
    now,
    os: ctx.os,
    arch: Deno.build.arch,
    denoVersion: Deno.version.deno,
    extra: {
      auth_mode: report.metadata.auth_mode,
      credential_store: report.metadata.credential_store,
      invocation_ids: report.metadata.invocation_ids,
    },
  });
  const attachments = report.request.includeLogs
    ? report.files
      .filter((f) => f.name !== BUNDLE_FILES.metadata)
      .map((f) => ({ filename: f.name, contentType: "text/plain", data: f.data }))
    : [];
  return { envelope: buildEnvelope(dsn, event, attachments, now), eventId };
}

/** Builds the envelope and uploads it; resolves only after a 2xx. */
export function uploadReport(
  ctx: Context,
  report: PreparedReport,
  dsn: Dsn,
): Promise<UploadReceipt> {
  const { envelope, eventId } = reportEnvelope(ctx, report, dsn);
  return uploadEnvelope(ctx, { dsn, envelope, eventId, timeoutMs: feedbackTimeoutMs(ctx) });
}
