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
import { invocationBlock, readLog } from "./persist.ts";
import { parseBlocks } from "./blocks.ts";
import {
  buildZip,
  BUNDLE_FILES,
  type BundleFile,
  formatSize,
  selectLogs,
  textFile,
} from "./bundle.ts";
import { describeAuthForReport, diagnosticsText } from "./diagnostics.ts";
import {
  buildEnvelope,
  buildFeedbackEvent,
  type Classification,
  type Dsn,
  newEventId,
  parseDsn,
} from "./envelope.ts";
import { uploadEnvelope, type UploadReceipt } from "./upload.ts";
import { dirOf, fileError, writeFileAtomic } from "../fs.ts";
import { UsageError } from "../errors.ts";
import type { SecretRegistry } from "../secrets.ts";

/** What the user chose. */
export interface ReportRequest {
  /** What kind of report this is. */
  classification: Classification;
  /** The user's note, if any. */
  note?: string;
  /** Whether `cdx-logs.log` goes in (and attachments in the upload). */
  includeLogs: boolean;
}

/** A report ready to be written or uploaded. */
export interface PreparedReport {
  /** The report (session) id: this invocation's id. */
  reportId: string;
  /** What the user chose. */
  request: ReportRequest;
  /** Files of the bundle, in zip order. */
  files: BundleFile[];
  /** The zip bytes. */
  zip: Uint8Array;
  /** The content of metadata.json. */
  metadata: Record<string, unknown>;
  /** Tags collected from the logs included. */
  tags: Record<string, string>;
  /** The invocations whose logs are included, oldest first. */
  runs: IncludedRun[];
}

/** One invocation whose log lines are in the bundle. */
export interface IncludedRun {
  /** Start time as recorded (RFC 3339). */
  start: string;
  /** The command line as recorded (secrets masked, prompts replaced by their length). */
  argv: string[];
}

/** The DSN from `CDX_FEEDBACK_DSN` or config `feedback.dsn`, parsed; undefined if neither is set. */
export function feedbackDsn(ctx: Pick<Context, "env" | "config">): Dsn | undefined {
  const raw = ctx.env.get("CDX_FEEDBACK_DSN") || configString(ctx.config, "feedback.dsn");
  return raw ? parseDsn(raw) : undefined;
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
  const secrets = ctx.secrets;
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
  const logs = selectLogs(persisted, currentBlock, secrets);
  const tags: Record<string, string> = {};
  const runs: IncludedRun[] = [];
  const includedIds = new Set(logs.invocationIds);
  for (const block of [...persistedBlocks, ...parseBlocks(currentBlock)]) {
    if (!includedIds.has(block.id)) continue;
    for (const [k, v] of Object.entries(block.tags)) tags[k] = secrets.redact(v);
    runs.push({ start: block.start, argv: block.argv.map((a) => secrets.redact(a)) });
  }
  const auth = await describeAuthForReport(ctx);
  const persistence = installed
    ? installed.persist.enabled
      ? `on (cap ${formatSize(installed.persist.maxBytes)})`
      : `off (${installed.persist.reason})`
    : "not installed";
  const denoVersion = Deno.version.deno;
  const arch = ctx.arch;
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
    note: request.note === undefined ? null : secrets.redact(request.note),
    tags: request.includeLogs ? tags : {},
    invocation_ids: request.includeLogs ? logs.invocationIds : [reportId],
    logs_included: request.includeLogs,
    auth_mode: auth.mode,
    auth_source: auth.source ?? null,
    credential_store: auth.store,
    credential_store_source: auth.storeSource,
    keychain: auth.keychain,
  };
  const diagnostics = diagnosticsText(ctx, {
    secrets,
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
    textFile(
      BUNDLE_FILES.metadata,
      `${JSON.stringify(redactStrings(metadata, secrets), null, 2)}\n`,
    ),
  ];
  if (request.includeLogs) files.push(textFile(BUNDLE_FILES.logs, logs.text));
  files.push(textFile(BUNDLE_FILES.diagnostics, diagnostics));
  const zip = buildZip(files, new Date(ctx.clock.now()));
  return {
    reportId,
    request,
    files,
    zip,
    metadata,
    tags: request.includeLogs ? tags : {},
    runs: request.includeLogs ? runs : [],
  };
}

/**
 * Checks, before anything is asked or built, that the bundle can be written
 * to `path`: its directory exists and is a directory. A
 * {@linkcode CdxError} with a hint otherwise.
 *
 * @example
 * ```ts
 * await checkBundlePath("/nonexistent/dir/x.zip"); // throws: the directory does not exist
 * ```
 */
export async function checkBundlePath(path: string): Promise<void> {
  const dir = dirOf(path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`cannot write the report to ${path}: ${dir} does not exist`, {
        hint: "create the directory first, or choose another --output",
      });
    }
    throw fileError(error, "cannot write the report", path);
  }
  if (!info.isDirectory) {
    throw new UsageError(`cannot write the report to ${path}: ${dir} is not a directory`, {
      hint: "choose another --output",
    });
  }
}

/** `value` with every string in it redacted (masking JSON text could cut a quote). */
function redactStrings(value: unknown, secrets: Pick<SecretRegistry, "redact">): unknown {
  if (typeof value === "string") return secrets.redact(value);
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, secrets));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, redactStrings(v, secrets)]),
    );
  }
  return value;
}

/**
 * Writes the bundle (mode 0600, atomically: a reader never sees half a zip).
 * File-system failures are {@linkcode CdxError}s naming the path.
 */
export async function writeBundle(path: string, zip: Uint8Array): Promise<void> {
  await checkBundlePath(path);
  try {
    await writeFileAtomic(path, zip, { mode: 0o600 });
  } catch (error) {
    throw fileError(error, "cannot write the report", path);
  }
}

/** The envelope of a report: the event, plus attachments only when logs are included. */
export function reportEnvelope(
  ctx: Pick<Context, "version" | "os" | "arch" | "clock">,
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
    arch: ctx.arch,
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
  return uploadEnvelope(ctx, { dsn, envelope, eventId });
}
