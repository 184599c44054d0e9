import assert from "node:assert/strict";
import { CancelledError, TimeoutError } from "../lib/cancel.ts";
import { CdxError } from "../lib/errors.ts";
import { backoffMs } from "../lib/retry.ts";
import {
  type AuthProvider,
  buildResponsesRequest,
  type ModelAuth,
  ModelError,
  type ModelEvent,
  parseRetryAfter,
  parseTryAgainIn,
  type StreamOptions,
  streamResponse,
} from "../lib/model/mod.ts";
import {
  apiError,
  bytewiseStream,
  cutStream,
  DEFAULT_TEXT,
  failedStream,
  htmlErrorPage,
  normalStream,
  rateLimited,
  type Script,
  serverError,
  slowStream,
  startResponsesServer,
  unauthorized,
} from "./fakes/responses_server.ts";

const KEY = "sk-test-client-key-0001";

function staticAuth(auth: ModelAuth = { kind: "apikey", apiKey: KEY, source: "env" }) {
  const recovered: ModelAuth[] = [];
  const provider: AuthProvider & { recovered: ModelAuth[] } = {
    recovered,
    get: () => Promise.resolve(auth),
    recover: (failed) => {
      recovered.push(failed);
      return Promise.resolve(undefined);
    },
  };
  return provider;
}

interface Run {
  events: ModelEvent[];
  text: string;
  sleeps: number[];
  retries: string[];
  requests: number;
  headers: Headers[];
  bodies: unknown[];
  result?: Awaited<ReturnType<typeof streamResponse>>;
  error?: unknown;
}

/** Runs streamResponse against a fresh fake with `script`; sleeps are recorded, not waited. */
async function run(
  script: Script,
  overrides: Partial<StreamOptions> & { realSleep?: boolean } = {},
): Promise<Run> {
  await using server = startResponsesServer(script);
  const out: Run = {
    events: [],
    text: "",
    sleeps: [],
    retries: [],
    requests: 0,
    headers: [],
    bodies: [],
  };
  const { realSleep, ...rest } = overrides;
  try {
    out.result = await streamResponse({
      fetch,
      auth: staticAuth(),
      signal: new AbortController().signal,
      idleTimeoutMs: 10_000,
      buildRequest: (auth) =>
        buildResponsesRequest({
          auth,
          baseUrl: server.baseUrl,
          model: "gpt-test",
          prompt: "say hi",
          sessionId: "00000000-0000-4000-8000-000000000001",
          version: "9.9.9-test",
          os: "linux",
          arch: "x86_64",
        }),
      onEvents: (events) => {
        out.events.push(...events);
        for (const e of events) if (e.type === "text_delta") out.text += e.delta;
        return Promise.resolve();
      },
      onRetry: (n) => {
        out.retries.push(n.reason);
      },
      ...(realSleep ? {} : {
        sleep: (ms: number) => {
          out.sleeps.push(ms);
          return Promise.resolve();
        },
      }),
      random: () => 0.5,
      ...rest,
    });
  } catch (error) {
    out.error = error;
  }
  const posts = server.responseRequests();
  out.requests = posts.length;
  out.headers = posts.map((r) => r.headers);
  out.bodies = posts.map((r) => JSON.parse(r.body));
  return out;
}

Deno.test("a normal stream delivers the deltas, the message and the usage", async () => {
  const r = await run([normalStream()]);
  assert.equal(r.error, undefined);
  assert.equal(r.text, DEFAULT_TEXT);
  const done = r.events.find((e) => e.type === "message_done");
  assert.deepEqual(done, { type: "message_done", itemId: "msg_fake_1", text: DEFAULT_TEXT });
  assert.deepEqual(r.result, {
    responseId: "resp_fake_1",
    usage: {
      input_tokens: 12,
      cached_input_tokens: 4,
      output_tokens: 7,
      reasoning_output_tokens: 2,
      total_tokens: 19,
    },
  });
  assert.equal(r.requests, 1);
});

