/**
 * The Sentry envelope cdx uploads, shaped as codex's feedback upload
 * (codex-interop.md §11): one `event` item (level, message
 * `[<Classification>]: cdx session <id>`, codex's tags, the note as
 * exception value) and, only when logs are included, `attachment` items.
 *
 * Format: https://develop.sentry.dev/sdk/envelopes/ — newline-separated JSON
 * headers, each item with an explicit `length`.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { CdxError, ExitCode } from "../errors.ts";

/** Feedback classifications, as codex names them. */
export type Classification = "bug" | "bad_result" | "good_result" | "other";

/** How codex displays each classification (the message prefix). */
export const CLASSIFICATION_DISPLAY: Record<Classification, string> = {
  bug: "Bug",
  bad_result: "Bad result",
  good_result: "Good result",
  other: "Other",
};

/** Sentry level: `error` for bug and bad_result (as codex), else `info`. */
function classificationLevel(classification: Classification): "error" | "info" {
  return classification === "bug" || classification === "bad_result" ? "error" : "info";
}

/** A parsed DSN: `https://<public key>@<host>/<project id>`. */
export interface Dsn {
  /** `http` or `https`. */
  protocol: string;
  /** The DSN's public key (`sentry_key`). */
  publicKey: string;
  /** Host and port. */
  host: string;
  /** Path before the project id (self-hosted Sentry under a prefix). */
  pathPrefix: string;
  /** The project id (last path segment). */
  projectId: string;
  /** The envelope endpoint: `<protocol>://<host><prefix>/api/<project>/envelope/`. */
  envelopeUrl: string;
  /** The DSN as given. */
  raw: string;
}

/** Parses a DSN; a malformed one is a {@linkcode CdxError} (usage). */
export function parseDsn(raw: string): Dsn {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw invalidDsn();
  }
  const parts = url.pathname.split("/").filter(Boolean);
  const projectId = parts.pop();
  if (!url.username || !projectId || !/^https?:$/.test(url.protocol)) throw invalidDsn();
  const pathPrefix = parts.length ? `/${parts.join("/")}` : "";
  return {
    protocol: url.protocol.slice(0, -1),
    publicKey: decodeURIComponent(url.username),
    host: url.host,
    pathPrefix,
    projectId,
    envelopeUrl: `${url.protocol}//${url.host}${pathPrefix}/api/${projectId}/envelope/`,
    raw: raw.trim(),
  };
}

function invalidDsn(): CdxError {
  return new CdxError("the feedback DSN is not a valid Sentry DSN", {
    exitCode: ExitCode.USAGE,
    hint: "expected https://<public key>@<host>/<project id> in CDX_FEEDBACK_DSN or feedback.dsn",
  });
}

/** The `X-Sentry-Auth` header value. */
export function sentryAuthHeader(dsn: Dsn, clientVersion: string): string {
  return `Sentry sentry_version=7, sentry_key=${dsn.publicKey}, sentry_client=cdx/${clientVersion}`;
}

/** An attachment item. */
export interface EnvelopeAttachment {
  /** File name shown in Sentry. */
  filename: string;
  /** MIME type. */
  contentType: string;
  /** The attachment's bytes (an empty one is left out). */
  data: Uint8Array;
}

/** What goes into the feedback event. */
export interface FeedbackEventInput {
  /** 32 lowercase hex digits. */
  eventId: string;
  /** The report (session) id shown in the message and the `thread_id` tag. */
  sessionId: string;
  /** What kind of report this is. */
  classification: Classification;
  /** The user's note (the exception value). */
  note?: string;
  /** Tags collected from logs (added without overwriting codex's own). */
  collectedTags: Record<string, string>;
  /** cdx's version. */
  cliVersion: string;
  /** Wall clock, ms since the epoch. */
  now: number;
  /** OS name (`linux`, `darwin`, `windows`). */
  os: string;
  /** CPU architecture. */
  arch: string;
  /** Deno's version. */
  denoVersion: string;
  /** Non-secret facts for `contexts` (auth mode, store kind, invocation ids). */
  extra?: Record<string, unknown>;
}

/** Sentry caps tag values at 200 characters. */
const MAX_TAG_VALUE = 200;

/** The event payload. */
export function buildFeedbackEvent(input: FeedbackEventInput): Record<string, unknown> {
  const display = CLASSIFICATION_DISPLAY[input.classification];
  const tags: Record<string, string> = {
    thread_id: input.sessionId,
    classification: input.classification,
    cli_version: input.cliVersion,
    session_source: "cli",
  };
  if (input.note) tags.reason = input.note;
  for (const [key, value] of Object.entries(input.collectedTags)) {
    if (!(key in tags)) tags[key] = value;
  }
  for (const key of Object.keys(tags)) tags[key] = tags[key].slice(0, MAX_TAG_VALUE);
  const event: Record<string, unknown> = {
    event_id: input.eventId,
    timestamp: input.now / 1000,
    platform: "other",
    level: classificationLevel(input.classification),
    logger: "cdx.feedback",
    release: `cdx@${input.cliVersion}`,
    message: `[${display}]: cdx session ${input.sessionId}`,
    tags,
    contexts: {
      os: { name: input.os },
      runtime: { name: "deno", version: input.denoVersion },
      device: { arch: input.arch },
      ...(input.extra ? { cdx: input.extra } : {}),
    },
    sdk: { name: "cdx", version: input.cliVersion },
  };
  if (input.note) event.exception = { values: [{ type: display, value: input.note }] };
  return event;
}

const encoder = new TextEncoder();

/**
 * Serialises the envelope: header (event_id, dsn, sent_at, sdk), the event
 * item, then the attachments (only pass them when logs are included).
 */
export function buildEnvelope(
  dsn: Dsn,
  event: Record<string, unknown>,
  attachments: readonly EnvelopeAttachment[],
  now: number,
): Uint8Array {
  const header = {
    event_id: event.event_id,
    dsn: dsn.raw,
    sent_at: new Date(now).toISOString(),
    sdk: event.sdk,
  };
  const eventBytes = encoder.encode(JSON.stringify(event));
  const parts: Uint8Array[] = [
    encoder.encode(`${JSON.stringify(header)}\n`),
    encoder.encode(`${JSON.stringify({ type: "event", length: eventBytes.length })}\n`),
    eventBytes,
    encoder.encode("\n"),
  ];
  for (const attachment of attachments) {
    // An empty payload cannot be framed: parsers read `length: 0` as "no length".
    if (attachment.data.length === 0) continue;
    parts.push(
      encoder.encode(
        `${
          JSON.stringify({
            type: "attachment",
            length: attachment.data.length,
            filename: attachment.filename,
            content_type: attachment.contentType,
            attachment_type: "event.attachment",
          })
        }\n`,
      ),
      attachment.data,
      encoder.encode("\n"),
    );
  }
  return concatBytes(parts);
}

/** A new event id: 32 lowercase hex digits. */
export function newEventId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
