/**
 * A local stand-in for the Responses API (`POST {base}/responses`, SSE) that
 * speaks the wire format of codex-interop.md §10: `event:` + `data:` JSON
 * lines, the JSON `type` repeated in the payload, `response.created` →
 * `output_item.added` → `output_text.delta`… → `output_item.done` →
 * `response.completed` with usage. Each request is answered by the next step
 * of a script, so tests can stage 5xx, 429, 401, failures, cuts and slow
 * streams. Every request is recorded for header/body assertions.
 *
 * Run standalone (demo, benchmarks, peer checks):
 * `deno run -A tests/fakes/responses_server.ts [--deltas N] [--text T] [--delay MS]`
 * prints the base URL on stdout and serves the normal scenario until killed.
 *
 * @module
 */

/** One scripted answer. */
export interface ScriptedResponse {
  /** HTTP status (default 200). */
  status?: number;
  /** Response headers (default for 200: `content-type: text/event-stream`). */
  headers?: Record<string, string>;
  /** Body pieces, each written separately (flushed as its own HTTP chunk). */
  chunks?: Array<string | Uint8Array>;
  /** Wait this long before each chunk (a slow model). */
  chunkDelayMs?: number;
  /** After the chunks: `"close"` ends the body (default), `"reset"` aborts it mid-stream, `"hang"` never ends it. */
  end?: "close" | "reset" | "hang";
  /** Hold the body until this settles (the headers go out at once): a test releases the stream. */
  gate?: Promise<unknown>;
}

/** A request the fake received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

/** A running fake. */
export interface FakeResponsesServer {
  /** Base URL to pass as `--base-url` / `OPENAI_BASE_URL` (`http://127.0.0.1:<port>/v1`). */
  baseUrl: string;
  port: number;
  /** Every request, in order (POST /responses and anything else). */
  requests: RecordedRequest[];
  /** Only the POST /responses requests. */
  responseRequests(): RecordedRequest[];
  /** Stops the server and ends any open streams. */
  close(): Promise<void>;
}

/** Options of {@linkcode startResponsesServer}. */
export interface StartOptions {
  /** Extra endpoints by path (e.g. a token endpoint at `/oauth/token` for refresh tests). */
  routes?: Record<string, (request: RecordedRequest) => Response | Promise<Response>>;
}

/** A script: a list (one step per POST, the last repeats) or a function of the request number. */
export type Script =
  | ScriptedResponse[]
  | ((index: number, request: RecordedRequest) => ScriptedResponse);

const encoder = new TextEncoder();

/**
 * Starts the fake on 127.0.0.1, port 0.
 *
 * @example
 * ```ts
 * await using server = startResponsesServer([serverError(503), normalStream("Hello")]);
 * // cdx run --base-url ${server.baseUrl} hi
 * ```
 */
export function startResponsesServer(
  script: Script,
  options: StartOptions = {},
): FakeResponsesServer & AsyncDisposable {
  const requests: RecordedRequest[] = [];
  const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let posts = 0;
  let closed = false;
  const shutdown = new AbortController();

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {}, signal: shutdown.signal },
    async (req) => {
      const url = new URL(req.url);
      const recorded: RecordedRequest = {
        method: req.method,
        path: url.pathname + url.search,
        headers: req.headers,
        body: req.method === "POST" ? await req.text() : "",
      };
      requests.push(recorded);
      const route = options.routes?.[url.pathname];
      if (route) return await route(recorded);
      // codex tries a WebSocket upgrade first; refusing it makes it fall back to HTTP+SSE.
      if (req.method !== "POST" || !url.pathname.endsWith("/responses")) {
        if (url.pathname.endsWith("/models")) return Response.json({ models: [] });
        return new Response("not found", { status: 404 });
      }
      const index = posts++;
      const step = typeof script === "function"
        ? script(index, recorded)
        : script[Math.min(index, script.length - 1)];
      const status = step.status ?? 200;
      const headers = new Headers(
        step.headers ??
          (status === 200
            ? { "content-type": "text/event-stream", "cache-control": "no-cache" }
            : { "content-type": "application/json" }),
      );
      const chunks = (step.chunks ?? []).map((c) => typeof c === "string" ? encoder.encode(c) : c);
      let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controllerRef = controller;
          open.add(controller);
          try {
            if (step.gate) await step.gate;
            for (const chunk of chunks) {
              if (step.chunkDelayMs) await wait(step.chunkDelayMs);
              if (closed) break;
              controller.enqueue(chunk);
            }
            if (closed) return controller.close();
            const end = step.end ?? "close";
            if (end === "close") {
              open.delete(controller);
              controller.close();
            } else if (end === "reset") {
              // Let the chunks reach the client first: erroring drops what is still queued.
              await wait(50);
              open.delete(controller);
              controller.error(new Error("fake: connection reset"));
            }
            // "hang": left open until close() or the client goes away.
          } catch {
            // The client went away.
            open.delete(controller);
          }
        },
        cancel() {
          if (controllerRef) open.delete(controllerRef);
        },
      });
      return new Response(body, { status, headers });
    },
  );
  const port = server.addr.port;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const c of open) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    open.clear();
    shutdown.abort();
    await server.finished;
  };
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    responseRequests: () =>
      requests.filter((r) => r.method === "POST" && r.path.split("?")[0].endsWith("/responses")),
    close,
    [Symbol.asyncDispose]: close,
  };
}

