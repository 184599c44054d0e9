/**
 * The retrying Responses API client: sends the request, parses the SSE
 * stream, hands events to the caller as they arrive, and retries what codex
 * retries — but only while nothing has been handed out, so text is never
 * printed twice.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import { abortError, deadline, delay, orCancel, TimeoutError, timeoutSignal } from "../cancel.ts";
import { CdxError } from "../errors.ts";
import type { ModelAuth, ResponsesRequest } from "./request.ts";
import { SseParser } from "./sse.ts";
import { interpretEvent, type ModelEvent, ProtocolError, type ResponseUsage } from "./events.ts";

/**
 * Where the client gets credentials. `commands/run.ts` wires `lib/auth`;
 * tests pass fakes.
 */
export interface AuthProvider {
  /** The credential for the next request (refreshed first when expired). */
  get(): Promise<ModelAuth>;
  /**
   * After a 401 with `failed`: a credential worth one more try (reloaded or
   * refreshed), or undefined when there is none (the user must log in again).
   */
  recover(failed: ModelAuth): Promise<ModelAuth | undefined>;
}

/** What {@linkcode streamResponse} is told about a retry it is about to make. */
export interface RetryNotice {
  /** 1-based retry number. */
  attempt: number;
  maxRetries: number;
  delayMs: number;
  /** Why, e.g. `HTTP 503` or `rate limited (HTTP 429)`. */
  reason: string;
}

/** Options of {@linkcode streamResponse}. */
export interface StreamOptions {
  fetch: typeof fetch;
  auth: AuthProvider;
  /** Builds the request for a credential (called again after a 401 recovery). */
  buildRequest(auth: ModelAuth): ResponsesRequest;
  /** The Context signal (Ctrl-C). */
  signal: AbortSignal;
  /** Bound on the whole call, retries included (`--timeout`). */
  timeoutMs?: number;
  /** Bound on the wait for the response headers and for each read (`--idle-timeout`). */
  idleTimeoutMs: number;
  /** Retries of 5xx, 429 and network errors (default 4, as codex). */
  maxRetries?: number;
  /** A server-requested wait longer than this is not waited for (default 120 s). */
  maxRetryDelayMs?: number;
  /**
   * Receives the events of one network read. The client stops retrying once
   * it has handed out a text delta or a message.
   */
  onEvents(events: ModelEvent[]): Promise<void>;
  /** Called before each retry's sleep (print a notice). */
  onRetry?(notice: RetryNotice): void | Promise<void>;
  /** Injectable for tests; defaults to lib/cancel's `delay`. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** Injectable jitter source in [0, 1). */
  random?(): number;
  logger?: Logger;
}

/** The result of a completed response. */
export interface StreamResult {
  responseId?: string;
  usage?: ResponseUsage;
}

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
  constructor(
    message: string,
    options: {
      status?: number;
      code?: string;
      retryable?: boolean;
      retryAfterMs?: number;
      hint?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, { hint: options.hint, cause: options.cause });
    this.name = "ModelError";
    this.status = options.status;
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A 401: the credential was refused. */
class UnauthorizedError extends Error {
  constructor(readonly auth: ModelAuth, readonly detail: string) {
    super("unauthorized");
  }
}

/** Exponential backoff as codex: 200 ms × 2^(n-1) × jitter in [0.9, 1.1). */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  return Math.round(200 * 2 ** (retry - 1) * (0.9 + 0.2 * random()));
}

/**
 * A `Retry-After` header value (seconds or an HTTP date) in ms, relative to
 * `now`; undefined when absent or unparsable.
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

/** The delay in "Please try again in 1.5s" / "in 20ms" / "in 3 seconds", in ms. */
export function parseTryAgainIn(message: string): number | undefined {
  const m = /try again in\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?)\b/i.exec(message);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Math.round(m[2].toLowerCase() === "ms" ? n : n * 1000);
}

const MAX_ERROR_BODY = 64 * 1024;

