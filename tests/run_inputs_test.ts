/**
 * What `cdx run` sends for codex exec's script features — `-i` images,
 * `--output-schema`, `-c` overrides and model providers — and how it refuses
 * bad input before a request goes out.
 */
import assert from "node:assert/strict";
import { type Context, createTestContext, mapEnv, MemoryOutput } from "../lib/context.ts";
import { CdxError, ExitCode, UsageError } from "../lib/errors.ts";
import {
  applyConfigOverrides,
  clip,
  parseConfigOverride,
  runSettings,
  sniffImage,
} from "../lib/model/mod.ts";
import { type RunCommandOptions, runRun } from "../commands/run.ts";
import { normalStream, type Script, startResponsesServer } from "./fakes/responses_server.ts";
import { tempHome } from "./helpers/auth_context.ts";
import { runCdxBounded } from "./helpers/live_cdx.ts";
import { JPEG_BASE64, PNG_BASE64, writeImages } from "./fixtures/images.ts";

const KEY = "sk-test-inputs-key-4242";

interface Outcome {
  code?: number;
  error?: unknown;
  stdout: string;
  stderr: string;
  bodies: Record<string, unknown>[];
  requests: Array<{ path: string; headers: Headers }>;
  ctx: Context;
}

async function run(
  script: Script,
  options: Partial<RunCommandOptions>,
  setup: { env?: Record<string, string>; config?: Record<string, unknown>; home?: string } = {},
): Promise<Outcome> {
  await using server = startResponsesServer(script);
  await using temp = await tempHome();
  const home = setup.home ?? temp.path;
  const config = JSON.parse(
    JSON.stringify(setup.config ?? {}).replaceAll("{BASE}", server.baseUrl),
  );
  const ctx = createTestContext({
    globals: { codexHome: home },
    env: mapEnv({ OPENAI_API_KEY: KEY, ...setup.env }),
    fetch: globalThis.fetch.bind(globalThis),
    config: { path: `${home}/config.toml`, values: config },
  });
  const outcome: Outcome = { stdout: "", stderr: "", bodies: [], requests: [], ctx };
  try {
    outcome.code = await runRun(ctx, {
      command: "run",
      prompt: "describe",
      images: [],
      config: [],
      baseUrl: setup.config ? undefined : server.baseUrl,
      ephemeral: true,
      ...options,
    } as RunCommandOptions);
  } catch (error) {
    outcome.error = error;
  }
  outcome.stdout = (ctx.stdout as MemoryOutput).text();
  outcome.stderr = (ctx.stderr as MemoryOutput).text();
  outcome.bodies = server.responseRequests().map((r) => JSON.parse(r.body));
  outcome.requests = server.responseRequests();
  return outcome;
}

function userContent(body: Record<string, unknown>) {
  const input = body.input as Array<{ role: string; content: unknown[] }>;
  return input.at(-1)!.content;
}

// --- images -------------------------------------------------------------------

Deno.test("images are sniffed by content: png, jpeg, gif, webp; anything else is not an image", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(sniffImage(Uint8Array.fromBase64(PNG_BASE64)), "image/png");
  assert.equal(sniffImage(Uint8Array.fromBase64(JPEG_BASE64)), "image/jpeg");
  assert.equal(sniffImage(enc("GIF89a....")), "image/gif");
  assert.equal(sniffImage(enc("RIFF\0\0\0\0WEBPVP8 ")), "image/webp");
  assert.equal(sniffImage(enc("hello, I am text")), undefined);
  assert.equal(sniffImage(enc("\x89PN")), undefined);
});

Deno.test("-i adds each image before the prompt, wrapped as codex wraps them; comma lists and repeats keep order", async () => {
  await using dir = await tempHome();
  const { png, jpeg } = await writeImages(dir.path);
  const r = await run([normalStream()], { images: [`${png},${jpeg}`, png] });
  assert.equal(r.code, 0, String(r.error));
  assert.deepEqual(userContent(r.bodies[0]), [
    { type: "input_text", text: `<image name=[Image #1] path="${png}">` },
    { type: "input_image", image_url: `data:image/png;base64,${PNG_BASE64}`, detail: "high" },
    { type: "input_text", text: "</image>" },
    { type: "input_text", text: `<image name=[Image #2] path="${jpeg}">` },
    { type: "input_image", image_url: `data:image/jpeg;base64,${JPEG_BASE64}`, detail: "high" },
    { type: "input_text", text: "</image>" },
    { type: "input_text", text: `<image name=[Image #3] path="${png}">` },
    { type: "input_image", image_url: `data:image/png;base64,${PNG_BASE64}`, detail: "high" },
    { type: "input_text", text: "</image>" },
    { type: "input_text", text: "describe" },
  ]);
});

Deno.test("through the CLI, -i takes one file per flag: the prompt after it is not swallowed", async () => {
  await using server = startResponsesServer([normalStream()]);
  await using dir = await tempHome();
  const { png } = await writeImages(dir.path);
  const r = await runCdxBounded(["run", "--ephemeral", "-i", png, "describe"], {
    env: { CODEX_HOME: dir.path, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseUrl },
  });
  assert.equal(r.code, 0, r.stderr);
  const content = userContent(JSON.parse(server.responseRequests()[0].body));
  assert.equal(content.length, 4);
  assert.deepEqual(content.at(-1), { type: "input_text", text: "describe" });
});

