/**
 * Reads one Responses event stream: bytes → SSE events → model events,
 * handed out one batch per network read, under an idle watchdog that only
 * events feed (SSE comments are keep-alives, not progress: a server that
 * sends nothing but comments still ends with `--idle-timeout`).
 *
 * The hot path of `cdx run` on a fast stream: one BYOB read into a reused
 * buffer, one decode per read, one batch per read, the watchdog's clock read
 * once per read — no timer is re-armed per event.
 *
 * @module
 */
import { abortError, TimeoutError } from "../cancel.ts";
import { startTimer } from "../timer.ts";
import type { SseParser } from "./sse.ts";
import { interpretEvent, type ModelEvent, type ResponseUsage } from "./events.ts";
import { ModelError, streamFailure } from "./http_error.ts";

let sseModule: Promise<typeof import("./sse.ts")> | undefined;

/**
 * Starts loading the SSE parser (it brings an npm package) without waiting
 * for it. The client calls it as the request goes out, so the load overlaps
 * the server's time to answer instead of delaying the request.
 */
export function preloadSseParser(): Promise<typeof import("./sse.ts")> {
  sseModule ??= import("./sse.ts");
  sseModule.catch(() => {}); // a failed load is reported where the parser is awaited
  return sseModule;
}

/** The result of a completed response. */
export interface StreamResult {
  /** `response.id` of `response.completed`. */
  responseId?: string;
  /** Its token usage. */
  usage?: ResponseUsage;
}

/** What the reader shares with the client across attempts. */
export interface DeliveryState {
  /** Set once a text delta or a message was handed out: no retry after that. */
  delivered: boolean;
}

/** Options of {@linkcode readEventStream}. */
export interface ReadStreamOptions {
  /** Give up when no SSE event arrives for this long (`--idle-timeout`). */
  idleMs: number;
  /** Message of the idle {@linkcode TimeoutError}. */
  idleMessage: string;
  /** The attempt's controller: aborting it ends the read at once (idle, Ctrl-C, `--timeout`). */
  controller: AbortController;
  /** The SSE parser (from {@linkcode preloadSseParser}), with its caps. */
  parser: SseParser;
  /** Receives the events of one network read. */
  onEvents(events: ModelEvent[]): void | Promise<void>;
}

/**
 * Calls `onIdle` once no `touch()` happened for `ms`. One timer, re-armed
 * lazily when it fires: resetting a timer on every event (as a per-read
 * `deadline` does) costs more than parsing the event.
 */
export class IdleWatchdog {
  #last = performance.now();
  #cancel: () => void;
  /** Starts watching; `onIdle` runs once when `ms` pass without a touch. */
  constructor(readonly ms: number, readonly onIdle: () => void) {
    this.#cancel = startTimer(ms, this.#check);
  }
  /** Records progress. */
  touch(): void {
    this.#last = performance.now();
  }
  #check = () => {
    const quiet = performance.now() - this.#last;
    if (quiet >= this.ms) {
      this.onIdle();
    } else this.#cancel = startTimer(this.ms - quiet, this.#check);
  };
  /** Stops watching. */
  dispose(): void {
    this.#cancel();
  }
}

/** A BYOB reader when the body is a byte stream (fetch's is), else undefined. */
function byobReader(body: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return body.getReader({ mode: "byob" });
  } catch {
    return undefined; // a hand-made body (tests): read its chunks as they come
  }
}

/**
 * Reads the stream to `response.completed` and returns its id and usage.
 * Rejects with {@linkcode ModelError} for `response.failed` and for a stream
 * that ends early (retryable while nothing was delivered), with the idle
 * {@linkcode TimeoutError}, or with the controller's abort reason.
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  options: ReadStreamOptions,
  state: DeliveryState,
): Promise<StreamResult> {
  const { controller } = options;
  const aborted = controller.signal;
  const { parser } = options;
  const watchdog = new IdleWatchdog(
    options.idleMs,
    () => controller.abort(new TimeoutError(options.idleMs, options.idleMessage)),
  );
  // BYOB reads into one reused buffer cost a fraction of default reads (no chunk queue), and
  // the read is awaited right here: one promise hop per network read, not two.
  const byob = byobReader(body);
  const reader = byob ?? body.getReader();
  let buffer: Uint8Array<ArrayBufferLike> = new Uint8Array(64 * 1024);
  try {
    while (true) {
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = byob
          ? await byob.read(buffer)
          : await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
      } catch (error) {
        if (aborted.aborted) throw abortError(aborted);
        throw error;
      }
      if (read.done || !read.value) break;
      const chunk = read.value;
      // The view is only valid until the next read, which reuses its buffer.
      if (byob) buffer = new Uint8Array(chunk.buffer);
      const sse = parser.push(chunk);
      if (sse.length === 0) continue;
      watchdog.touch();
      const batch: ModelEvent[] = [];
      let done: StreamResult | undefined;
      for (const raw of sse) {
        const event = interpretEvent(raw);
        if (!event) continue;
        if (event.type === "failed") {
          if (batch.length) await deliver(batch, options, state);
          throw streamFailure(event.error);
        }
        batch.push(event);
        if (event.type === "completed") {
          done = { responseId: event.responseId, usage: event.usage };
          break;
        }
      }
      if (batch.length) await deliver(batch, options, state);
      if (done) return done;
      if (aborted.aborted) throw abortError(aborted);
    }
  } finally {
    watchdog.dispose();
    reader.cancel().catch(() => {});
  }
  throw new ModelError("model stream error: stream closed before response.completed", {
    retryable: true,
  });
}

async function deliver(batch: ModelEvent[], options: ReadStreamOptions, state: DeliveryState) {
  if (!state.delivered) {
    state.delivered = batch.some((e) => e.type === "text_delta" || e.type === "message_done");
  }
  await options.onEvents(batch);
}
