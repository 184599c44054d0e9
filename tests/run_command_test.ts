import assert from "node:assert/strict";
import {
  type Context,
  createTestContext,
  mapEnv,
  memoryInput,
  MemoryOutput,
} from "../lib/context.ts";
import { CdxError, ExitCode, UsageError } from "../lib/errors.ts";
import { DEFAULT_MODEL } from "../lib/model/mod.ts";
import { type RunCommandOptions, runRun } from "../commands/run.ts";
import { CoalescingWriter } from "../lib/io.ts";
import { tempHome } from "./helpers/auth_context.ts";
import {
  cutStream,
  DEFAULT_TEXT,
  failedStream,
  normalStream,
  rateLimited,
  responseEvents,
  type Script,
  sseEvent,
  startResponsesServer,
} from "./fakes/responses_server.ts";

const KEY = "sk-test-command-key-42";

/** Options as the parser gives them: every repeatable option an array. */
function runOptions(options: Partial<RunCommandOptions>): RunCommandOptions {
  return { command: "run", images: [], config: [], ...options } as RunCommandOptions;
}

interface Outcome {
  code?: number;
  error?: unknown;
  stdout: string;
  stderr: string;
  bodies: Record<string, unknown>[];
  headers: Headers[];
  ctx: Context;
}

async function runWith(
  script: Script,
  options: Partial<RunCommandOptions>,
  setup: {
    env?: Record<string, string>;
    stdin?: string;
    tty?: boolean;
    config?: Record<string, unknown>;
    useBaseUrlEnv?: boolean;
  } = {},
): Promise<Outcome> {
  await using server = startResponsesServer(script);
  await using home = await tempHome();
  const ctx = createTestContext({
    globals: { codexHome: home.path },
    env: mapEnv({
      OPENAI_API_KEY: KEY,
      ...(setup.useBaseUrlEnv ? { OPENAI_BASE_URL: server.baseUrl } : {}),
      ...setup.env,
    }),
    stdin: memoryInput(setup.stdin ?? "", setup.tty ?? true),
    fetch: globalThis.fetch.bind(globalThis),
    config: { path: "/x/config.toml", values: setup.config ?? {} },
  });
  const outcome: Outcome = { stdout: "", stderr: "", bodies: [], headers: [], ctx };
  try {
    outcome.code = await runRun(
      ctx,
      runOptions({
        prompt: "say hi",
        baseUrl: setup.useBaseUrlEnv ? undefined : server.baseUrl,
        ...options,
      }),
    );
  } catch (error) {
    outcome.error = error;
  }
  outcome.stdout = (ctx.stdout as MemoryOutput).text();
  outcome.stderr = (ctx.stderr as MemoryOutput).text();
  outcome.bodies = server.responseRequests().map((r) => JSON.parse(r.body));
  outcome.headers = server.responseRequests().map((r) => r.headers);
  return outcome;
}

function userText(body: Record<string, unknown>): string {
  const input = body.input as Array<{ content: Array<{ text: string }> }>;
  return input[0].content[0].text;
}

