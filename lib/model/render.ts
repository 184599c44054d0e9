/**
 * The two outputs of `cdx run`, as two renderers of the same model event
 * stream: {@linkcode TextRenderer} (the answer on stdout as it arrives) and
 * {@linkcode JsonlRenderer} (codex exec's `--json` events). Each keeps its
 * own state; what they share — which text makes up which message — is one
 * {@linkcode Transcript}. Notices and errors are redacted before they are
 * printed: a server may echo the request, credential included.
 *
 * @module
 */
import type { Output } from "../context.ts";
import { CancelledError } from "../cancel.ts";
import { CoalescingWriter } from "../io.ts";
import { type ExecEventWriter, jsonLine, type ModelEvent, type ResponseUsage } from "./events.ts";
import type { RetryNotice } from "./client.ts";

/** What a renderer needs besides the event stream. */
export interface RenderTarget {
  /** Where the answer or the JSONL events go. */
  stdout: Output;
  /** Where notices go. */
  stderr: Output;
  /** Masks secrets in any text that may quote a server. */
  redact(text: string): string;
  /** Called before anything is written to stderr or stdout (erase a status line). */
  beforeOutput?(): void;
}

/** The output side of one `cdx run`. */
export interface RunRenderer {
  /** Before the request (`thread.started`, `turn.started`). */
  start(): Promise<void>;
  /** The events of one network read; writes are queued, never awaited. */
  events(events: readonly ModelEvent[]): void;
  /** A retry is about to happen. */
  retry(notice: RetryNotice): Promise<void>;
  /** The stream completed: closes an open message; returns the last message. */
  settle(): string | undefined;
  /** Success: `turn.completed` / the final newline; everything flushed. */
  finish(usage?: ResponseUsage): Promise<void>;
  /** Failure: the partial output kept and ended, `error` + `turn.failed` in JSONL. */
  fail(error: unknown): Promise<void>;
  /** The complete messages of the answer, in order. */
  readonly messages: readonly string[];
}

/**
 * Which text makes up which message: deltas accumulate until the item's
 * `output_item.done`; a message without deltas still counts; deltas that
 * never got their `done` are a message when the stream completes.
 */
export class Transcript {
  /** Completed messages. */
  readonly messages: string[] = [];
  #streaming = "";

  /** Text of the message being streamed ("" between messages). */
  get streaming(): string {
    return this.#streaming;
  }

  /** A delta arrived. */
  delta(text: string): void {
    this.#streaming += text;
  }

  /** A message completed; returns whether its text had arrived as deltas. */
  done(text: string): boolean {
    const streamed = this.#streaming !== "";
    this.messages.push(text);
    this.#streaming = "";
    return streamed;
  }

