/**
 * A Server-Sent Events parser that follows the WHATWG HTML "event stream
 * interpretation" rules: UTF-8 with one optional leading BOM, CRLF / LF / CR
 * line ends, `:` comments, multi-line `data`, `event` / `id` / `retry`
 * fields, and events split across reads at any byte. Very long lines are
 * collected as parts and joined once, so a megabyte line costs linear time.
 *
 * @module
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event` field; `"message"` when the event had none. */
  event: string;
  /** The `data` lines joined by `\n`. */
  data: string;
  /** The last event id seen so far (the spec's "last event ID buffer"). */
  id: string;
  /** A `retry` value in milliseconds, when this event carried one. */
  retry?: number;
}

const LF = 10;
const BOM = 0xfeff;

/**
 * An incremental SSE parser: feed it bytes as they arrive and collect the
 * events each read completes. Events still open at {@linkcode SseParser.end}
 * are discarded, as the spec requires.
 *
 * @example
 * ```ts
 * const parser = new SseParser();
 * const events = parser.push(new TextEncoder().encode("data: hi\n\n"));
 * // [{ event: "message", data: "hi", id: "" }]
 * ```
 */
export class SseParser {
  // TextDecoder strips one leading BOM (even when split across reads) and
  // keeps multi-byte characters split across reads intact.
  #decoder = new TextDecoder("utf-8");
  /** Pieces of the current, not yet terminated line. */
  #pending: string[] = [];
  /** The previous chunk ended in CR: a LF that starts the next one belongs to it. */
  #afterCr = false;
  #started = false;
  #data: string[] = [];
  #hasData = false;
  #eventType = "";
  #lastId = "";
  #retry: number | undefined;

  /** Parses the next bytes of the stream; returns the events they complete. */
  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    this.#feed(this.#decoder.decode(chunk, { stream: true }), out);
    return out;
  }

  /** Parses already-decoded text (for callers that hold strings). */
  pushText(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    this.#feed(text, out);
    return out;
  }

  /**
   * Ends the stream. An event without its closing blank line is discarded
   * (spec: "any pending data must be discarded"); returns the events that the
   * decoder's last bytes completed.
   */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    this.#feed(this.#decoder.decode(), out);
    this.#pending = [];
    this.#afterCr = false;
    this.#resetEvent();
    return out;
  }

  /** Whether an event has started but not been dispatched (a stream cut mid-event). */
  get inEvent(): boolean {
    return this.#pending.length > 0 || this.#hasData || this.#eventType !== "";
  }

  #feed(text: string, out: SseEvent[]): void {
    if (!this.#started && text.length > 0) {
      this.#started = true;
      // pushText() bypasses the decoder, which strips the BOM for push().
      if (text.charCodeAt(0) === BOM) text = text.slice(1);
    }
    const n = text.length;
    let start = 0;
    if (this.#afterCr && n > 0) {
      this.#afterCr = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    // Next LF / CR positions are cached: searching again from every line start
    // would rescan a CR-free chunk once per line (quadratic).
    let nextLf = -2;
    let nextCr = -2;
    while (start < n) {
      if (nextLf !== -1 && nextLf < start) nextLf = text.indexOf("\n", start);
      if (nextCr !== -1 && nextCr < start) nextCr = text.indexOf("\r", start);
      let end: number;
      if (nextLf === -1) end = nextCr;
      else if (nextCr === -1) end = nextLf;
      else end = nextLf < nextCr ? nextLf : nextCr;
      if (end === -1) break;
      let line = text.slice(start, end);
      if (this.#pending.length) {
        this.#pending.push(line);
        line = this.#pending.join("");
        this.#pending = [];
      }
      this.#line(line, out);
      if (end === nextCr) {
        if (end + 1 < n) {
          start = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
        } else {
          start = n;
          this.#afterCr = true;
        }
      } else {
        start = end + 1;
      }
    }
    if (start < n) this.#pending.push(text.slice(start));
  }

  #line(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      this.#dispatch(out);
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) return; // comment
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = "";
    } else {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    switch (field) {
      case "data":
        this.#data.push(value);
        this.#hasData = true;
        break;
      case "event":
        this.#eventType = value;
        break;
      case "id":
        if (!value.includes("\0")) this.#lastId = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.#retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  #dispatch(out: SseEvent[]): void {
    if (!this.#hasData) {
      this.#resetEvent();
      return;
    }
    const event: SseEvent = {
      event: this.#eventType || "message",
      data: this.#data.length === 1 ? this.#data[0] : this.#data.join("\n"),
      id: this.#lastId,
    };
    if (this.#retry !== undefined) event.retry = this.#retry;
    out.push(event);
    this.#resetEvent();
  }

  #resetEvent(): void {
    this.#data = [];
    this.#hasData = false;
    this.#eventType = "";
    this.#retry = undefined;
  }
}

/**
 * Parses a whole byte stream into batches of events: one batch per read that
 * completed at least one event, so a consumer can write a batch at once.
 * The iteration ends with the stream; cancel it by returning from the loop.
 *
 * @example
 * ```ts
 * for await (const batch of parseSseStream(response.body!)) {
 *   for (const ev of batch) handle(JSON.parse(ev.data));
 * }
 * ```
 */
export async function* parseSseStream(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<SseEvent[], void, undefined> {
  const parser = new SseParser();
  for await (const chunk of body) {
    const events = parser.push(chunk);
    if (events.length) yield events;
  }
  const rest = parser.end();
  if (rest.length) yield rest;
}

/** Parses a complete stream held in memory (tests, tools). */
export function parseSseText(text: string | Uint8Array): SseEvent[] {
  const parser = new SseParser();
  const events = typeof text === "string" ? parser.pushText(text) : parser.push(text);
  return [...events, ...parser.end()];
}
