/**
 * The Responses API client: sends the request under a bound on connect and
 * headers, reads the stream (`stream.ts`), retries what the policy retries
 * (`retry_policy.ts`, through `lib/retry.ts`) — only while nothing has been
 * handed out, so text is never printed twice — and recovers from a 401 once.
 *
 * **The one 401 recovery.** A 401 before any text asks the
 * {@linkcode AuthProvider} to `recover` once: `lib/auth` reloads the stored
 * credentials and, when they still hold the refused token, refreshes it
 * (`unauthorized_recovery`); the request is sent again at once with the
 * result. A second 401, or no credential to recover to (an API key), ends
 * the run with "log in again". codex 0.169.0 can spend two extra requests
 * (reload and retry, then refresh and retry); cdx spends at most one and
 * refreshes at most once.
 *
 * Longer than 300 lines by a few: the 401 recovery above and the bounded
 * send are documented where they happen.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import { abortError, cancelledFrom, orCancel, TimeoutError, timeoutSignal } from "../cancel.ts";
import { concatBytes } from "../bytes.ts";
import { hostOf, RequestTimeoutError } from "../http.ts";
import { retry } from "../retry.ts";
import { startTimer } from "../timer.ts";
import type { ModelAuth, ResponsesRequest } from "./request.ts";
import type { ModelEvent } from "./events.ts";
import type { SseLimits } from "./sse.ts";
import {
  classifyHttpError,
  classifyTransportError,
  ModelError,
  notAnEventStream,
  unauthorizedDetail,
  unauthorizedError,
} from "./http_error.ts";
import {
  decideRetry,
  DEFAULT_RETRY_POLICY,
  giveUpError,
  type ModelRetryPolicy,
} from "./retry_policy.ts";
import {
  type DeliveryState,
  preloadSseParser,
  readEventStream,
  type StreamResult,
} from "./stream.ts";

export type { StreamResult } from "./stream.ts";

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
   * Called at most once per {@linkcode streamResponse}.
   */
  recover(failed: ModelAuth): Promise<ModelAuth | undefined>;
}

/** What {@linkcode streamResponse} is told about a retry it is about to make. */
export interface RetryNotice {
  /** 1-based retry number. */
  attempt: number;
  /** The policy's retry limit. */
  maxRetries: number;
  /** The wait before the retry, ms. */
  delayMs: number;
  /** Why, e.g. `HTTP 503` or the connection error. May quote the server: redact it. */
  reason: string;
}

/** Options of {@linkcode streamResponse}. */
export interface StreamOptions {
  /** The fetch to use (the Context's). */
  fetch: typeof fetch;
  /** Credentials, and the one 401 recovery. */
  auth: AuthProvider;
  /** Builds the request for a credential (called again after a 401 recovery). */
  buildRequest(auth: ModelAuth): ResponsesRequest;
  /** The Context signal (Ctrl-C). */
  signal: AbortSignal;
  /** Bound on the whole call, retries included (`--timeout`). */
  timeoutMs?: number;
  /** Bound on connect + response headers (`CDX_REQUEST_TIMEOUT`; default 30 s). */
  connectTimeoutMs?: number;
  /** Bound between events, and on the headers when shorter (`--idle-timeout`). */
  idleTimeoutMs: number;
  /** Retry limits (default {@linkcode DEFAULT_RETRY_POLICY}). */
  policy?: Partial<ModelRetryPolicy>;
  /** The cap on what the SSE parser holds (one line, one event). */
  limits?: SseLimits;
  /**
   * Receives the events of one network read. The client stops retrying once
   * it has handed out a text delta or a message.
   */
  onEvents(events: ModelEvent[]): void | Promise<void>;
  /** Called before each retry's sleep (print a notice). */
  onRetry?(notice: RetryNotice): void | Promise<void>;
  /** Injectable for tests; defaults to lib/cancel's `delay`. */
  sleep?(ms: number, signal?: AbortSignal): Promise<void>;
  /** Injectable jitter source in [0, 1). */
  random?(): number;
  /** The `model` child logger. */
  logger?: Logger;
}

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Sends the request and streams the response. Rejects with `ModelError` /
 * `CdxError` for failures, `TimeoutError` for `timeoutMs` / `idleTimeoutMs`,
 * `RequestTimeoutError` (exit 124) when the server does not answer within
 * `connectTimeoutMs`, `CancelledError` for Ctrl-C.
 *
 * @example
 * ```ts
 * const result = await streamResponse({
 *   fetch: ctx.fetch, auth, signal: ctx.signal, idleTimeoutMs: 300_000,
 *   buildRequest: (a) => buildResponsesRequest({ ...params, auth: a }),
 *   onEvents: (events) => renderer.events(events),
 * });
 * ```
 */
export async function streamResponse(options: StreamOptions): Promise<StreamResult> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  using overall = options.timeoutMs === undefined ? undefined : timeoutSignal(
    options.timeoutMs,
    options.signal,
    `no complete answer within ${options.timeoutMs / 1000} s (--timeout)`,
  );
  const signal = overall?.signal ?? options.signal;
  const exchange = new Exchange(options, signal);
  let attempts = 0;
  try {
    return await retry((attempt) => {
      attempts = attempt;
      return exchange.attempt();
    }, {
      decide: (attempt, error) => decideRetry(attempt, error, policy, exchange.state.delivered),
      signal,
      sleep: options.sleep,
      random: options.random,
      onRetry: async ({ attempt, delayMs, error }) => {
        const reason = describe(error);
        options.logger?.info("retry {retry}/{max} in {ms} ms: {reason}", {
          retry: attempt,
          max: policy.maxRetries,
          ms: delayMs,
          reason,
        });
        await options.onRetry?.({ attempt, maxRetries: policy.maxRetries, delayMs, reason });
      },
    });
  } catch (error) {
    if (signal.aborted) throw abortError(signal);
    throw giveUpError(error, attempts, policy);
  }
}