  /** The stream completed: deltas without a `done` become the last message. */
  close(): string | undefined {
    if (this.#streaming !== "") this.done(this.#streaming);
    return this.messages.at(-1);
  }
}

function retryLine(notice: RetryNotice): string {
  const seconds = (notice.delayMs / 1000).toFixed(1);
  return `${notice.reason}; retrying in ${seconds} s (${notice.attempt}/${notice.maxRetries})`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The answer on stdout, each network read's text written as one piece; a
 * second message of the answer starts on its own line; the output always
 * ends with a newline (also after a failure or Ctrl-C).
 */
export class TextRenderer implements RunRenderer {
  readonly #transcript = new Transcript();
  readonly #out: CoalescingWriter;
  #printed = false;
  #atLineStart = true;

  /** Renders to `target.stdout`. */
  constructor(readonly target: RenderTarget) {
    this.#out = new CoalescingWriter(target.stdout);
  }

  /** The complete messages of the answer. */
  get messages(): readonly string[] {
    return this.#transcript.messages;
  }

  /** Nothing to print before the answer. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Queues the text of one read. */
  events(events: readonly ModelEvent[]): void {
    let text = "";
    for (const event of events) {
      if (event.type === "text_delta") {
        if (this.#transcript.streaming === "" && this.#transcript.messages.length > 0) {
          // A second message of the same answer starts on its own line.
          const atLineStart = text ? text.endsWith("\n") : this.#atLineStart;
          if (!atLineStart) text += "\n";
        }
        this.#transcript.delta(event.delta);
        text += event.delta;
      } else if (event.type === "message_done") {
        // A server that sends no deltas still gets its message printed.
        if (!this.#transcript.done(event.text)) text += event.text;
      }
    }
    this.#print(text);
    // Surface a failed write (closed terminal, full disk) without waiting for the next one.
    this.#out.throwIfFailed();
  }

  #print(text: string): void {
    if (!text) return;
    if (!this.#printed) this.target.beforeOutput?.();
    this.#printed = true;
    this.#atLineStart = text.endsWith("\n");
    this.#out.write(text);
  }

  /** `warning: HTTP 503; retrying in 0.2 s (1/4)` on stderr. */
  async retry(notice: RetryNotice): Promise<void> {
    this.target.beforeOutput?.();
    await this.target.stderr.write(this.target.redact(`warning: ${retryLine(notice)}\n`));
  }

  /** Closes an open message. */
  settle(): string | undefined {
    return this.#transcript.close();
  }

  /** Ends the line and flushes. */
  async finish(): Promise<void> {
    await this.#end();
  }

  /** Keeps what was printed, but ends its line so the shell prompt starts clean. */
  async fail(): Promise<void> {
    await this.#end().catch(() => {});
  }

  async #end(): Promise<void> {
    if (this.#printed && !this.#atLineStart) this.#print("\n");
    await this.#out.flush();
  }
}

/**
 * codex exec's `--json`: `thread.started`, `turn.started`, an
 * `item.completed` per message, `error` per retry, then `turn.completed` or
 * `error` + `turn.failed`. Deltas are not printed (codex prints messages
 * whole).
 */
export class JsonlRenderer implements RunRenderer {
  readonly #transcript = new Transcript();
  readonly #out: CoalescingWriter;

  /** Renders with `jsonl` (which holds the thread id and numbers the items). */
  constructor(readonly target: RenderTarget, readonly jsonl: ExecEventWriter) {
    this.#out = new CoalescingWriter(target.stdout);
  }

  /** The complete messages of the answer. */
  get messages(): readonly string[] {
    return this.#transcript.messages;
  }

  /** `thread.started` (with the session id) and `turn.started`. */
  async start(): Promise<void> {
    this.#out.write(jsonLine(this.jsonl.threadStarted()) + jsonLine(this.jsonl.turnStarted()));
    await this.#out.flush();
  }

  /** `item.completed` for each completed message. */
  events(events: readonly ModelEvent[]): void {
    for (const event of events) {
      if (event.type === "text_delta") this.#transcript.delta(event.delta);
      else if (event.type === "message_done") {
        this.#transcript.done(event.text);
        this.target.beforeOutput?.();
        this.#out.write(jsonLine(this.jsonl.agentMessage(event.text)));
      }
    }
    this.#out.throwIfFailed();
  }

  /** The stderr warning, and codex's `Reconnecting... n/N` error event. */
  async retry(notice: RetryNotice): Promise<void> {
    this.target.beforeOutput?.();
    const line = this.target.redact(retryLine(notice));
    await this.target.stderr.write(`warning: ${line}\n`);
    this.#out.write(
      jsonLine(
        this.jsonl.error(`Reconnecting... ${notice.attempt}/${notice.maxRetries} (${line})`),
      ),
    );
  }

  /** Deltas without an `output_item.done` are the message: one more `item.completed`. */
  settle(): string | undefined {
    const open = this.#transcript.streaming;
    const last = this.#transcript.close();
    if (open !== "") this.#out.write(jsonLine(this.jsonl.agentMessage(open)));
    return last;
  }

  /** `turn.completed` with the usage. */
  async finish(usage?: ResponseUsage): Promise<void> {
    this.#out.write(jsonLine(this.jsonl.turnCompleted(usage)));
    await this.#out.flush();
  }

  /**
   * codex exec: an `error` event, then `turn.failed` with the same message.
   * Ctrl-C prints neither (codex exits without a final event).
   */
  async fail(error: unknown): Promise<void> {
    if (!(error instanceof CancelledError)) {
      const message = this.target.redact(errorText(error));
      this.#out.write(
        jsonLine(this.jsonl.error(message)) + jsonLine(this.jsonl.turnFailed(message)),
      );
    }
    await this.#out.flush().catch(() => {});
  }
}
