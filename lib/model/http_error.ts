/**
 * What went wrong with a model request, classified without I/O: an HTTP
 * answer (status, headers, the first bytes of its body), a transport failure
 * (fetch's `TypeError`), a `response.failed` event or a broken stream become
 * one {@linkcode ModelError} that says whether a retry may help and how long
 * the server asked to wait. The retry decision itself is
 * `retry_policy.ts`'s.
 *
 * Messages may quote the server (its error message, an HTML title); they
 * never quote the request. Whoever prints them still redacts them: a server
 * can echo anything, the credential included.
 *
 * Longer than 300 lines on purpose: every kind of failure is classified
 * here, in one place, so the retry policy reads one error type.
 *
 * @module
 */
import { CdxError, type ErrorCode } from "../errors.ts";
import type { ModelAuth } from "./request.ts";
import type { ResponseFailure } from "./events.ts";

/** Codes of `response.failed` / HTTP errors that no retry can fix (codex: fatal). */
const FATAL_CODES = new Set([
  "context_length_exceeded",
  "insufficient_quota",
  "usage_not_included",
  "usage_limit_reached",
  "invalid_prompt",
  "invalid_request_error",
  "incomplete",
]);

const BASE_URL_HINT = "check --base-url / OPENAI_BASE_URL and any proxy in between";

/** A failure of the model request; `retryable` failures are retried while nothing was printed. */
export class ModelError extends CdxError {
  /** HTTP status, when the failure was an HTTP response. */
  readonly status?: number;
  /** The server's error code (`response.failed` or error body). */
  readonly code?: string;
  /** Whether a retry may succeed. */
  readonly retryable: boolean;
  /** How long the server asked us to wait, when it did. */
  readonly retryAfterMs?: number;
  /** `message` is printed as `error: …`; `options` classify it. */
  constructor(
    message: string,
    options: {
      status?: number;
      code?: string;
      retryable?: boolean;
      retryAfterMs?: number;
      hint?: string;
      cause?: unknown;
      /** `--json`'s error code: `server` (the model answered with an error) unless given. */
      errorCode?: ErrorCode;
    } = {},
  ) {
    super(message, {
      hint: options.hint,
      cause: options.cause,
      errorCode: options.errorCode ?? "server",
    });
    this.name = "ModelError";
    this.status = options.status;
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * A `Retry-After` header value (seconds or an HTTP date) in ms, relative to
 * `now`; undefined when absent or unparsable.
 *
 * @example
 * ```ts
 * parseRetryAfter("2"); // 2000
 * ```
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The delay in "Please try again in 1.5s" / "in 20ms" / "in 3 seconds", in ms.
 *
 * @example
 * ```ts
 * parseTryAgainIn("Rate limit reached. Please try again in 1.5s."); // 1500
 * ```
 */
export function parseTryAgainIn(message: string): number | undefined {
  const m = /try again in\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?)\b/i.exec(message);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Math.round(m[2].toLowerCase() === "ms" ? n : n * 1000);
}

/**
 * The message, type and code of an API error body (`{"error":{…}}`), if it is one.
 *
 * @example
 * ```ts
 * parseErrorBody('{"error":{"message":"bad","code":"x"}}'); // { message: "bad", type: undefined, code: "x" }
 * ```
 */
export function parseErrorBody(
  text: string,
): { message?: string; type?: string; code?: string } | undefined {
  try {
    const json = JSON.parse(text);
    const error = json?.error ?? json;
    if (typeof error === "string") return { message: error };
    if (error && typeof error === "object") {
      const pick = (v: unknown) => (typeof v === "string" ? v : undefined);
      return {
        message: pick(error.message) ?? pick(json.detail) ?? pick(json.message),
        type: pick(error.type),
        code: pick(error.code) ?? (typeof error.code === "number" ? String(error.code) : undefined),
      };
    }
  } catch {
    // not JSON
  }
  return undefined;
}

/**
 * At most `max` characters of server text for a message, cut between words:
 * a cut through the middle of a token would leave a prefix of it that exact-
 * value redaction cannot recognise (a server may echo the credential).
 *
 * @example
 * ```ts
 * clip("error: bad key sk-abcdefghijklmnop", 20); // "error: bad key …"
 * ```
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max + 1);
  const cut = Math.max(
    ...[" ", "\t", '"', "'", ",", ";", "=", "&"].map((d) => head.lastIndexOf(d)),
  );
  return cut > 0 ? `${text.slice(0, cut + 1)}…` : "…";
}

function looksLikeHtml(contentType: string, text: string): boolean {
  return /html/i.test(contentType) || /^\s*<(!doctype|html|head|body)/i.test(text);
}

function htmlTitle(text: string): string | undefined {
  const m = /<title[^>]*>([^<]{1,200})<\/title>/i.exec(text);
  return m ? m[1].trim().replace(/\s+/g, " ") : undefined;
}

/** What a model HTTP answer is made of, for {@linkcode classifyHttpError}. */
export interface HttpAnswer {
  /** HTTP status. */
  status: number;
  /** Reason phrase, when the server sent one. */
  statusText?: string;
  /** Response headers (`content-type`, `retry-after`, `x-request-id`). */
  headers: Headers;
  /** The first bytes of the body, as text (may be empty). */
  body: string;
}

function statusLine(answer: Pick<HttpAnswer, "status" | "statusText">): string {
  return `HTTP ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ""}`;
}

/** The server's detail for a 401 (its error message), short. */
export function unauthorizedDetail(body: string): string {
  return clip(parseErrorBody(body)?.message ?? "unauthorized", 200);
}

/**
 * Turns a non-2xx answer into a {@linkcode ModelError}: 429 (retryable
 * unless the plan's limit is reached; `Retry-After` or "try again in" gives
 * the wait), 5xx (retryable), 400, 403/404 (with a hint) and anything else.
 *
 * @example
 * ```ts
 * const e = classifyHttpError({ status: 503, headers: new Headers(), body: "" });
 * e.retryable; // true
 * ```
 */
export function classifyHttpError(answer: HttpAnswer, now: number = Date.now()): ModelError {
  const { status, headers, body } = answer;
  const contentType = headers.get("content-type") ?? "";
  const parsed = parseErrorBody(body);
  let detail: string;
  if (parsed?.message) detail = parsed.message;
  else if (looksLikeHtml(contentType, body)) {
    const title = htmlTitle(body);
    detail = `the server answered with an HTML page${title ? ` ("${title}")` : ""}, not the API`;
  } else {
    detail = clip(body.trim().split("\n")[0], 200) || "no details";
  }
  const code = parsed?.code ?? parsed?.type;
  const requestId = headers.get("x-request-id") ?? headers.get("x-oai-request-id");
  const suffix = requestId ? ` (request id ${requestId})` : "";
  const message = `model request failed: ${statusLine(answer)}: ${detail}${suffix}`;
  if (status === 429) {
    const fatal = code !== undefined && FATAL_CODES.has(code);
    return new ModelError(message, {
      status,
      code,
      retryable: !fatal,
      retryAfterMs: parseRetryAfter(headers.get("retry-after"), now) ?? parseTryAgainIn(detail),
      hint: fatal ? "check your plan and usage limits" : "you are rate limited; try again later",
    });
  }
  if (status >= 500) return new ModelError(message, { status, code, retryable: true });
  if (status === 400) {
    return new ModelError(message, {
      status,
      code,
      hint: "the server rejected the request; check --model, --instructions and -c overrides",
    });
  }
  if (status === 403 || status === 404) {
    return new ModelError(message, {
      status,
      code,
      hint: "check --base-url / OPENAI_BASE_URL and that your account may use this model",
    });
  }
  return new ModelError(message, { status, code });
}

/** A 2xx answer that is not an event stream (a proxy's page, a JSON body). */
export function notAnEventStream(answer: HttpAnswer): ModelError {
  const contentType = answer.headers.get("content-type") ?? "";
  const title = htmlTitle(answer.body);
  const what = looksLikeHtml(contentType, answer.body)
    ? `an HTML page${title ? ` ("${title}")` : ""}`
    : contentType || "no content type";
  return new ModelError(
    `model request failed: expected an event stream, got ${what} (${statusLine(answer)})`,
    { hint: "check --base-url / OPENAI_BASE_URL: it must point at a Responses API" },
  );
}

/** `response.failed` (or `error`, `response.incomplete`): fatal codes are final, others retryable. */
export function streamFailure(error: ResponseFailure): ModelError {
  const code = error.code ?? error.type;
  const fatal = code !== undefined && FATAL_CODES.has(code);
  return new ModelError(`the model failed: ${error.message}${code ? ` (${code})` : ""}`, {
    code,
    retryable: !fatal,
    retryAfterMs: parseTryAgainIn(error.message),
    hint: code === "context_length_exceeded" ? "shorten the prompt or its stdin input" : undefined,
  });
}

/** The message of an error and of its causes, joined (fetch hides the reason in `cause`). */
function causeText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && depth < 4; depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ");
}