function describe(error: unknown): string {
  if (error instanceof ModelError && error.status !== undefined) return `HTTP ${error.status}`;
  return error instanceof Error ? error.message : String(error);
}

/** One call's state across attempts: the credential, the recovery, what was delivered. */
class Exchange {
  readonly state: DeliveryState = { delivered: false };
  #auth: ModelAuth | undefined;
  #recovered = false;
  constructor(readonly options: StreamOptions, readonly signal: AbortSignal) {}

  /** One attempt: send (recovering from one 401), then read the stream. */
  async attempt(): Promise<StreamResult> {
    const { options, signal } = this;
    this.#auth ??= await orCancel(options.auth.get(), signal);
    // Aborted when this attempt ends for any reason, so the connection never outlives it.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      let { response, host } = await this.#send(this.#auth, controller);
      if (response.status === 401) {
        const refused = this.#auth;
        const detail = unauthorizedDetail(await this.#body(response, controller));
        const next = await this.#recover(refused, detail);
        this.#auth = next;
        ({ response, host } = await this.#send(next, controller));
        if (response.status === 401) {
          throw unauthorizedError(next, unauthorizedDetail(await this.#body(response, controller)));
        }
      }
      if (!response.ok || !/text\/event-stream/i.test(response.headers.get("content-type") ?? "")) {
        const answer = {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
          body: await this.#body(response, controller),
        };
        throw response.ok ? notAnEventStream(answer) : classifyHttpError(answer);
      }
      // Awaited here, outside the stream's error mapping: a parser that fails to load is a
      // broken install, not a network error to retry.
      const { SseParser } = await preloadSseParser();
      const idleMs = options.idleTimeoutMs;
      return await readEventStream(response.body!, {
        idleMs,
        idleMessage: `no event from the model server for ${idleMs / 1000} s (--idle-timeout)`,
        controller,
        parser: new SseParser(options.limits),
        onEvents: options.onEvents,
      }, this.state).catch((error) => {
        if (controller.signal.aborted) throw reasonOf(controller.signal);
        throw classifyTransportError(error, host);
      });
    } finally {
      signal.removeEventListener("abort", onAbort);
      controller.abort();
    }
  }

  /** The one recovery: a 401 after text, a second 401 or nothing to recover to is final. */
  async #recover(refused: ModelAuth, detail: string): Promise<ModelAuth> {
    if (this.#recovered || this.state.delivered) throw unauthorizedError(refused, detail);
    this.#recovered = true;
    const next = await orCancel(this.options.auth.recover(refused), this.signal);
    if (!next) throw unauthorizedError(refused, detail);
    this.options.logger?.info("401: retrying once with recovered credentials");
    return next;
  }

  /** POSTs the request; the headers must arrive within the connect bound. */
  async #send(auth: ModelAuth, controller: AbortController) {
    const { options } = this;
    const request = options.buildRequest(auth);
    const host = hostOf(request.url);
    preloadSseParser();
    const response = await this.#bounded(
      controller,
      host,
      () =>
        options.fetch(request.url, {
          method: "POST",
          headers: request.headers,
          body: request.body,
          signal: controller.signal,
        }),
    );
    options.logger?.debug("POST {url} → {status}", { url: request.url, status: response.status });
    return { response, host };
  }

  /** The first 64 KiB of an error body, under the same bound as the headers. */
  async #body(response: Response, controller: AbortController): Promise<string> {
    const host = hostOf(response.url);
    try {
      return await this.#bounded(controller, host, async () => {
        const reader = response.body?.getReader();
        if (!reader) return "";
        const chunks: Uint8Array[] = [];
        let size = 0;
        try {
          while (size < MAX_ERROR_BODY) {
            const { done, value } = await reader.read();
            if (done) break;
            chunks.push(value);
            size += value.length;
          }
        } finally {
          reader.cancel().catch(() => {});
        }
        return new TextDecoder().decode(concatBytes(chunks)).slice(0, MAX_ERROR_BODY);
      });
    } catch (error) {
      // A bound or Ctrl-C ends the attempt; a broken error body only loses its details.
      if (controller.signal.aborted) throw error;
      return "";
    }
  }

  /** Runs `work` (a fetch or a body read) under min(connect bound, idle bound). */
  async #bounded<T>(controller: AbortController, host: string, work: () => Promise<T>) {
    const { options } = this;
    const connectMs = options.connectTimeoutMs ?? 30_000;
    const idleMs = options.idleTimeoutMs;
    const reason = idleMs < connectMs
      ? new TimeoutError(
        idleMs,
        `no answer from the model server for ${idleMs / 1000} s (--idle-timeout)`,
      )
      : new RequestTimeoutError(host, "model request", connectMs);
    const cancelTimer = startTimer(Math.min(connectMs, idleMs), () => controller.abort(reason));
    try {
      return await work();
    } catch (error) {
      if (controller.signal.aborted) throw reasonOf(controller.signal);
      throw classifyTransportError(error, host);
    } finally {
      cancelTimer();
    }
  }
}

/** The error an aborted attempt ends with: the bound that fired, or Ctrl-C. */
function reasonOf(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof TimeoutError || reason instanceof RequestTimeoutError) return reason;
  return cancelledFrom(signal);
}