Deno.test("the answer goes to stdout, ended by a newline; stderr stays quiet", async () => {
  const r = await runWith([normalStream()], {});
  assert.equal(r.error, undefined);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${DEFAULT_TEXT}\n`);
  assert.equal(r.stderr, "");
});

Deno.test("--json prints codex exec's JSONL events", async () => {
  const r = await runWith([normalStream()], { json: true });
  assert.equal(r.code, 0);
  const events = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.type), [
    "thread.started",
    "turn.started",
    "item.completed",
    "turn.completed",
  ]);
  assert.match(events[0].thread_id, /^[0-9a-f-]{36}$/);
  assert.equal(r.headers[0].get("session-id"), events[0].thread_id);
  assert.deepEqual(events[2].item, { id: "item_0", type: "agent_message", text: DEFAULT_TEXT });
  assert.deepEqual(events[3].usage, {
    input_tokens: 12,
    cached_input_tokens: 4,
    cache_write_input_tokens: 0,
    output_tokens: 7,
    reasoning_output_tokens: 2,
  });
});

Deno.test("--json failure prints turn.failed and still fails", async () => {
  const r = await runWith([failedStream()], { json: true });
  assert.ok(r.error instanceof CdxError);
  const events = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  const last = events.at(-1);
  assert.equal(last.type, "turn.failed");
  assert.match(last.error.message, /context window/);
});

Deno.test("-o FILE writes the last message; without one an empty file and a warning", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/last.txt`;
    const r = await runWith([normalStream()], { outputLastMessage: path });
    assert.equal(r.code, 0);
    assert.equal(await Deno.readTextFile(path), DEFAULT_TEXT);
    const emptyStream = {
      chunks: [
        'event: response.completed\ndata: {"type":"response.completed","response":{"id":"r"}}\n\n',
      ],
    };
    const empty = await runWith([emptyStream], { outputLastMessage: path });
    assert.equal(empty.code, 0);
    assert.equal(await Deno.readTextFile(path), "");
    assert.match(empty.stderr, /Warning: no last agent message; wrote empty content to /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`-` reads the prompt from stdin", async () => {
  const r = await runWith([normalStream()], { prompt: "-" }, {
    stdin: "prompt from stdin\n",
    tty: false,
  });
  assert.equal(r.code, 0);
  assert.equal(userText(r.bodies[0]), "prompt from stdin\n");
});

Deno.test("no prompt with piped stdin reads the prompt from stdin", async () => {
  const r = await runWith([normalStream()], { prompt: undefined }, { stdin: "piped", tty: false });
  assert.equal(userText(r.bodies[0]), "piped");
});

Deno.test("a prompt plus piped stdin appends stdin as <stdin> context, like codex exec", async () => {
  const r = await runWith([normalStream()], { prompt: "summarise" }, {
    stdin: "line1\nline2\n",
    tty: false,
  });
  assert.equal(userText(r.bodies[0]), "summarise\n\n<stdin>\nline1\nline2\n</stdin>");
  assert.equal(r.stderr, "");
});

Deno.test("stdin that stays silent gets a 'Reading additional input' notice on stderr", async () => {
  await using server = startResponsesServer([normalStream()]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const slow = new ReadableStream<Uint8Array>({
    start(c) {
      timer = setTimeout(() => {
        c.enqueue(new TextEncoder().encode("late"));
        c.close();
      }, 400);
    },
  });
  await using home = await tempHome();
  const ctx = createTestContext({
    globals: { codexHome: home.path },
    env: mapEnv({ OPENAI_API_KEY: KEY }),
    stdin: { isTTY: false, readable: slow },
    fetch: globalThis.fetch.bind(globalThis),
  });
  try {
    const code = await runRun(
      ctx,
      runOptions({ prompt: "p", baseUrl: server.baseUrl }),
    );
    assert.equal(code, 0);
    assert.equal((ctx.stderr as MemoryOutput).text(), "Reading additional input from stdin...\n");
    const body = JSON.parse(server.responseRequests()[0].body);
    assert.equal(body.input[0].content[0].text, "p\n\n<stdin>\nlate\n</stdin>");
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("no prompt and a terminal on stdin is a usage error (exit 2); so is empty stdin", async () => {
  const tty = await runWith([normalStream()], { prompt: undefined }, { tty: true });
  assert.ok(tty.error instanceof UsageError);
  assert.equal(tty.error.exitCode, ExitCode.USAGE);
  assert.equal(tty.bodies.length, 0);
  const empty = await runWith([normalStream()], { prompt: "-" }, { stdin: " \n", tty: false });
  assert.ok(empty.error instanceof UsageError);
});

Deno.test("model: --model, else config.toml `model`, else the default", async () => {
  const flag = await runWith([normalStream()], { model: "gpt-flag" }, {
    config: { model: "gpt-config" },
  });
  assert.equal(flag.bodies[0].model, "gpt-flag");
  const config = await runWith([normalStream()], {}, { config: { model: "gpt-config" } });
  assert.equal(config.bodies[0].model, "gpt-config");
  const fallback = await runWith([normalStream()], {});
  assert.equal(fallback.bodies[0].model, DEFAULT_MODEL);
});

Deno.test("--instructions is sent as the instructions", async () => {
  const r = await runWith([normalStream()], { instructions: "Answer in French." });
  assert.equal(r.bodies[0].instructions, "Answer in French.");
});

Deno.test("OPENAI_BASE_URL sets the server; a bad URL is a usage error", async () => {
  const r = await runWith([normalStream()], {}, { useBaseUrlEnv: true });
  assert.equal(r.code, 0);
  const bad = await runWith([normalStream()], { baseUrl: "not a url" });
  assert.ok(bad.error instanceof UsageError);
});

Deno.test("CODEX_API_KEY wins over OPENAI_API_KEY; keys are registered as secrets", async () => {
  const r = await runWith([normalStream()], {}, { env: { CODEX_API_KEY: "sk-codex-wins-123" } });
  assert.equal(r.headers[0].get("authorization"), "Bearer sk-codex-wins-123");
  assert.equal(r.ctx.secrets.redact("x sk-codex-wins-123 y"), "x [REDACTED] y");
});

Deno.test("no API key in the environment and no stored login: 'not logged in', exit 1", async () => {
  const r = await runWith([normalStream()], {}, { env: { OPENAI_API_KEY: "" } });
  assert.ok(r.error instanceof CdxError);
  assert.match(r.error.message, /not logged in/);
  assert.equal(r.error.exitCode, 1);
  assert.equal(r.bodies.length, 0);
});

Deno.test("a stream cut mid-answer keeps the text, ends the line and fails", async () => {
  const r = await runWith([cutStream("Half an answ")], {});
  assert.ok(r.error instanceof CdxError);
  assert.equal(r.stdout, "Half an answ\n");
  assert.match(r.error.message, /stream closed before response\.completed/);
});

Deno.test("retries are announced on stderr (and as error events with --json)", async () => {
  const r = await runWith([rateLimited(0), normalStream()], { json: true });
  assert.equal(r.code, 0);
  assert.match(r.stderr, /warning: HTTP 429; retrying in 0\.0 s \(1\/4\)/);
  const types = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).type);
  assert.deepEqual(types, [
    "thread.started",
    "turn.started",
    "error",
    "item.completed",
    "turn.completed",
  ]);
});

Deno.test("the API key never appears in stdout or stderr, even in failures", async () => {
  for (const script of [[normalStream()], [failedStream()], [cutStream()]]) {
    const r = await runWith(script, { json: true });
    assert.ok(!r.stdout.includes(KEY));
    assert.ok(!r.stderr.includes(KEY));
    if (r.error) assert.ok(!String((r.error as Error).message).includes(KEY));
  }
});

Deno.test("CoalescingWriter joins what is queued in one task into one write, keeps order, reports a failed write", async () => {
  const writes: string[] = [];
  let release: (() => void) | undefined;
  let written: (() => void) | undefined;
  const slow = new MemoryOutput();
  slow.write = (data) => {
    writes.push(String(data));
    written?.();
    return new Promise<void>((resolve) => (release = resolve));
  };
  const nextWrite = () => new Promise<void>((resolve) => (written = resolve));
  const writer = new CoalescingWriter(slow);
  const first = nextWrite();
  writer.write("a");
  writer.write("b");
  assert.deepEqual(writes, [], "nothing is written while the task that queued it runs");
  await first;
  assert.deepEqual(writes, ["ab"]);
  writer.write("c");
  writer.write("d");
  const second = nextWrite();
  release!();
  const flushed = writer.flush();
  await second;
  release!();
  await flushed;
  assert.deepEqual(writes, ["ab", "cd"]);

  const big = new MemoryOutput();
  const eager = new CoalescingWriter(big, { maxPending: 4 });
  eager.write("12345");
  assert.equal(big.text(), "12345", "past maxPending the write starts at once");

  const broken = new MemoryOutput();
  broken.write = () => Promise.reject(new Error("disk full"));
  const failing = new CoalescingWriter(broken);
  failing.write("x");
  await assert.rejects(failing.flush(), /disk full/);
  assert.throws(() => failing.throwIfFailed(), /disk full/);
});

Deno.test("deltas without output_item.done are the message; a message without deltas is printed", async () => {
  const deltasOnly = await runWith([normalStream("only deltas", { omitItemDone: true })], {
    json: true,
  });
  const events = deltasOnly.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(events.find((e) => e.type === "item.completed").item.text, "only deltas");
  const itemOnly = {
    chunks: [
      sseEvent("response.output_item.done", {
        item: {
          type: "message",
          role: "assistant",
          content: [{ type: "output_text", text: "no deltas" }],
        },
      }),
      sseEvent("response.completed", { response: { id: "r1" } }),
    ],
  };
  const r = await runWith([itemOnly], {});
  assert.equal(r.stdout, "no deltas\n");
});

Deno.test("response.incomplete fails with its reason, keeping the text", async () => {
  const events = [
    sseEvent("response.output_text.delta", { delta: "Cut sho" }),
    sseEvent("response.incomplete", {
      response: {
        id: "r",
        status: "incomplete",
        incomplete_details: { reason: "max_output_tokens" },
      },
    }),
  ];
  const r = await runWith([{ chunks: events }], {});
  assert.ok(r.error instanceof CdxError);
  assert.match(r.error.message, /incomplete \(max_output_tokens\)/);
  assert.equal(r.stdout, "Cut sho\n");
  assert.equal(r.bodies.length, 1);
});

Deno.test("two messages in one answer are printed on separate lines; -o gets the last", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const events = [
      ...responseEvents(["First."], { omitCompleted: true, messageId: "m1" }),
      ...responseEvents(["Second."], { messageId: "m2" }),
    ];
    const r = await runWith([{ chunks: events }], { outputLastMessage: `${dir}/last.txt` });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "First.\nSecond.\n");
    assert.equal(await Deno.readTextFile(`${dir}/last.txt`), "Second.");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