// ---------------------------------------------------------------------------
// Wire format

/** One SSE event as the Responses API writes it: `event: <type>` then `data: <json>`. */
export function sseEvent(type: string, payload: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
}

/** Usage as `response.completed` reports it. */
export const DEFAULT_USAGE = {
  input_tokens: 12,
  input_tokens_details: { cached_tokens: 4 },
  output_tokens: 7,
  output_tokens_details: { reasoning_tokens: 2 },
  total_tokens: 19,
};

/** Options of {@linkcode responseEvents}. */
export interface StreamShape {
  responseId?: string;
  messageId?: string;
  model?: string;
  usage?: Record<string, unknown>;
  /** Leave out `response.completed` (a stream that ends early). */
  omitCompleted?: boolean;
  /** Leave out the `output_item.done` (deltas only). */
  omitItemDone?: boolean;
}

/** The events of a successful answer whose text arrives as `deltas`. */
export function responseEvents(deltas: string[], shape: StreamShape = {}): string[] {
  const responseId = shape.responseId ?? "resp_fake_1";
  const messageId = shape.messageId ?? "msg_fake_1";
  const model = shape.model ?? "gpt-fake";
  const text = deltas.join("");
  let seq = 0;
  const ev = (type: string, payload: Record<string, unknown>) =>
    sseEvent(type, { ...payload, sequence_number: seq++ });
  const base = { id: responseId, object: "response", model, status: "in_progress", output: [] };
  const message = (content: unknown[], status: string) => ({
    id: messageId,
    type: "message",
    status,
    role: "assistant",
    content,
  });
  const part = { type: "output_text", text, annotations: [] };
  const events = [
    ev("response.created", { response: base }),
    ev("response.in_progress", { response: base }),
    ev("response.output_item.added", { output_index: 0, item: message([], "in_progress") }),
    ev("response.content_part.added", {
      item_id: messageId,
      output_index: 0,
      content_index: 0,
      part: { type: "output_text", text: "", annotations: [] },
    }),
    ...deltas.map((delta) =>
      ev("response.output_text.delta", {
        item_id: messageId,
        output_index: 0,
        content_index: 0,
        delta,
      })
    ),
    ev("response.output_text.done", {
      item_id: messageId,
      output_index: 0,
      content_index: 0,
      text,
    }),
    ev("response.content_part.done", {
      item_id: messageId,
      output_index: 0,
      content_index: 0,
      part,
    }),
  ];
  if (!shape.omitItemDone) {
    events.push(
      ev("response.output_item.done", { output_index: 0, item: message([part], "completed") }),
    );
  }
  if (!shape.omitCompleted) {
    events.push(ev("response.completed", {
      response: {
        ...base,
        status: "completed",
        output: [message([part], "completed")],
        usage: shape.usage ?? DEFAULT_USAGE,
      },
    }));
  }
  return events;
}

/** Splits text into deltas of about `size` characters. */
export function splitText(text: string, size = 4): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------
// Scenarios

/** The answer the scenarios send unless told otherwise. */
export const DEFAULT_TEXT = "Hello from the fake model. Ünïcödé ✓ works too.";

