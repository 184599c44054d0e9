/**
 * The upload: POST the envelope to the DSN's envelope endpoint with
 * `X-Sentry-Auth`, bounded (10 s by default). Success is only a 2xx; every
 * other outcome is a {@linkcode CdxError} saying what happened (codex used to
 * report success when nothing arrived — openai/codex PR #23745, #28534).
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CancelledError, formatMs, orCancel, TimeoutError, timeoutSignal } from "../cancel.ts";
import { CdxError, ExitCode } from "../errors.ts";
import { type Dsn, sentryAuthHeader } from "./envelope.ts";

/** Default bound on the whole upload: 10 s (as codex). */
export const DEFAULT_UPLOAD_TIMEOUT_MS = 10_000;

/** Options of {@linkcode uploadEnvelope}. */
export interface UploadOptions {
  dsn: Dsn;
  envelope: Uint8Array;
  /** The event id sent (reported when the server does not echo one). */
  eventId: string;
  /** Bound on the request, ms. */
  timeoutMs?: number;
}

/** A successful upload. */
export interface UploadReceipt {
  /** The event id the server acknowledged. */
  eventId: string;
  status: number;
}

/**
 * Uploads an envelope. Resolves only after a 2xx; rejects with a
 * {@linkcode CdxError} (exit 1; 124 when the bound expires) otherwise.
 * Ctrl-C rejects with `CancelledError`.
 */
export async function uploadEnvelope(
  ctx: Pick<Context, "fetch" | "signal" | "logger" | "version">,
  options: UploadOptions,
): Promise<UploadReceipt> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS;
  const logger = ctx.logger.getChild("feedback");
  const { host } = options.dsn;
  using bound = timeoutSignal(
    timeoutMs,
    ctx.signal,
    `feedback upload timed out after ${timeoutMs} ms`,
  );
  logger.debug("POST envelope to {host} ({bytes} bytes)", {
    host,
    bytes: options.envelope.length,
  });
  let response: Response;
  let body: string;
  try {
    response = await orCancel(
      ctx.fetch(options.dsn.envelopeUrl, {
        method: "POST",
        headers: {
          "content-type": "application/x-sentry-envelope",
          "x-sentry-auth": sentryAuthHeader(options.dsn, ctx.version),
        },
        body: options.envelope as Uint8Array<ArrayBuffer>,
        signal: bound.signal,
      }),
      bound.signal,
    );
    body = await orCancel(response.text(), bound.signal);
  } catch (error) {
    throw failure(error, bound.signal, ctx.signal, host, timeoutMs);
  }
  logger.debug("upload answered {status}", { status: response.status });
  if (response.status < 200 || response.status > 299) {
    throw statusError(response, body, host);
  }
  let eventId = options.eventId;
  try {
    const parsed = JSON.parse(body) as { id?: unknown };
    if (typeof parsed.id === "string" && parsed.id) eventId = parsed.id;
  } catch {
    // A 2xx without a JSON body still means the envelope was accepted.
  }
  return { eventId, status: response.status };
}

function failure(
  error: unknown,
  bound: AbortSignal,
  parent: AbortSignal,
  host: string,
  timeoutMs: number,
): unknown {
  if (parent.aborted) {
    return error instanceof CancelledError ? error : new CancelledError(parent.reason);
  }
  if (bound.aborted && bound.reason instanceof TimeoutError) {
    return new CdxError(`feedback upload to ${host} timed out after ${formatMs(timeoutMs)}`, {
      exitCode: ExitCode.TIMEOUT,
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CdxError(`cannot reach ${host}: ${firstLine(message)}`, { cause: error });
}

function statusError(response: Response, body: string, host: string): CdxError {
  const status = response.status;
  const detail = sentryDetail(body);
  const suffix = detail ? `: ${detail}` : "";
  if (status === 413) {
    return new CdxError(`${host} rejected the report as too large (HTTP 413)${suffix}`);
  }
  if (status === 429) {
    const retry = response.headers.get("retry-after");
    return new CdxError(
      `${host} is rate-limiting reports (HTTP 429${retry ? `, retry after ${retry} s` : ""})`,
    );
  }
  if (status === 401 || status === 403) {
    return new CdxError(`${host} refused the DSN's key (HTTP ${status})${suffix}`);
  }
  return new CdxError(`${host} answered HTTP ${status}${suffix}`);
}

function sentryDetail(body: string): string | undefined {
  try {
    const detail = (JSON.parse(body) as { detail?: unknown }).detail;
    return typeof detail === "string" ? firstLine(detail).slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}