/**
 * A failure that is not an HTTP answer: the connection (DNS, refused, reset,
 * TLS — retryable), response headers too large to read, an over-long SSE
 * line or event, a malformed event. `CdxError`s pass through unchanged.
 */
export function classifyTransportError(error: unknown, host: string): CdxError {
  if (error instanceof CdxError) return error;
  // By name: lib/model/sse.ts (and its npm parser) is loaded only once a response arrives.
  if (error instanceof Error && error.name === "SseLimitError") {
    return new ModelError(`model stream error: ${error.message.replace("the server", host)}`, {
      hint: `${BASE_URL_HINT}: it is not behaving like the Responses API`,
      cause: error,
    });
  }
  if (error instanceof Error && error.name === "ProtocolError") {
    return new ModelError(`model stream error: ${error.message}`, { cause: error });
  }
  const text = causeText(error);
  if (
    /message head is too large|header[s]? (list |section )?(is |are )?too (large|long)/i.test(text)
  ) {
    return new ModelError(
      `${host} sent response headers too large to read; it is not the Responses API`,
      {
        hint: BASE_URL_HINT,
        cause: error,
      },
    );
  }
  // "fetch failed: error sending request for url (…): client error (Connect): tcp connect error: …"
  const detail = text.replace(/^fetch failed: /i, "").replace(
    /^error sending request (from \S+ )?for (url )?\(?\S+?\)? \([^)]*\): /i,
    "",
  );
  return new ModelError(`cannot reach the model server at ${host}: ${detail.split("\n")[0]}`, {
    retryable: true,
    errorCode: "network",
    hint: "check your network connection and --base-url / OPENAI_BASE_URL",
    cause: error,
  });
}

/** The final error of a refused credential: log in again, or which variable to check. */
export function unauthorizedError(auth: ModelAuth, detail: string): CdxError {
  if (auth.kind === "none") {
    return new CdxError(`the model provider refused the request (HTTP 401): ${detail}`, {
      hint: "give the provider an API key: env_key under [model_providers.<id>] in config.toml",
    });
  }
  if (auth.kind === "apikey" && auth.source === "env") {
    return new CdxError(`the API key was refused (HTTP 401): ${detail}`, {
      hint:
        "check the API key in the environment (CODEX_API_KEY, OPENAI_API_KEY or the provider's env_key)",
    });
  }
  return new CdxError(`your credentials were refused (HTTP 401): ${detail}`, {
    hint: "log in again: `cdx login`",
  });
}