Deno.test("the request carries codex exec's headers and the minimal streaming body", async () => {
  const r = await run([normalStream()]);
  const h = r.headers[0];
  assert.equal(h.get("authorization"), `Bearer ${KEY}`);
  assert.equal(h.get("accept"), "text/event-stream");
  assert.equal(h.get("content-type"), "application/json");
  assert.equal(h.get("originator"), "codex_exec");
  assert.match(
    h.get("user-agent")!,
    /^cdx\/9\.9\.9-test \(linux; x86_64\) \(codex_exec; 9\.9\.9-test\)$/,
  );
  assert.equal(h.get("session-id"), "00000000-0000-4000-8000-000000000001");
  assert.equal(h.get("chatgpt-account-id"), null);
  const body = r.bodies[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ["input", "instructions", "model", "store", "stream"]);
  assert.equal(body.model, "gpt-test");
  assert.equal(body.stream, true);
  assert.equal(body.store, false);
  assert.equal(typeof body.instructions, "string");
  assert.deepEqual(body.input, [{
    type: "message",
    role: "user",
    content: [{ type: "input_text", text: "say hi" }],
  }]);
});

Deno.test("API keys go to api.openai.com, ChatGPT tokens to the codex backend with the account id", () => {
  const common = {
    model: "m",
    prompt: "p",
    sessionId: "s",
    version: "1",
    os: "linux",
    arch: "x86_64",
  };
  const key = buildResponsesRequest({
    ...common,
    auth: { kind: "apikey", apiKey: "sk-1234567", source: "stored" },
    organization: "org-1",
  });
  assert.equal(key.url, "https://api.openai.com/v1/responses");
  assert.equal(key.headers.get("openai-organization"), "org-1");
  const chatgpt = buildResponsesRequest({
    ...common,
    auth: { kind: "chatgpt", accessToken: "at-123456789", accountId: "acc-42" },
  });
  assert.equal(chatgpt.url, "https://chatgpt.com/backend-api/codex/responses");
  assert.equal(chatgpt.headers.get("authorization"), "Bearer at-123456789");
  assert.equal(chatgpt.headers.get("chatgpt-account-id"), "acc-42");
  const custom = buildResponsesRequest({
    ...common,
    baseUrl: "http://127.0.0.1:9/v1/",
    auth: { kind: "chatgpt", accessToken: "at-123456789" },
  });
  assert.equal(custom.url, "http://127.0.0.1:9/v1/responses");
});

Deno.test("a stream written one byte per chunk gives the same text", async () => {
  const r = await run([bytewiseStream()]);
  assert.equal(r.error, undefined);
  assert.equal(r.text, DEFAULT_TEXT);
});

Deno.test("a stream re-chunked at every byte by the transport gives the same text and events", async () => {
  const whole = await run([normalStream()]);
  const bytewiseFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const bytes = new Uint8Array(await res.arrayBuffer());
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i < bytes.length) c.enqueue(bytes.slice(i, ++i));
        else c.close();
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  const split = await run([normalStream()], { fetch: bytewiseFetch });
  assert.equal(split.text, DEFAULT_TEXT);
  assert.deepEqual(split.events, whole.events);
  assert.deepEqual(split.result, whole.result);
});

Deno.test("5xx then success: retried with exponential backoff, text printed once", async () => {
  const r = await run([serverError(503), serverError(500), normalStream()]);
  assert.equal(r.error, undefined);
  assert.equal(r.requests, 3);
  assert.equal(r.text, DEFAULT_TEXT);
  assert.deepEqual(r.sleeps, [backoffMs(1, {}, () => 0.5), backoffMs(2, {}, () => 0.5)]);
  assert.deepEqual(r.retries, ["HTTP 503", "HTTP 500"]);
});

Deno.test("5xx gives up after 4 retries with the server's message", async () => {
  const r = await run([serverError(502)]);
  assert.equal(r.requests, 5);
  assert.equal(r.sleeps.length, 4);
  assert.ok(r.error instanceof ModelError);
  assert.match(r.error.message, /HTTP 502.*overloaded.*gave up after 4 retries/);
});

Deno.test("network errors are retried like 5xx", async () => {
  let calls = 0;
  const flaky: typeof fetch = (input, init) =>
    ++calls === 1 ? Promise.reject(new TypeError("connection refused")) : fetch(input, init);
  const r = await run([normalStream()], { fetch: flaky });
  assert.equal(r.error, undefined);
  assert.equal(calls, 2);
  assert.equal(r.sleeps.length, 1);
});

Deno.test("429 waits as long as Retry-After says", async () => {
  const r = await run([rateLimited(3), normalStream()]);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.sleeps, [3000]);
  assert.equal(r.text, DEFAULT_TEXT);
});

Deno.test("429 without Retry-After honours 'try again in N s' in the message", async () => {
  const r = await run([
    rateLimited(undefined, "Rate limit reached. Please try again in 1.5s."),
    normalStream(),
  ]);
  assert.deepEqual(r.sleeps, [1500]);
  assert.equal(r.requests, 2);
});