async function readErrorBody(response: Response, idleMs: number, signal: AbortSignal) {
  try {
    const text = await deadline(response.text(), idleMs, { signal });
    return text.slice(0, MAX_ERROR_BODY);
  } catch {
    return "";
  }
}

/** The message, type and code of an API error body (`{"error":{…}}`), if it is one. */
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

function looksLikeHtml(contentType: string, text: string): boolean {
  return /html/i.test(contentType) || /^\s*<(!doctype|html|head|body)/i.test(text);
}

function htmlTitle(text: string): string | undefined {
  const m = /<title[^>]*>([^<]{1,200})<\/title>/i.exec(text);
  return m ? m[1].trim().replace(/\s+/g, " ") : undefined;
}

function statusLine(response: Response): string {
  return `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
}

/** Turns a non-2xx response into a {@linkcode ModelError}. */
async function httpError(response: Response, idleMs: number, signal: AbortSignal) {
  const text = await readErrorBody(response, idleMs, signal);
  const contentType = response.headers.get("content-type") ?? "";
  const status = response.status;
  const parsed = parseErrorBody(text);
  let detail: string;
  if (parsed?.message) detail = parsed.message;
  else if (looksLikeHtml(contentType, text)) {
    const title = htmlTitle(text);
    detail = `the server answered with an HTML page${title ? ` ("${title}")` : ""}, not the API`;
  } else {
    detail = text.trim().split("\n")[0].slice(0, 200) || "no details";
  }
  const code = parsed?.code ?? parsed?.type;
  const requestId = response.headers.get("x-request-id") ??
    response.headers.get("x-oai-request-id");
  const suffix = requestId ? ` (request id ${requestId})` : "";
  const message = `model request failed: ${statusLine(response)}: ${detail}${suffix}`;
  if (status === 429) {
    const fatal = code !== undefined && FATAL_CODES.has(code);
    return new ModelError(message, {
      status,
      code,
      retryable: !fatal,
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after")) ??
        parseTryAgainIn(detail),
      hint: fatal ? "check your plan and usage limits" : "you are rate limited; try again later",
    });
  }
  if (status >= 500) return new ModelError(message, { status, code, retryable: true });
  if (status === 400) {
    return new ModelError(message, {
      status,
      code,
      hint: "the server rejected the request; check --model and --instructions",
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

function unauthorizedError(auth: ModelAuth, detail: string): CdxError {
  if (auth.kind === "apikey" && auth.source === "env") {
    return new CdxError(`the API key was refused (HTTP 401): ${detail}`, {
      hint: "check CODEX_API_KEY / OPENAI_API_KEY",
    });
  }
  return new CdxError(`your credentials were refused (HTTP 401): ${detail}`, {
    hint: "log in again: `cdx login`",
  });
}

/**
 * Sends the request and streams the response, retrying 5xx, 429 and network
 * errors (exponential backoff with jitter; 429 waits as long as the server
 * asks) while nothing has been handed to `onEvents`, recovering once from a
 * 401 through the {@linkcode AuthProvider}. Rejects with
 * {@linkcode ModelError} / `CdxError` for failures, `TimeoutError` for
 * `timeoutMs` / `idleTimeoutMs`, `CancelledError` for Ctrl-C.
 *
 * @example
 * ```ts
 * const result = await streamResponse({
 *   fetch: ctx.fetch, auth, signal: ctx.signal, idleTimeoutMs: 300_000,
 *   buildRequest: (a) => buildResponsesRequest({ ...params, auth: a }),
 *   onEvents: async (events) => { for (const e of events) if (e.type === "text_delta") await out(e.delta); },
 * });
 * ```
 */
export async function streamResponse(options: StreamOptions): Promise<StreamResult> {
  const maxRetries = options.maxRetries ?? 4;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 120_000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms, signal) => delay(ms, { signal }));
  const log = options.logger;
  const overall = options.timeoutMs === undefined
    ? { signal: options.signal, dispose() {} }
    : timeoutSignal(
      options.timeoutMs,
      options.signal,
      `no complete answer within ${options.timeoutMs / 1000} s (--timeout)`,
    );
  const state = { delivered: false };
  let retries = 0;
  let recoveries = 0;
  let auth: ModelAuth | undefined;
  try {
    while (true) {
      try {
        auth ??= await orCancel(options.auth.get(), overall.signal);
        return await attempt(options, auth, overall.signal, state);
      } catch (error) {
        if (overall.signal.aborted) throw abortError(overall.signal);
        // Credential problems (not logged in, refresh refused) keep their own message and exit code.
        if (error instanceof CdxError && !(error instanceof ModelError)) throw error;
        if (error instanceof UnauthorizedError) {
          // codex: reload from storage, then refresh; never for a key from the environment.
          let recovered: ModelAuth | undefined;
          if (recoveries < 2 && !state.delivered) {
            try {
              recovered = await orCancel(options.auth.recover(error.auth), overall.signal);
            } catch (recoverError) {
              if (overall.signal.aborted) throw abortError(overall.signal);
              throw recoverError;
            }
          }
          if (!recovered) throw unauthorizedError(error.auth, error.detail);
          recoveries++;
          auth = recovered;
          log?.info("401: retrying with recovered credentials");
          continue;
        }
        if (error instanceof TimeoutError) throw error;
        const modelError = toModelError(error);
        if (!modelError.retryable || state.delivered || retries >= maxRetries) {
          if (modelError.retryable && retries >= maxRetries && retries > 0) {
            throw new ModelError(`${modelError.message} (gave up after ${retries} retries)`, {
              status: modelError.status,
              code: modelError.code,
              hint: modelError.hint,
              cause: modelError.cause,
            });
          }
          throw modelError;
        }
        retries++;
        const waitMs = modelError.retryAfterMs ?? backoffMs(retries, random);
        if (waitMs > maxRetryDelayMs) {
          throw new ModelError(
            `${modelError.message}; the server asks to wait ${Math.ceil(waitMs / 1000)} s`,
            { status: modelError.status, code: modelError.code, hint: modelError.hint },
          );
        }
        const reason = modelError.status ? `HTTP ${modelError.status}` : modelError.message;
        log?.info("retry {retry}/{max} in {ms} ms: {reason}", {
          retry: retries,
          max: maxRetries,
          ms: waitMs,
          reason,
        });
        await options.onRetry?.({ attempt: retries, maxRetries, delayMs: waitMs, reason });
        try {
          await sleep(waitMs, overall.signal);
        } catch (sleepError) {
          if (overall.signal.aborted) throw abortError(overall.signal);
          throw sleepError;
        }
      }
    }
  } finally {
    overall.dispose();
  }
}

function toModelError(error: unknown): ModelError {
  if (error instanceof ModelError) return error;
  if (error instanceof ProtocolError) {
    return new ModelError(`model stream error: ${error.message}`, { cause: error });
  }
  if (error instanceof CdxError) {
    return new ModelError(error.message, { hint: error.hint, cause: error });
  }
  // fetch rejects with TypeError for DNS, refused connections and resets.
  const detail = error instanceof Error ? error.message : String(error);
  return new ModelError(`cannot reach the model server: ${detail}`, {
    retryable: true,
    hint: "check your network connection and --base-url / OPENAI_BASE_URL",
    cause: error,
  });
}

/** One request and its stream. */
async function attempt(
  options: StreamOptions,
  auth: ModelAuth,
  signal: AbortSignal,
  state: { delivered: boolean },
): Promise<StreamResult> {
  const idleMs = options.idleTimeoutMs;
  const idleMessage = `no data from the model server for ${idleMs / 1000} s (--idle-timeout)`;
  const request = options.buildRequest(auth);
  // Aborted when this attempt ends for any reason, so the connection never outlives it.
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const response = await deadline(
      options.fetch(request.url, {
        method: "POST",
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
      }),
      idleMs,
      { signal, message: idleMessage },
    );
    options.logger?.debug("POST {url} → {status}", { url: request.url, status: response.status });
    if (response.status === 401) {
      const text = await readErrorBody(response, idleMs, signal);
      const detail = parseErrorBody(text)?.message ?? "unauthorized";
      throw new UnauthorizedError(auth, detail.slice(0, 200));
    }
    if (!response.ok) throw await httpError(response, idleMs, signal);
    const contentType = response.headers.get("content-type") ?? "";
    if (!/text\/event-stream/i.test(contentType) || !response.body) {
      const text = await readErrorBody(response, idleMs, signal);
      const what = looksLikeHtml(contentType, text)
        ? `an HTML page${htmlTitle(text) ? ` ("${htmlTitle(text)}")` : ""}`
        : `${contentType || "no content type"}`;
      throw new ModelError(
        `model request failed: expected an event stream, got ${what} (${statusLine(response)})`,
        { hint: "check --base-url / OPENAI_BASE_URL: it must point at a Responses API" },
      );
    }
    return await readStream(response.body, options, state, controller, idleMs, idleMessage);
  } finally {
    signal.removeEventListener("abort", onAbort);
    controller.abort();
  }
}

/**
 * Calls `onIdle` once no `touch()` happened for `ms`. One timer, re-armed
 * lazily when it fires: resetting a timer on every read (as a per-read
 * `deadline` does) costs more than parsing the read at 10,000 events.
 */
class IdleWatchdog {
  #last = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  constructor(readonly ms: number, readonly onIdle: () => void) {
    this.#timer = setTimeout(this.#check, ms);
  }
  touch(): void {
    this.#last = performance.now();
  }
  #check = () => {
    const quiet = performance.now() - this.#last;
    if (quiet >= this.ms) {
      this.#timer = undefined;
      this.onIdle();
    } else this.#timer = setTimeout(this.#check, this.ms - quiet);
  };
  dispose(): void {
    clearTimeout(this.#timer);
  }
}

async function readStream(
  body: ReadableStream<Uint8Array>,
  options: StreamOptions,
  state: { delivered: boolean },
  controller: AbortController,
  idleMs: number,
  idleMessage: string,
): Promise<StreamResult> {
  const parser = new SseParser();
  // Ctrl-C, --timeout and the idle watchdog all abort the fetch's controller,
  // which rejects the pending read at once.
  const watchdog = new IdleWatchdog(
    idleMs,
    () => controller.abort(new TimeoutError(idleMs, idleMessage)),
  );
  const reader = body.getReader();
  try {
    while (true) {
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = await reader.read();
      } catch (error) {
        if (controller.signal.aborted) throw abortError(controller.signal);
        throw error;
      }
      if (read.done) break;
      watchdog.touch();
      const batch: ModelEvent[] = [];
      let done: StreamResult | undefined;
      for (const sse of parser.push(read.value)) {
        const event = interpretEvent(sse);
        if (!event) continue;
        if (event.type === "failed") {
          if (batch.length) await deliver(batch, options, state);
          throw failedError(event.error);
        }
        batch.push(event);
        if (event.type === "completed") {
          done = { responseId: event.responseId, usage: event.usage };
          break;
        }
      }
      if (batch.length) await deliver(batch, options, state);
      if (done) return done;
      if (controller.signal.aborted) throw abortError(controller.signal);
    }
  } finally {
    watchdog.dispose();
    reader.cancel().catch(() => {});
  }
  throw new ModelError("model stream error: stream closed before response.completed", {
    retryable: true,
  });
}

async function deliver(batch: ModelEvent[], options: StreamOptions, state: { delivered: boolean }) {
  if (!state.delivered) {
    state.delivered = batch.some((e) => e.type === "text_delta" || e.type === "message_done");
  }
  await options.onEvents(batch);
}

function failedError(error: { type?: string; code?: string; message: string }): ModelError {
  const code = error.code ?? error.type;
  const fatal = code !== undefined && FATAL_CODES.has(code);
  return new ModelError(`the model failed: ${error.message}${code ? ` (${code})` : ""}`, {
    code,
    retryable: !fatal,
    retryAfterMs: parseTryAgainIn(error.message),
    hint: code === "context_length_exceeded" ? "shorten the prompt or its stdin input" : undefined,
  });
}
