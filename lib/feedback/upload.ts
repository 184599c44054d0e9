/**
 * The upload: POST the envelope to the DSN's envelope endpoint with
 * `X-Sentry-Auth`, through lib/http.ts's bounded request (10 s by default
 * for a report; `CDX_REQUEST_TIMEOUT` / `[cdx] request_timeout` change it).
 * Success is only a 2xx; every other outcome is a {@linkcode CdxError}
 * naming the host and what happened (codex used to report success when
 * nothing arrived — openai/codex PR #23745, #28534).
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError } from "../errors.ts";
import { fetchText, requestTimeoutMs } from "../http.ts";
import { type Dsn, sentryAuthHeader } from "./envelope.ts";

/** Default bound on the whole upload: 10 s (as codex). */
export const DEFAULT_UPLOAD_TIMEOUT_MS = 10_000;

/** Sentry answers with a small JSON object; anything larger is not Sentry. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * The upload bound: `CDX_REQUEST_TIMEOUT` (seconds) > config `[cdx]
 * request_timeout` > 10 s.
 *
 * @example
 * ```ts
 * uploadTimeoutMs(ctx); // 10000 unless configured
 * ```
 */
export function uploadTimeoutMs(ctx: Pick<Context, "env" | "config">): number {
  return requestTimeoutMs(ctx, DEFAULT_UPLOAD_TIMEOUT_MS);
}

/** Options of {@linkcode uploadEnvelope}. */
export interface UploadOptions {
  /** Where to send it. */
  dsn: Dsn;
  /** The serialised envelope. */
  envelope: Uint8Array;
  /** The event id sent (reported when the server does not echo one). */
  eventId: string;
  /** Bound on the request, ms (default {@linkcode uploadTimeoutMs}). */
  timeoutMs?: number;
}

/** A successful upload. */
export interface UploadReceipt {
  /** The event id the server acknowledged. */
  eventId: string;
  /** The HTTP status (2xx). */
  status: number;
}

/**
 * Uploads an envelope. Resolves only after a 2xx; rejects with a
 * {@linkcode CdxError} otherwise (`RequestTimeoutError`, exit 124, when the
 * server does not answer within the bound). Ctrl-C rejects with
 * `CancelledError`.
 *
 * @example
 * ```ts
 * const { eventId } = await uploadEnvelope(ctx, { dsn, envelope, eventId: id });
 * ```
 */
export async function uploadEnvelope(
  ctx: Pick<Context, "fetch" | "signal" | "logger" | "version" | "env" | "config" | "secrets">,
  options: UploadOptions,
): Promise<UploadReceipt> {
  const logger = ctx.logger.getChild("feedback");
  const { host } = options.dsn;
  logger.debug("POST envelope to {host} ({bytes} bytes)", {
    host,
    bytes: options.envelope.length,
  });
  const response = await fetchText(ctx, options.dsn.envelopeUrl, {
    method: "POST",
    headers: {
      "content-type": "application/x-sentry-envelope",
      "x-sentry-auth": sentryAuthHeader(options.dsn, ctx.version),
    },
    body: options.envelope as Uint8Array<ArrayBuffer>,
  }, {
    what: "feedback upload",
    timeoutMs: options.timeoutMs ?? uploadTimeoutMs(ctx),
    maxBodyBytes: MAX_ANSWER_BYTES,
  });
  logger.debug("upload answered {status}", { status: response.status });
  if (!response.ok) throw statusError(response.status, response.headers, response.text, host);
  const id = (response.json as { id?: unknown } | undefined)?.id;
  return { eventId: typeof id === "string" && id ? id : options.eventId, status: response.status };
}

/**
 * Seconds to wait from a `Retry-After` header (delay seconds or an HTTP
 * date), as Sentry's `parseRetryAfterHeader` reads it; undefined when absent
 * or unreadable.
 *
 * @example
 * ```ts
 * retryAfterSeconds("60", Date.now()); // 60
 * ```
 */
export function retryAfterSeconds(header: string | null, now: number): number | undefined {
  const trimmed = header?.trim();
  if (!trimmed) return undefined;
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

function statusError(status: number, headers: Headers, body: string, host: string): CdxError {
  const detail = sentryDetail(body);
  const suffix = detail ? `: ${detail}` : "";
  if (status === 413) {
    return new CdxError(`${host} rejected the report as too large (HTTP 413)${suffix}`, {
      hint: "leave the logs out with --no-logs",
      errorCode: "server",
    });
  }
  if (status === 429) {
    const retry = retryAfterSeconds(headers.get("retry-after"), Date.now());
    return new CdxError(
      `${host} is rate-limiting reports (HTTP 429${
        retry === undefined ? "" : `, retry after ${retry} s`
      })`,
      { errorCode: "server" },
    );
  }
  if (status === 401 || status === 403) {
    return new CdxError(`${host} refused the DSN's key (HTTP ${status})${suffix}`, {
      hint: "check CDX_FEEDBACK_DSN or feedback.dsn in config.toml",
      errorCode: "server",
    });
  }
  return new CdxError(`${host} answered HTTP ${status}${suffix}`, { errorCode: "server" });
}

function sentryDetail(body: string): string | undefined {
  try {
    const detail = (JSON.parse(body) as { detail?: unknown }).detail;
    return typeof detail === "string" ? detail.split("\n")[0].slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