Deno.test("429 asking for a very long wait fails at once instead of hanging", async () => {
  const r = await run([rateLimited(3600)]);
  assert.equal(r.requests, 1);
  assert.ok(r.error instanceof ModelError);
  assert.match(r.error.message, /wait 3600 s/);
});

Deno.test("429 usage_limit_reached is not retried", async () => {
  const r = await run([
    apiError(429, "You've hit your usage limit.", { code: "usage_limit_reached" }),
  ]);
  assert.equal(r.requests, 1);
  assert.ok(r.error instanceof ModelError);
});

Deno.test("Retry-After and 'try again in' parsing", () => {
  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter("0.5"), 500);
  assert.equal(
    parseRetryAfter("Thu, 26 Nov 2026 07:00:10 GMT", Date.UTC(2026, 10, 26, 7, 0, 0)),
    10_000,
  );
  assert.equal(parseRetryAfter("soon"), undefined);
  assert.equal(parseTryAgainIn("Please try again in 20ms."), 20);
  assert.equal(parseTryAgainIn("try again in 3 seconds"), 3000);
  assert.equal(parseTryAgainIn("no hint"), undefined);
});

Deno.test("401 then success after recovery: the retry carries the recovered token", async () => {
  const recovered: ModelAuth[] = [];
  const auth: AuthProvider = {
    get: () => Promise.resolve({ kind: "chatgpt", accessToken: "at-old-123456", accountId: "a1" }),
    recover: (failed) => {
      recovered.push(failed);
      return Promise.resolve({ kind: "chatgpt", accessToken: "at-new-654321", accountId: "a1" });
    },
  };
  const r = await run([unauthorized(), normalStream()], { auth });
  assert.equal(r.error, undefined);
  assert.equal(r.text, DEFAULT_TEXT);
  assert.deepEqual(recovered.map((a) => a.kind === "chatgpt" && a.accessToken), ["at-old-123456"]);
  assert.deepEqual(r.headers.map((h) => h.get("authorization")), [
    "Bearer at-old-123456",
    "Bearer at-new-654321",
  ]);
  assert.equal(r.headers[1].get("chatgpt-account-id"), "a1");
  assert.equal(r.sleeps.length, 0);
});

Deno.test("401 without recovery ends with 'log in again'; an env key says which variable", async () => {
  const stored = await run([unauthorized()], {
    auth: staticAuth({ kind: "chatgpt", accessToken: "at-xyz-123456" }),
  });
  assert.ok(stored.error instanceof CdxError);
  assert.match(stored.error.message, /refused \(HTTP 401\)/);
  assert.match(stored.error.hint!, /log in again/);
  assert.equal(stored.error.exitCode, 1);
  const env = await run([unauthorized()]);
  assert.ok(env.error instanceof CdxError);
  assert.match(env.error.hint!, /CODEX_API_KEY/);
  assert.doesNotMatch(env.error.message, new RegExp(KEY));
});

Deno.test("the one 401 recovery: a second 401 after recovering is final, recover is asked once", async () => {
  let n = 0;
  const auth: AuthProvider = {
    get: () => Promise.resolve({ kind: "chatgpt", accessToken: "at-0-abcdef" }),
    recover: () => Promise.resolve({ kind: "chatgpt", accessToken: `at-${++n}-abcdef` }),
  };
  const r = await run([unauthorized()], { auth });
  assert.equal(n, 1);
  assert.deepEqual(r.headers.map((h) => h.get("authorization")), [
    "Bearer at-0-abcdef",
    "Bearer at-1-abcdef",
  ]);
  assert.ok(r.error instanceof CdxError);
  assert.match(r.error.hint!, /log in again/);
  assert.equal(r.sleeps.length, 0);
});

Deno.test("a 401 after a retried 503 still gets its one recovery; a later 401 does not get another", async () => {
  let recoveries = 0;
  const auth: AuthProvider = {
    get: () => Promise.resolve({ kind: "chatgpt", accessToken: "at-first-000" }),
    recover: () => {
      recoveries++;
      return Promise.resolve({ kind: "chatgpt", accessToken: "at-second-000" });
    },
  };
  const ok = await run([serverError(503), unauthorized(), normalStream()], { auth });
  assert.equal(ok.error, undefined);
  assert.equal(recoveries, 1);
  assert.equal(ok.text, DEFAULT_TEXT);
  recoveries = 0;
  const final = await run([unauthorized(), serverError(503), unauthorized()], { auth });
  assert.equal(recoveries, 1);
  assert.equal(final.requests, 3);
  assert.ok(final.error instanceof CdxError);
  assert.match(final.error.message, /refused \(HTTP 401\)/);
});