Deno.test("-i with a file that is not an image, missing, a directory, a FIFO or over 20 MiB: usage error, nothing sent", async () => {
  await using dir = await tempHome();
  const fifo = `${dir.path}/pipe.png`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success, "mkfifo");
  const text = `${dir.path}/notes.txt`;
  await Deno.writeTextFile(text, "not an image");
  const big = `${dir.path}/big.png`;
  using file = await Deno.open(big, { write: true, create: true });
  await file.truncate(21 * 1024 * 1024); // sparse: no 21 MiB written
  for (
    const [path, why] of [
      [text, /not a PNG, JPEG, GIF or WebP image/],
      [`${dir.path}/missing.png`, /no such file/],
      [dir.path, /is a directory/],
      [fifo, /pipe\.png: not a regular file$/],
      [big, /more than the 20 MiB/],
    ] as const
  ) {
    const r = await run([normalStream()], { images: [path] });
    assert.ok(r.error instanceof UsageError, `${path}: ${r.error}`);
    assert.equal(r.error.exitCode, ExitCode.USAGE);
    assert.match(r.error.message, why);
    assert.equal(r.bodies.length, 0);
  }
});

// --- --output-schema ------------------------------------------------------------

const SCHEMA = {
  type: "object",
  properties: { colour: { type: "string" } },
  required: ["colour"],
  additionalProperties: false,
};

Deno.test("--output-schema sends text.format exactly as codex 0.169.0 does; a JSON answer passes", async () => {
  await using dir = await tempHome();
  const path = `${dir.path}/schema.json`;
  await Deno.writeTextFile(path, JSON.stringify(SCHEMA));
  const r = await run([normalStream('{"colour":"blue"}')], { outputSchema: path });
  assert.equal(r.code, 0, String(r.error));
  assert.deepEqual(r.bodies[0].text, {
    format: { type: "json_schema", strict: true, schema: SCHEMA, name: "codex_output_schema" },
  });
  assert.equal(r.stdout, '{"colour":"blue"}\n');
});

Deno.test("--output-schema with an answer that is not JSON: exit 1, raw text kept in -o and in --json", async () => {
  await using dir = await tempHome();
  const path = `${dir.path}/schema.json`;
  await Deno.writeTextFile(path, JSON.stringify(SCHEMA));
  const out = `${dir.path}/last.txt`;
  const r = await run([normalStream("blue, I think")], {
    outputSchema: path,
    outputLastMessage: out,
    json: true,
  });
  assert.ok(r.error instanceof CdxError && !(r.error instanceof UsageError), String(r.error));
  assert.equal(r.error.exitCode, 1);
  assert.match(r.error.message, /not valid JSON \(--output-schema\)/);
  assert.equal(await Deno.readTextFile(out), "blue, I think");
  const events = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.type), [
    "thread.started",
    "turn.started",
    "item.completed",
    "error",
    "turn.failed",
  ]);
  assert.equal(events[2].item.text, "blue, I think");
});

Deno.test("--output-schema that is not a JSON object schema is a usage error naming the file", async () => {
  await using dir = await tempHome();
  const cases: Array<[string, RegExp]> = [
    ["{not json", /not JSON/],
    ["[1, 2]", /must be a JSON object/],
    ['{"type":"string"}', /must describe an object/],
  ];
  for (const [content, why] of cases) {
    const path = `${dir.path}/bad.json`;
    await Deno.writeTextFile(path, content);
    const r = await run([normalStream()], { outputSchema: path });
    assert.ok(r.error instanceof UsageError, String(r.error));
    assert.match(r.error.message, new RegExp(`--output-schema ${path}: `));
    assert.match(r.error.message, why);
    assert.equal(r.bodies.length, 0);
  }
});

// --- -c overrides -------------------------------------------------------------------

Deno.test("-c values are TOML, as in codex; a value that is not TOML is the raw string, quotes trimmed", async () => {
  const value = async (raw: string) => (await parseConfigOverride(raw)).value;
  assert.equal(await value("model=gpt-x"), "gpt-x");
  assert.equal(await value('model="gpt-y"'), "gpt-y");
  assert.equal(await value("model_providers.p.request_max_retries=3"), 3);
  assert.deepEqual({ ...await value('model_providers.p.http_headers={X-A="b"}') as object }, {
    "X-A": "b",
  });
  assert.equal(await value("model=gpt 5 mini"), "gpt 5 mini");
  assert.equal(await value("model='unclosed"), "unclosed");
  assert.deepEqual(
    (await parseConfigOverride("model_providers.p.requires_openai_auth=true")).path,
    [
      "model_providers",
      "p",
      "requires_openai_auth",
    ],
  );
});

