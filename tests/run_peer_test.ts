/**
 * Peer check: the real codex CLI 0.169.0 and `cdx run` get the same answer
 * from the same fake-server scenario — proof that the fake speaks the real
 * protocol, and that cdx's `--json` matches codex exec's.
 *
 * Both tools get the same config.toml (a model provider whose key is in an
 * environment variable) and the same arguments, so the check is what a
 * script switching between them sees.
 *
 * Needs codex already installed (no download from a test): set
 * `CDX_PEER_CODEX` to its `bin/codex.js`, or have it in the npx cache
 * (`npx -y @openai/codex@0.169.0 --version` once). Otherwise skipped.
 */
import assert from "node:assert/strict";
import { runCdx } from "./helpers/cli.ts";
import { writeImages } from "./fixtures/images.ts";
import {
  bytewiseStream,
  failedStream,
  normalStream,
  type ScriptedResponse,
  serverError,
  startResponsesServer,
} from "./fakes/responses_server.ts";
import { assertJsonLines } from "./helpers/schema.ts";

const CODEX_VERSION = "0.169.0";

function findCodex(): string | undefined {
  const explicit = Deno.env.get("CDX_PEER_CODEX");
  if (explicit) return explicit;
  const home = Deno.env.get("HOME");
  if (!home) return undefined;
  try {
    for (const entry of Deno.readDirSync(`${home}/.npm/_npx`)) {
      const dir = `${home}/.npm/_npx/${entry.name}/node_modules/@openai/codex`;
      try {
        const pkg = JSON.parse(Deno.readTextFileSync(`${dir}/package.json`));
        if (pkg.version === CODEX_VERSION) return `${dir}/bin/codex.js`;
      } catch { /* not this one */ }
    }
  } catch { /* no npx cache */ }
  return undefined;
}