Deno.test("response.failed ends with the model's message and code, after the text it sent", async () => {
  const r = await run([failedStream("context_length_exceeded")]);
  assert.equal(r.requests, 1);
  assert.equal(r.text, "partial ");
  assert.ok(r.error instanceof ModelError);
  assert.equal(r.error.code, "context_length_exceeded");
  assert.match(r.error.message, /context window.*\(context_length_exceeded\)/);
});

Deno.test("a retryable response.failed before any text is retried", async () => {
  const failedEarly = {
    chunks: [
      'event: response.failed\ndata: {"type":"response.failed","response":{"error":' +
      '{"code":"server_error","message":"Oops. Please try again in 2s."}}}\n\n',
    ],
  };
  const r = await run([failedEarly, normalStream()]);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.sleeps, [2000]);
  assert.equal(r.text, DEFAULT_TEXT);
});

Deno.test("a stream cut after text is an error and is never retried (no text twice)", async () => {
  for (const end of ["close", "reset"] as const) {
    const r = await run([cutStream("Half an answ", end), normalStream()]);
    assert.equal(r.requests, 1, end);
    assert.equal(r.text, "Half an answ");
    assert.ok(r.error instanceof ModelError, end);
    if (end === "close") assert.match(r.error.message, /stream closed before response\.completed/);
  }
});

Deno.test("a stream cut before any text is retried", async () => {
  const r = await run([cutStream(""), normalStream()]);
  assert.equal(r.error, undefined);
  assert.equal(r.requests, 2);
  assert.equal(r.text, DEFAULT_TEXT);
});

Deno.test("an HTML error page is reported as such, with its title", async () => {
  const r = await run([htmlErrorPage(502)], { policy: { maxRetries: 1 } });
  assert.equal(r.requests, 2);
  assert.ok(r.error instanceof ModelError);
  assert.match(r.error.message, /HTTP 502.*HTML page \("502 Bad Gateway"\)/);
  const ok200 = await run([{
    headers: { "content-type": "text/html" },
    chunks: ["<html></html>"],
  }]);
  assert.ok(ok200.error instanceof ModelError);
  assert.match(ok200.error.message, /expected an event stream, got an HTML page/);
});

Deno.test("no event for --idle-timeout ends with TimeoutError", async () => {
  const r = await run([slowStream(2000)], { idleTimeoutMs: 150 });
  assert.ok(r.error instanceof TimeoutError);
  assert.match(r.error.message, /--idle-timeout/);
});

Deno.test("--timeout bounds the whole call, retry sleeps included", async () => {
  const r = await run([rateLimited(30)], { timeoutMs: 200, realSleep: true });
  assert.ok(r.error instanceof TimeoutError, String(r.error));
  assert.match(r.error.message, /--timeout/);
});

Deno.test("aborting the signal mid-stream rejects with CancelledError and keeps delivered text", async () => {
  const controller = new AbortController();
  let deltas = 0;
  const r = await run([slowStream(20)], {
    signal: controller.signal,
    onEvents: (events) => {
      deltas += events.filter((e) => e.type === "text_delta").length;
      if (deltas >= 3) controller.abort(new Error("test abort"));
      return Promise.resolve();
    },
  });
  assert.ok(r.error instanceof CancelledError, String(r.error));
  assert.equal(deltas, 3);
});

Deno.test("a retry sleep is cancelled by the signal", async () => {
  const controller = new AbortController();
  const r = await run([rateLimited(60)], {
    signal: controller.signal,
    realSleep: true,
    onRetry: () => {
      setTimeout(() => controller.abort(new Error("stop")), 10);
    },
  });
  assert.ok(r.error instanceof CancelledError, String(r.error));
});

Deno.test("a credential error from the provider keeps its message and is not retried", async () => {
  const auth: AuthProvider = {
    get: () => Promise.reject(new CdxError("not logged in", { hint: "run `cdx login`" })),
    recover: () => Promise.resolve(undefined),
  };
  const r = await run([normalStream()], { auth });
  assert.ok(r.error instanceof CdxError);
  assert.equal(r.error.message, "not logged in");
  assert.equal(r.requests, 0);
});
