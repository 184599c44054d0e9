/**
 * Server-Sent Events for the model stream: bytes in, events out, one call
 * per network read, with a cap a hostile or broken server cannot get around.
 * The parsing itself (WHATWG "event stream interpretation": one optional
 * leading BOM, CRLF / LF / CR line ends, `:` comments, multi-line `data`,
 * `event` / `id`, events split across reads at any byte) is the maintained
 * npm parser `eventsource-parser`; this module decodes UTF-8 across reads,
 * collects each read's events, and turns its buffer cap into
 * {@linkcode SseLimitError}. Why the library and not our own parser:
 * `bench/sse_bench.ts` and the README's "Dependencies and why".
 *
 * @module
 */
import { createParser, type EventSourceParser } from "eventsource-parser";

/** One dispatched event. */
export interface SseEvent {
  /** The `event` field; `"message"` when the event had none. */
  event: string;
  /** The `data` lines joined by `\n`. */
  data: string;
  /** The last event id seen so far (the spec's "last event ID buffer"). */
  id: string;
}

/** Limits of {@linkcode SseParser}. */
export interface SseLimits {
  /**
   * The most the parser holds between reads, in UTF-16 code units
   * (characters of ASCII): the unfinished line plus the event's data so far
   * — so it caps one line and one event, and with reads of at most 64 KiB
   * the memory a stream can take (default 32 MiB).
   */
  maxBufferLength?: number;
}

/** Default {@linkcode SseLimits.maxBufferLength}: 32 MiB. */
const DEFAULT_MAX_BUFFER_LENGTH = 32 * 1024 * 1024;

/** The stream broke the limit of {@linkcode SseLimits}; parsing cannot go on. */
export class SseLimitError extends Error {
  /** `limit` was passed. */
  constructor(readonly limit: number) {
    super(`the server sent an SSE line or event larger than ${formatLength(limit)}`);
    this.name = "SseLimitError";
  }
}

function formatLength(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} characters`;
}

/**
 * An incremental SSE parser: feed it bytes as they arrive and collect the
 * events each read completes. An event without its closing blank line when
 * the stream ends is never returned, as the spec requires. Throws
 * {@linkcode SseLimitError} when the cap is passed.
 *
 * @example
 * ```ts
 * const parser = new SseParser();
 * const events = parser.push(new TextEncoder().encode("data: hi\n\n"));
 * // [{ event: "message", data: "hi", id: "" }]
 * ```
 */
export class SseParser {
  // The parser strips the BOM itself, so the decoder must keep it (a second BOM is data).
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  readonly #parser: EventSourceParser;
  #out: SseEvent[] = [];
  #lastId = "";
  #failed: SseLimitError | undefined;

  /** A parser with the given cap (default 32 MiB). */
  constructor(limits: SseLimits = {}) {
    const limit = limits.maxBufferLength ?? DEFAULT_MAX_BUFFER_LENGTH;
    this.#parser = createParser({
      maxBufferSize: limit,
      onEvent: (message) => {
        if (message.id !== undefined) this.#lastId = message.id;
        this.#out.push({ event: message.event || "message", data: message.data, id: this.#lastId });
      },
      onError: (error) => {
        // Unknown fields and bad `retry` values are ignored, as the spec says; only the cap stops us.
        if (error.type === "max-buffer-size-exceeded") this.#failed = new SseLimitError(limit);
      },
    });
  }

  /** Parses the next bytes of the stream; returns the events they complete. */
  push(chunk: Uint8Array): SseEvent[] {
    if (this.#failed) throw this.#failed;
    this.#parser.feed(this.#decoder.decode(chunk, { stream: true }));
    if (this.#failed) throw this.#failed;
    const out = this.#out;
    this.#out = [];
    return out;
  }
}
