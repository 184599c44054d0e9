/**
 * Bounded HTTP for every request cdx makes outside the model stream (issuer
 * discovery, device codes and polls, token exchange, refresh, revoke,
 * feedback upload): each has a time bound covering the headers *and* the
 * body, a size cap on the body, and errors that name the host, what cdx was
 * doing and the setting that changes the bound. Ctrl-C (the Context signal)
 * ends a request at once with `CancelledError` (exit 130/143), never with
 * an "internal error".
 *
 * The bound: `CDX_REQUEST_TIMEOUT` (seconds) > config.toml `[cdx]
 * request_timeout` > the caller's default (30 s).
 *
 * @module
 */
import type { Context } from "./context.ts";
import { CdxError, ExitCode, UsageError } from "./errors.ts";
import { cancelledFrom, formatMs, TimeoutError } from "./cancel.ts";
import { startProgress } from "./status_line.ts";

/** Environment variable overriding every request bound, in seconds. */
export const REQUEST_TIMEOUT_ENV = "CDX_REQUEST_TIMEOUT";
/** Default bound on one request, ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Default cap on a response body cdx reads whole, bytes. */
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

const SETTING_HINT =
  `set ${REQUEST_TIMEOUT_ENV}=<seconds> (or request_timeout under [cdx] in config.toml) to wait longer`;

function parseSeconds(raw: unknown, where: string, fix: string): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) {
    throw new UsageError(
      `${where} must be a number of seconds above 0 and at most 86400, not ${JSON.stringify(raw)}`,
      { hint: `${fix}, e.g. 60` },
    );
  }
  return Math.round(n * 1000);
}

/**
 * The request bound in ms: `CDX_REQUEST_TIMEOUT` > `[cdx] request_timeout` >
 * `fallbackMs`. An invalid value is a usage error naming where it came from.
 *
 * @example
 * ```ts
 * requestTimeoutMs(ctx); // 30000 unless configured
 * ```
 */
export function requestTimeoutMs(
  ctx: Pick<Context, "env" | "config">,
  fallbackMs: number = DEFAULT_REQUEST_TIMEOUT_MS,
): number {
  const env = ctx.env.get(REQUEST_TIMEOUT_ENV);
  if (env !== undefined && env.trim() !== "") {
    return parseSeconds(
      env,
      REQUEST_TIMEOUT_ENV,
      `unset ${REQUEST_TIMEOUT_ENV} or set it to seconds`,
    );
  }
  const table = ctx.config.values.cdx;
  const value = table && typeof table === "object"
    ? (table as Record<string, unknown>).request_timeout
    : undefined;
  if (value !== undefined) {
    const where = ctx.config.path || "config.toml";
    return parseSeconds(value, `${where}: [cdx] request_timeout`, `set it to seconds in ${where}`);
  }
  return fallbackMs;
}

/** The host of a URL, for messages (the URL itself may carry a code or token). */
export function hostOf(url: string | URL): string {
  try {
    return new URL(url).host;
  } catch {
    return "the server";
  }
}

/** A request that got no complete answer within its bound (exit 124). */
export class RequestTimeoutError extends CdxError {
  /** `host` sent no complete answer to `what` within `ms`. */
  constructor(readonly host: string, readonly what: string, readonly ms: number) {
    super(`${host} did not answer within ${formatMs(ms)} (${what})`, {
      hint: SETTING_HINT,
      exitCode: ExitCode.TIMEOUT,
    });
    this.name = "RequestTimeoutError";
  }
}

/** The connection failed (DNS, refused, reset, TLS): worth a retry. */
export class NetworkError extends CdxError {
  /** The connection to `host` for `what` failed; `detail` says how (secret-free). */
  constructor(readonly host: string, readonly what: string, detail: string, cause?: unknown) {
    super(`cannot reach ${host} (${what}): ${detail}`, {
      hint: "check the network connection and the server URL",
      cause,
      errorCode: "network",
    });
    this.name = "NetworkError";
  }
}

/** Options of {@linkcode fetchText}. */
export interface BoundedFetchOptions {
  /** What the request is for, in messages: `"token refresh"`, `"OIDC discovery"`. */
  what: string;
  /** Bound on headers and body, ms (default {@linkcode requestTimeoutMs}). */
  timeoutMs?: number;
  /** Cap on the body, bytes (default 1 MiB); a larger body is an error. */
  maxBodyBytes?: number;
  /** Cancels the request (default: the Context signal). */
  signal?: AbortSignal;
}

/** A response whose body was read whole. */
export interface TextResponse {
  /** The HTTP status. */
  status: number;
  /** Whether the status is 2xx. */
  ok: boolean;
  /** The response headers. */
  headers: Headers;
  /** The whole body as text. */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  host: string,
  what: string,
): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) {
        throw new CdxError(
          `${host} sent an answer larger than ${max} bytes (${what}); it is not the expected server`,
          { hint: "check the server URL and any proxy in between" },
        );
      }
      chunks.push(value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * One bounded request whose body is read whole (capped). Rejects with
 * `CancelledError` on Ctrl-C, {@linkcode RequestTimeoutError} past the
 * bound, {@linkcode NetworkError} when the connection fails; never with a
 * message holding a secret (the URL is reduced to its host).
 *
 * @example
 * ```ts
 * const res = await fetchText(ctx, url, { method: "POST", body }, { what: "token refresh" });
 * if (res.ok) use(res.json);
 * ```
 */
export async function fetchText(
  ctx:
    & Pick<Context, "fetch" | "signal" | "env" | "config" | "secrets">
    & Partial<Pick<Context, "stderr">>,
  url: string | URL,
  init: RequestInit,
  options: BoundedFetchOptions,
): Promise<TextResponse> {
  const parent = options.signal ?? ctx.signal;
  if (parent.aborted) throw cancelledFrom(parent);
  const ms = options.timeoutMs ?? requestTimeoutMs(ctx);
  const host = hostOf(url);
  const controller = new AbortController();
  const timeout = new TimeoutError(ms);
  const timer = setTimeout(() => controller.abort(timeout), ms);
  const onAbort = () => controller.abort(parent.reason);
  parent.addEventListener("abort", onAbort, { once: true });
  // On a terminal, a request that takes over a second says what cdx is waiting for.
  using _waiting = ctx.stderr
    ? startProgress({ stderr: ctx.stderr }, `Waiting for ${host} (${options.what})…`)
    : undefined;
  try {
    const response = await ctx.fetch(url, { ...init, signal: controller.signal });
    const text = await readCapped(
      response.body,
      options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      host,
      options.what,
    );
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, ok: response.ok, headers: response.headers, text, json };
  } catch (error) {
    if (parent.aborted) throw cancelledFrom(parent);
    if (controller.signal.aborted && controller.signal.reason === timeout) {
      throw new RequestTimeoutError(host, options.what, ms);
    }
    if (error instanceof CdxError) throw error;
    const detail = ctx.secrets.redact(error instanceof Error ? error.message : String(error));
    throw new NetworkError(host, options.what, detail.split("\n")[0], error);
  } finally {
    clearTimeout(timer);
    parent.removeEventListener("abort", onAbort);
  }
}