const codexJs = findCodex();
const nodeAvailable = (() => {
  try {
    return new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
const ignore = codexJs === undefined || !nodeAvailable;

const PEER_TEXT = "Peer check: line one.\nLine two — with ünïcödé ✓.";

interface Both {
  codex: { code: number; stdout: string; stderr: string };
  cdx: { code: number; stdout: string; stderr: string };
  /** The body of each tool's first request. */
  bodies: { codex?: Record<string, unknown>; cdx?: Record<string, unknown> };
  /** Backwards-compatible view: the `model` of each tool's first request. */
  models: { codex?: string; cdx?: string };
}

/** Options of {@linkcode runBoth}. */
interface BothOptions {
  /** No `model` in config.toml: each tool's default. */
  defaultModel?: boolean;
  /** Arguments after the prompt, the same for both tools (`-i …`, `--output-schema …`, `-c …`). */
  args?: (dir: string) => string[] | Promise<string[]>;
}

/**
 * Runs codex exec and cdx run against the same scenario (fresh server each)
 * with the same config.toml: a model provider `fake` whose key is in
 * FAKE_PEER_KEY — so cdx runs exactly as a codex user's script would call it.
 */
async function runBoth(
  steps: () => ScriptedResponse[],
  json: boolean,
  options: BothOptions = {},
): Promise<Both> {
  const bodies: Both["bodies"] = {};
  const firstBody = (server: { responseRequests(): Array<{ body: string }> }) => {
    const first = server.responseRequests()[0];
    return first ? JSON.parse(first.body) : undefined;
  };
  const home = await Deno.makeTempDir({ prefix: "cdx-peer-" });
  const config = (baseUrl: string) =>
    [
      options.defaultModel ? "" : 'model = "gpt-fake"',
      'model_provider = "fake"',
      "[model_providers.fake]",
      'name = "fake"',
      `base_url = "${baseUrl}"`,
      'wire_api = "responses"',
      'env_key = "FAKE_PEER_KEY"',
      "request_max_retries = 4",
      "",
    ].join("\n");
  try {
    const extra = (await options.args?.(home)) ?? [];
    let codex: Both["codex"];
    {
      await using server = startResponsesServer(steps());
      await Deno.mkdir(`${home}/codex`);
      await Deno.writeTextFile(`${home}/codex/config.toml`, config(server.baseUrl));
      const out = await new Deno.Command("node", {
        args: [
          codexJs!,
          "exec",
          "--skip-git-repo-check",
          ...(json ? ["--json"] : []),
          "hi",
          ...extra,
        ],
        env: {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          HOME: home,
          CODEX_HOME: `${home}/codex`,
          FAKE_PEER_KEY: "sk-peer-key-123456",
        },
        clearEnv: true,
        cwd: home,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const d = new TextDecoder();
      codex = { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
      bodies.codex = firstBody(server);
    }
    await using server = startResponsesServer(steps());
    await Deno.mkdir(`${home}/cdx`);
    await Deno.writeTextFile(`${home}/cdx/config.toml`, config(server.baseUrl));
    const cdx = await runCdx(["run", ...(json ? ["--json"] : []), "hi", ...extra], {
      env: { CODEX_HOME: `${home}/cdx`, FAKE_PEER_KEY: "sk-peer-key-123456" },
    });
    bodies.cdx = firstBody(server);
    const models = { codex: bodies.codex?.model as string, cdx: bodies.cdx?.model as string };
    return { codex, cdx, bodies, models };
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/** The content of the last user message of a request body. */
function lastUserContent(body: Record<string, unknown> | undefined): unknown[] {
  const input = (body?.input ?? []) as Array<{ role?: string; content: unknown[] }>;
  return input.filter((m) => m.role === "user").at(-1)?.content ?? [];
}

function agentMessages(jsonl: string): string[] {
  return jsonl.trim().split("\n").map((line) => JSON.parse(line))
    .filter((e) => e.type === "item.completed" && e.item.type === "agent_message")
    .map((e) => e.item.text);
}

const scenarios: Array<[string, () => ScriptedResponse[]]> = [
  ["a normal stream", () => [normalStream(PEER_TEXT)]],
  ["a stream split at every byte", () => [bytewiseStream(PEER_TEXT)]],
  ["a 503 then success", () => [serverError(503), normalStream(PEER_TEXT)]],
];

for (const [name, steps] of scenarios) {
  Deno.test({
    name: `peer: codex exec and cdx run print the same final text for ${name}`,
    ignore,
    async fn() {
      const { codex, cdx } = await runBoth(steps, false);
      assert.equal(codex.code, 0, codex.stderr);
      assert.equal(cdx.code, 0, cdx.stderr);
      assert.equal(codex.stdout, `${PEER_TEXT}\n`);
      assert.equal(cdx.stdout, codex.stdout);
    },
  });
}

Deno.test({
  name: "peer: --json of codex exec and cdx run both parse and carry the same agent message",
  ignore,
  async fn() {
    const { codex, cdx } = await runBoth(() => [normalStream(PEER_TEXT)], true);
    assert.equal(codex.code, 0, codex.stderr);
    assert.equal(cdx.code, 0, cdx.stderr);
    assertJsonLines(cdx.stdout);
    assert.deepEqual(agentMessages(cdx.stdout), [PEER_TEXT]);
    assert.deepEqual(agentMessages(codex.stdout), agentMessages(cdx.stdout));
    const types = (s: string) =>
      s.trim().split("\n").map((l) => JSON.parse(l)).filter((e) =>
        e.type !== "item.completed" || e.item.type === "agent_message"
      ).map((e) => e.type);
    assert.deepEqual(types(cdx.stdout), types(codex.stdout));
    const usage = (s: string) =>
      s.trim().split("\n").map((l) => JSON.parse(l)).find((e) => e.type === "turn.completed")
        .usage;
    assert.deepEqual(usage(cdx.stdout), usage(codex.stdout));
  },
});

Deno.test({
  name: "peer: response.failed makes both fail, and both --json streams end with turn.failed",
  ignore,
  async fn() {
    const { codex, cdx } = await runBoth(() => [failedStream("context_length_exceeded")], true);
    assert.notEqual(codex.code, 0);
    assert.equal(cdx.code, 1);
    assertJsonLines(cdx.stdout);
    const tail = (s: string) => s.trim().split("\n").slice(-2).map((l) => JSON.parse(l).type);
    assert.deepEqual(tail(codex.stdout), ["error", "turn.failed"]);
    assert.deepEqual(tail(cdx.stdout), tail(codex.stdout));
  },
});

Deno.test({
  name: "peer: with no model configured, cdx asks for the same default model as codex",
  ignore,
  async fn() {
    const { codex, cdx, models } = await runBoth(() => [normalStream(PEER_TEXT)], false, {
      defaultModel: true,
    });
    assert.equal(codex.code, 0, codex.stderr);
    assert.equal(cdx.code, 0, cdx.stderr);
    assert.ok(models.codex);
    assert.equal(models.cdx, models.codex);
  },
});

const SCHEMA = {
  type: "object",
  properties: { colour: { type: "string" }, count: { type: "integer" } },
  required: ["colour", "count"],
  additionalProperties: false,
};
const SCHEMA_ANSWER = '{"colour":"blue","count":3}';

Deno.test({
  name: "peer: --output-schema: both send the same text.format and print the same JSON answer",
  ignore,
  async fn() {
    const { codex, cdx, bodies } = await runBoth(() => [normalStream(SCHEMA_ANSWER)], false, {
      args: async (dir) => {
        await Deno.writeTextFile(`${dir}/schema.json`, JSON.stringify(SCHEMA));
        return ["--output-schema", `${dir}/schema.json`];
      },
    });
    assert.equal(codex.code, 0, codex.stderr);
    assert.equal(cdx.code, 0, cdx.stderr);
    const format = (b?: Record<string, unknown>) => (b?.text as Record<string, unknown>)?.format;
    assert.deepEqual(format(bodies.codex), {
      type: "json_schema",
      strict: true,
      schema: SCHEMA,
      name: "codex_output_schema",
    });
    assert.deepEqual(format(bodies.cdx), format(bodies.codex));
    assert.equal(codex.stdout, `${SCHEMA_ANSWER}\n`);
    assert.equal(cdx.stdout, codex.stdout);
  },
});

Deno.test({
  name:
    "peer: -i png and jpeg (a comma list and a repeat): both send the same image items and prompt",
  ignore,
  async fn() {
    const { codex, cdx, bodies } = await runBoth(() => [normalStream(PEER_TEXT)], false, {
      args: async (dir) => {
        const { png, jpeg } = await writeImages(dir);
        return ["-i", `${png},${jpeg}`, "-i", png];
      },
    });
    assert.equal(codex.code, 0, codex.stderr);
    assert.equal(cdx.code, 0, cdx.stderr);
    const codexItems = lastUserContent(bodies.codex);
    assert.equal(codexItems.length, 10, JSON.stringify(codexItems).slice(0, 500));
    assert.deepEqual(lastUserContent(bodies.cdx), codexItems);
    assert.equal(cdx.stdout, codex.stdout);
  },
});

Deno.test({
  name: "peer: -c model and reasoning effort reach the request the same way",
  ignore,
  async fn() {
    const { codex, cdx, bodies } = await runBoth(() => [normalStream(PEER_TEXT)], false, {
      args: () => ["-c", "model=gpt-peer-override", "-c", "model_reasoning_effort=high"],
    });
    assert.equal(codex.code, 0, codex.stderr);
    assert.equal(cdx.code, 0, cdx.stderr);
    assert.equal(bodies.codex?.model, "gpt-peer-override");
    assert.equal(bodies.cdx?.model, bodies.codex?.model);
    const effort = (b?: Record<string, unknown>) =>
      (b?.reasoning as Record<string, unknown>)?.effort;
    assert.equal(effort(bodies.codex), "high");
    assert.equal(effort(bodies.cdx), effort(bodies.codex));
  },
});