/** A normal stream, one event per chunk. */
export function normalStream(text = DEFAULT_TEXT, shape: StreamShape = {}): ScriptedResponse {
  return { chunks: responseEvents(splitText(text), shape) };
}

/** The same stream written one byte per chunk (events split at every byte boundary). */
export function bytewiseStream(text = DEFAULT_TEXT): ScriptedResponse {
  const bytes = encoder.encode(responseEvents(splitText(text)).join(""));
  return { chunks: Array.from(bytes, (b) => Uint8Array.of(b)) };
}

/** A slow stream: one delta every `delayMs`, never finishing until closed (Ctrl-C tests). */
export function slowStream(delayMs = 100, deltas = 1000): ScriptedResponse {
  const events = responseEvents(Array.from({ length: deltas }, (_, i) => `w${i} `));
  return { chunks: events, chunkDelayMs: delayMs, end: "hang" };
}

/** A JSON API error with `status`. */
export function apiError(
  status: number,
  message: string,
  extra: { code?: string; type?: string; headers?: Record<string, string> } = {},
): ScriptedResponse {
  return {
    status,
    headers: { "content-type": "application/json", ...extra.headers },
    chunks: [JSON.stringify({
      error: { message, type: extra.type ?? "server_error", code: extra.code ?? null, param: null },
    })],
  };
}

/** A 5xx error. */
export function serverError(status = 503): ScriptedResponse {
  return apiError(status, "The server is overloaded. Please retry.", {
    code: "server_is_overloaded",
  });
}

/** A 429 with `Retry-After: <seconds>`. */
export function rateLimited(
  retryAfterSeconds: number | undefined,
  message?: string,
): ScriptedResponse {
  return apiError(429, message ?? "Rate limit reached for requests.", {
    type: "rate_limit_exceeded",
    code: "rate_limit_exceeded",
    headers: retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) },
  });
}

/** A 401. */
export function unauthorized(): ScriptedResponse {
  return apiError(401, "Incorrect API key provided.", {
    type: "invalid_request_error",
    code: "invalid_api_key",
  });
}

/** A stream that reports `response.failed` after some text. */
export function failedStream(code = "context_length_exceeded", message?: string): ScriptedResponse {
  const events = responseEvents(["partial "], { omitCompleted: true, omitItemDone: true });
  events.push(sseEvent("response.failed", {
    sequence_number: 99,
    response: {
      id: "resp_fake_1",
      status: "failed",
      error: { code, message: message ?? "Your input exceeds the context window of this model." },
    },
  }));
  return { chunks: events };
}

/** A stream cut before `response.completed`: text, then the body ends (or resets). */
export function cutStream(
  text = "Half an answ",
  end: "close" | "reset" = "close",
): ScriptedResponse {
  return {
    chunks: responseEvents(splitText(text), { omitCompleted: true, omitItemDone: true }),
    end,
  };
}

/** A proxy's HTML error page. */
export function htmlErrorPage(status = 502): ScriptedResponse {
  return {
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
    chunks: [
      "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>" +
      "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n",
    ],
  };
}

/**
 * A stream that sends nothing but SSE comments (`: keep-alive`) every
 * `intervalMs`, forever: only `--idle-timeout` can end it.
 */
export function keepAliveOnly(intervalMs = 50): ScriptedResponse {
  return { chunks: Array(100_000).fill(": keep-alive\n\n"), chunkDelayMs: intervalMs, end: "hang" };
}

/** `count` deltas, rendered once (benchmarks). */
export function manyDeltas(count: number): ScriptedResponse {
  const deltas = Array.from({ length: count }, (_, i) => `tok${i % 10} `);
  return { chunks: responseEvents(deltas) };
}

if (import.meta.main) {
  const args = Deno.args;
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const deltas = arg("--deltas");
  const delayMs = Number(arg("--delay") ?? 0);
  const step: ScriptedResponse = deltas
    ? manyDeltas(Number(deltas))
    : normalStream(arg("--text") ?? DEFAULT_TEXT);
  if (delayMs) step.chunkDelayMs = delayMs;
  const server = startResponsesServer(() => step);
  // deno-lint-ignore no-console
  console.log(server.baseUrl);
}