Deno.test("-c with an unknown key, a bad value or no '=' is a usage error that names the key", async () => {
  const cases: Array<[string, RegExp]> = [
    ["approval_policy=never", /unknown key approval_policy/],
    ["model.name=x", /unknown key model\.name/],
    ["model_providers.p.colour=red", /unknown key model_providers\.p\.colour/],
    ["model_reasoning_effort=extreme", /model_reasoning_effort must be one of none, minimal/],
    ["model_providers.p.request_max_retries=many", /request_max_retries must be a whole number/],
    ["model_providers.p.base_url=ftp://x", /base_url must be http\(s\)/],
    ["model", /expected key=value/],
  ];
  for (const [raw, why] of cases) {
    await assert.rejects(
      parseConfigOverride(raw),
      (e) => e instanceof UsageError && why.test(e.message),
      raw,
    );
  }
});

Deno.test("-c overrides config.toml for this run only; the loaded config is unchanged", async () => {
  const values = { model: "from-file", model_providers: { p: { base_url: "http://a/v1" } } };
  const merged = applyConfigOverrides(values, [
    await parseConfigOverride("model=from-c"),
    await parseConfigOverride("model_providers.p.env_key=P_KEY"),
  ]);
  assert.equal(merged.model, "from-c");
  assert.deepEqual(merged.model_providers, { p: { base_url: "http://a/v1", env_key: "P_KEY" } });
  assert.equal(values.model, "from-file");
  assert.deepEqual(values.model_providers.p, { base_url: "http://a/v1" });
});

Deno.test("-c model, reasoning and verbosity reach the request body", async () => {
  const r = await run([normalStream()], {
    config: [
      "model=gpt-from-c",
      "model_reasoning_effort=high",
      "model_reasoning_summary=detailed",
      "model_verbosity=low",
    ],
  });
  assert.equal(r.code, 0, String(r.error));
  assert.equal(r.bodies[0].model, "gpt-from-c");
  assert.deepEqual(r.bodies[0].reasoning, { effort: "high", summary: "detailed" });
  assert.deepEqual(r.bodies[0].text, { verbosity: "low" });
  const plain = await run([normalStream()], {});
  assert.equal(plain.bodies[0].reasoning, undefined);
  assert.equal(plain.bodies[0].text, undefined);
});

Deno.test("a model provider from config.toml (+ -c): its base_url, env_key, headers and query; no OpenAI key sent", async () => {
  const config = {
    model_provider: "local",
    model_providers: {
      local: {
        name: "local",
        base_url: "{BASE}",
        env_key: "LOCAL_KEY",
        wire_api: "responses",
        http_headers: { "x-static": "s1" },
        env_http_headers: { "x-from-env": "LOCAL_HEADER" },
        query_params: { "api-version": "2026-01-01" },
      },
    },
  };
  const r = await run([normalStream()], {
    config: ["model_providers.local.http_headers.x-extra=e2"],
  }, {
    config,
    env: { LOCAL_KEY: "lk-local-provider-001", LOCAL_HEADER: "hv-secret-123456" },
  });
  assert.equal(r.code, 0, String(r.error));
  const req = r.requests[0];
  assert.equal(req.path, "/v1/responses?api-version=2026-01-01");
  assert.equal(req.headers.get("authorization"), "Bearer lk-local-provider-001");
  assert.equal(req.headers.get("x-static"), "s1");
  assert.equal(req.headers.get("x-extra"), "e2");
  assert.equal(req.headers.get("x-from-env"), "hv-secret-123456");
  assert.equal(r.ctx.secrets.redact("hv-secret-123456"), "[REDACTED]");
  const missing = await run([normalStream()], {}, { config });
  assert.ok(missing.error instanceof CdxError);
  assert.match(missing.error.message, /model provider "local" needs an API key in LOCAL_KEY/);
  assert.equal(missing.bodies.length, 0);
});

Deno.test("a provider without env_key or requires_openai_auth gets no credential at all", async () => {
  const config = { model_provider: "open", model_providers: { open: { base_url: "{BASE}" } } };
  const r = await run([normalStream()], {}, { config });
  assert.equal(r.code, 0, String(r.error));
  assert.equal(r.requests[0].headers.get("authorization"), null);
  const unknown = await run([normalStream()], { config: ["model_provider=nope"] }, { config });
  assert.ok(unknown.error instanceof UsageError);
  assert.match(unknown.error.message, /model_provider "nope" is not defined/);
});

Deno.test("runSettings: the built-in provider by default; a configured one needs a base_url", () => {
  assert.equal(runSettings({}, "config.toml").provider.builtin, true);
  assert.throws(
    () => runSettings({ model_provider: "x", model_providers: { x: {} } }, "config.toml"),
    /model_providers\.x\.base_url is missing/,
  );
  assert.throws(
    () => runSettings({ model_reasoning_effort: 3 }, "/h/config.toml"),
    /\/h\/config\.toml: model_reasoning_effort must be one of/,
  );
});

Deno.test("server text in messages is cut between words, never through a token", () => {
  assert.equal(clip("short", 10), "short");
  assert.equal(clip("error: bad key sk-abcdefghijklmnop", 20), "error: bad key …");
  assert.equal(clip("sk-abcdefghijklmnopqrstuvwxyz", 10), "…");
});
