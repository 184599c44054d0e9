/**
 * Responses API stream events as cdx uses them, and codex exec's `--json`
 * (JSONL) events built from them.
 *
 * @module
 */
import type { SseEvent } from "./sse.ts";

/** Token usage of a completed response, as `response.completed` reports it. */
export interface ResponseUsage {
  /** Tokens of the request. */
  input_tokens: number;
  /** Of which served from the prompt cache. */
  cached_input_tokens: number;
  /** Tokens of the answer. */
  output_tokens: number;
  /** Of which spent on reasoning. */
  reasoning_output_tokens: number;
  /** Input plus output. */
  total_tokens: number;
}

/** The error of a `response.failed` event. */
export interface ResponseFailure {
  /** The error type, e.g. `server_error`. */
  type?: string;
  /** The error code, e.g. `context_length_exceeded`. */
  code?: string;
  /** The server's message. */
  message: string;
}

/** A stream event cdx acts on; everything else is ignored, as codex does. */
export type ModelEvent =
  | { type: "created"; responseId?: string }
  | { type: "text_delta"; itemId?: string; delta: string }
  | { type: "message_done"; itemId?: string; text: string }
  | { type: "completed"; responseId?: string; usage?: ResponseUsage }
  | { type: "failed"; error: ResponseFailure };

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Parses `response.usage` the way codex maps it into `turn.completed`. */
export function parseUsage(raw: unknown): ResponseUsage | undefined {
  if (!raw || typeof raw !== "object") return undefined;
  const u = raw as Record<string, Record<string, unknown> | unknown>;
  const inputDetails = (u.input_tokens_details ?? {}) as Record<string, unknown>;
  const outputDetails = (u.output_tokens_details ?? {}) as Record<string, unknown>;
  return {
    input_tokens: num(u.input_tokens),
    cached_input_tokens: num(inputDetails.cached_tokens),
    output_tokens: num(u.output_tokens),
    reasoning_output_tokens: num(outputDetails.reasoning_tokens),
    total_tokens: num(u.total_tokens),
  };
}

/** The text of an assistant `message` output item (its `output_text` parts). */
export function messageText(item: Record<string, unknown>): string | undefined {
  if (item.type !== "message" || (item.role !== undefined && item.role !== "assistant")) {
    return undefined;
  }
  if (!Array.isArray(item.content)) return "";
  return item.content
    .filter((part) => part && typeof part === "object" && part.type === "output_text")
    .map((part) => str(part.text) ?? "")
    .join("");
}

/** A malformed event: the server sent something that is not the Responses protocol. */
export class ProtocolError extends Error {
  /** `message` says what was malformed. */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/**
 * Interprets one SSE event of the Responses stream. The type comes from the
 * JSON `type` (as codex reads it), not from the SSE `event` field. Returns
 * undefined for events cdx ignores.
 */
export function interpretEvent(sse: SseEvent): ModelEvent | undefined {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(sse.data);
  } catch {
    if (sse.data.trim() === "[DONE]") return undefined;
    // Not quoted: a cut through a server's echo could leave part of a credential unmasked.
    throw new ProtocolError(
      `the server sent an event that is not JSON (${sse.data.length} characters of data)`,
    );
  }
  if (!json || typeof json !== "object") return undefined;
  // The hot case first, before anything else is looked at: one per token.
  if (json.type === "response.output_text.delta") {
    return { type: "text_delta", itemId: str(json.item_id), delta: str(json.delta) ?? "" };
  }
  const response = (json.response ?? {}) as Record<string, unknown>;
  switch (json.type) {
    case "response.created":
      return { type: "created", responseId: str(response.id) };
    case "response.output_item.done": {
      const item = (json.item ?? {}) as Record<string, unknown>;
      const text = messageText(item);
      return text === undefined ? undefined : { type: "message_done", itemId: str(item.id), text };
    }
    case "response.completed":
      return { type: "completed", responseId: str(response.id), usage: parseUsage(response.usage) };
    case "response.failed": {
      return failedEvent(
        response.error ?? json.error,
        "the model reported a failure without a message",
      );
    }
    case "response.incomplete": {
      const details = (response.incomplete_details ?? {}) as Record<string, unknown>;
      return {
        type: "failed",
        error: {
          code: "incomplete",
          message: `the response is incomplete (${str(details.reason) ?? "no reason given"})`,
        },
      };
    }
    case "error": {
      // Some servers send a bare `error` event instead of response.failed.
      return failedEvent(json.error ?? json, "the model reported an error");
    }
    default:
      return undefined;
  }
}

/** A `failed` event from a server error object (`{type, code, message}`). */
function failedEvent(raw: unknown, fallbackMessage: string) {
  const error = (raw ?? {}) as Record<string, unknown>;
  return {
    type: "failed" as const,
    error: {
      type: str(error.type),
      code: str(error.code),
      message: str(error.message) ?? fallbackMessage,
    },
  };
}

/** A codex exec `--json` event (one JSONL line). */
export type ExecEvent =
  | { type: "thread.started"; thread_id: string }
  | { type: "turn.started" }
  | { type: "item.completed"; item: { id: string; type: "agent_message"; text: string } }
  | {
    type: "turn.completed";
    usage: {
      input_tokens: number;
      cached_input_tokens: number;
      cache_write_input_tokens: number;
      output_tokens: number;
      reasoning_output_tokens: number;
    };
  }
  | { type: "turn.failed"; error: { message: string } }
  | { type: "error"; message: string };

/**
 * Builds codex exec's JSONL events. Item ids count up like codex's
 * (`item_0`, `item_1`, …).
 *
 * @example
 * ```ts
 * const jsonl = new ExecEventWriter("0199…");
 * jsonl.threadStarted(); // {"type":"thread.started","thread_id":"0199…"}
 * ```
 */
export class ExecEventWriter {
  #nextItem = 0;
  /** Events of the thread `threadId` (the session id). */
  constructor(readonly threadId: string) {}

  /** `thread.started`. */
  threadStarted(): ExecEvent {
    return { type: "thread.started", thread_id: this.threadId };
  }

  /** `turn.started`. */
  turnStarted(): ExecEvent {
    return { type: "turn.started" };
  }

  /** `item.completed` with an agent message. */
  agentMessage(text: string): ExecEvent {
    return {
      type: "item.completed",
      item: { id: `item_${this.#nextItem++}`, type: "agent_message", text },
    };
  }

  /** `turn.completed` with usage (zeros when the server reported none). */
  turnCompleted(usage?: ResponseUsage): ExecEvent {
    return {
      type: "turn.completed",
      usage: {
        input_tokens: usage?.input_tokens ?? 0,
        cached_input_tokens: usage?.cached_input_tokens ?? 0,
        cache_write_input_tokens: 0,
        output_tokens: usage?.output_tokens ?? 0,
        reasoning_output_tokens: usage?.reasoning_output_tokens ?? 0,
      },
    };
  }

  /** `turn.failed`. */
  turnFailed(message: string): ExecEvent {
    return { type: "turn.failed", error: { message } };
  }

  /** `error` (a non-item error, e.g. a stream error). */
  error(message: string): ExecEvent {
    return { type: "error", message };
  }
}

/** One JSONL line (with its newline). */
export function jsonLine(event: ExecEvent): string {
  return JSON.stringify(event) + "\n";
}
