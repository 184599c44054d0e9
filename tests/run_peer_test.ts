/**
 * Peer check: the real codex CLI 0.169.0 and `cdx run` get the same answer
 * from the same fake-server scenario — proof that the fake speaks the real
 * protocol, and that cdx's `--json` matches codex exec's.
 *
 * Needs codex already installed (no download from a test): set
 * `CDX_PEER_CODEX` to its `bin/codex.js`, or have it in the npx cache
 * (`npx -y @openai/codex@0.169.0 --version` once). Otherwise skipped.
 */
import assert from "node:assert/strict";
import { runCdx } from "./helpers/cli.ts";
import {
  bytewiseStream,
  failedStream,
  normalStream,
  type ScriptedResponse,
  serverError,
  startResponsesServer,
} from "./fakes/responses_server.ts";

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
  /** The `model` of each tool's first request. */
  models: { codex?: string; cdx?: string };
}

/** Runs codex exec and cdx run against the same scenario (fresh server each). */
async function runBoth(
  steps: () => ScriptedResponse[],
  json: boolean,
  options: { defaultModel?: boolean } = {},
): Promise<Both> {
  const models: Both["models"] = {};
  const firstModel = (server: { responseRequests(): Array<{ body: string }> }) => {
    const first = server.responseRequests()[0];
    return first ? JSON.parse(first.body).model : undefined;
  };
  const home = await Deno.makeTempDir({ prefix: "cdx-peer-" });
  try {
    let codex: Both["codex"];
    {
      await using server = startResponsesServer(steps());
      await Deno.mkdir(`${home}/codex`);
      await Deno.writeTextFile(
        `${home}/codex/config.toml`,
        [
          options.defaultModel ? "" : 'model = "gpt-fake"',
          'model_provider = "fake"',
          "[model_providers.fake]",
          'name = "fake"',
          `base_url = "${server.baseUrl}"`,
          'wire_api = "responses"',
          'env_key = "FAKE_PEER_KEY"',
          "request_max_retries = 4",
          "",
        ].join("\n"),
      );
      const out = await new Deno.Command("node", {
        args: [codexJs!, "exec", "--skip-git-repo-check", ...(json ? ["--json"] : []), "hi"],
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
      models.codex = firstModel(server);
    }
    await using server = startResponsesServer(steps());
    const modelArgs = options.defaultModel ? [] : ["--model", "gpt-fake"];
    const cdx = await runCdx(["run", ...(json ? ["--json"] : []), ...modelArgs, "hi"], {
      env: {
        CODEX_HOME: `${home}/cdx`,
        OPENAI_API_KEY: "sk-peer-key-123456",
        OPENAI_BASE_URL: server.baseUrl,
      },
    });
    models.cdx = firstModel(server);
    return { codex, cdx, models };
  } finally {
    await Deno.remove(home, { recursive: true });
  }
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
