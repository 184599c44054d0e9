/**
 * `cdx feedback` through the real CLI at its edges: a path that cannot be
 * written, a server that accepts and never answers, config.toml secrets in
 * every shape, private prompts in the recorded argv, the versioned receipt.
 */
import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { parseEnvelope } from "@sentry/core";
import { parseBlocks } from "../lib/feedback/blocks.ts";
import { logFilePath } from "../lib/feedback/persist.ts";
import { startFakeSentry } from "./fakes/sentry_server.ts";
import { runCdx } from "./helpers/cli.ts";
import { withHome } from "./helpers/auth_context.ts";
import { assertSchema } from "./helpers/schema.ts";

const decoder = new TextDecoder();
/** RFC 3339 with milliseconds, UTC. */
const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function unzip(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(
    Object.entries(unzipSync(bytes)).map(([name, data]) => [name, decoder.decode(data)]),
  );
}

Deno.test("feedback --output into a missing directory: a one-line usage error naming the path, exit 2, no internal error", async () => {
  await withHome(async (home) => {
    const r = await runCdx(["feedback", "--output", "/nonexistent/dir/x.zip", "--yes"], {
      env: { CODEX_HOME: home },
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^error: cannot write the report to \/nonexistent\/dir\/x\.zip: \/nonexistent\/dir does not exist\nhint: /,
    );
    assert.doesNotMatch(r.stderr, /internal error|this is a bug/);
  });
});

Deno.test("feedback --output over a file used as a directory: a usage error (a bad path value), exit 2", async () => {
  await withHome(async (home) => {
    await Deno.writeTextFile(`${home}/file`, "x");
    const r = await runCdx(["feedback", "--output", `${home}/file/x.zip`, "--yes"], {
      env: { CODEX_HOME: home },
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error: cannot write the report to .*: .*file is not a directory/);
    assert.doesNotMatch(r.stderr, /internal error/);
  });
});

Deno.test("upload to a server that accepts and never answers: exit 124, the message names the host and the setting, the report is kept", async () => {
  await withHome(async (home) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn); // accept, never read, never answer
    })();
    try {
      const { port } = listener.addr as Deno.NetAddr;
      const r = await runCdx(["feedback", "--upload", "--yes"], {
        env: {
          CODEX_HOME: home,
          CDX_FEEDBACK_DSN: `http://publickey@127.0.0.1:${port}/42`,
          CDX_REQUEST_TIMEOUT: "0.5",
        },
      });
      assert.equal(r.code, 124, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `error: feedback upload failed: 127\\.0\\.0\\.1:${port} did not answer within 500 ms \\(feedback upload\\)`,
        ),
      );
      assert.match(r.stderr, /hint: set CDX_REQUEST_TIMEOUT=.*; the report is kept at (\S+\.zip)/);
      const kept = /kept at (\S+\.zip);/.exec(r.stderr)![1];
      assert.ok((await Deno.stat(kept)).size > 0);
      assert.ok(held.length >= 1, "the server accepted the connection");
    } finally {
      listener.close();
      for (const conn of held) conn.close();
      await accepting.catch(() => {});
    }
  });
});

/** config.toml with secrets in every shape the fault run found leaking. */
function hostileConfig(secrets: Record<string, string>): string {
  return [
    'model = "o4-mini"',
    `cli_auth_credentials_store = "file"`,
    "model_max_output_tokens = 2000",
    "",
    "[mcp_servers.stripe]",
    'command = "npx"',
    `args = ["-y", "@stripe/mcp", "--api-key", "${secrets.arg}"]`,
    `env = { STRIPE_SECRET_KEY = "${secrets.env}", LOG = "${secrets.plainEnv}" }`,
    "",
    "[model_providers.corp]",
    `base_url = "https://builder:${secrets.urlPassword}@llm.corp.example/v1"`,
    `http_headers = { "X-Corp-Auth" = "${secrets.header}" }`,
    "",
    "[shell_environment_policy]",
    `set = { DB_URL = "postgres://app:${secrets.dbPassword}@db/app" }`,
    "",
    "[profiles.deep.nested.table]",
    `private_passphrase = "${secrets.nested}"`,
    "",
  ].join("\n");
}

Deno.test("config.toml secrets in inline tables, arrays, URLs and nested keys reach neither diagnostics.txt nor the Sentry envelope", async () => {
  await withHome(async (home) => {
    await using sentry = startFakeSentry({ status: 200 });
    const secrets = {
      arg: "rk_live_ARGUMENTSECRET0001",
      env: "sk_live_ENVSECRET00000002",
      plainEnv: "verbose-but-private-0003",
      urlPassword: "URLPASSWORD0004",
      header: "corp-header-token-0005",
      dbPassword: "DBPASSWORD0006",
      nested: "nested passphrase 0007",
    };
    await Deno.writeTextFile(`${home}/config.toml`, hostileConfig(secrets));
    const env = { CODEX_HOME: home, CDX_FEEDBACK_DSN: sentry.dsn };
    const output = `${home}/report.zip`;
    const saved = await runCdx(["feedback", "--output", output, "--yes"], { env });
    assert.equal(saved.code, 0, saved.stderr);
    const uploaded = await runCdx(["feedback", "--upload", "--yes", "--note", "n"], { env });
    assert.equal(uploaded.code, 0, uploaded.stderr);

    const diagnostics = unzip(await Deno.readFile(output))["diagnostics.txt"];
    const envelope = decoder.decode(sentry.received[0].body);
    assert.match(envelope, /cdx diagnostics/, "the envelope carries diagnostics.txt");
    for (const [place, text] of Object.entries({ diagnostics, envelope })) {
      for (const [name, secret] of Object.entries(secrets)) {
        assert.ok(!text.includes(secret), `${name} leaked into ${place}`);
      }
    }
    // Still readable: the structure and the harmless settings.
    assert.match(diagnostics, /model = "o4-mini"/);
    assert.match(diagnostics, /model_max_output_tokens = 2000/);
    assert.match(diagnostics, /command = "npx"/);
    assert.match(diagnostics, /STRIPE_SECRET_KEY = "\[REDACTED\]"/);
    assert.match(
      diagnostics,
      /args = \[ "\[REDACTED\]", "\[REDACTED\]", "\[REDACTED\]", "\[REDACTED\]" \]/,
    );
    assert.match(diagnostics, /base_url = "https:\/\/\[REDACTED\]@llm\.corp\.example\/v1"/);
  });
});

Deno.test("the recorded argv replaces prompt text by its length; cdx.log, the bundle and the preview hold no prompt", async () => {
  await withHome(async (home) => {
    const prompt = "please refactor the payroll module of ACME-PRIVATE-PROJECT";
    const instructions = "you are the ACME-PRIVATE-PERSONA";
    const run = await runCdx(
      ["--log-level", "debug", "run", "-m", "o4-mini", "--instructions", instructions, prompt],
      { env: { CODEX_HOME: home, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" } },
    );
    assert.notEqual(run.code, 0);
    const log = await Deno.readTextFile(logFilePath(home));
    const [block] = parseBlocks(log);
    assert.deepEqual(block.argv, [
      "--log-level",
      "debug",
      "run",
      "-m",
      "o4-mini",
      "--instructions",
      `<text: ${instructions.length} chars>`,
      `<prompt: ${prompt.length} chars>`,
    ]);
    const output = `${home}/report.zip`;
    const r = await runCdx(["feedback", "--output", output, "--yes", "--json"], {
      env: { CODEX_HOME: home },
    });
    assert.equal(r.code, 0, r.stderr);
    const files = unzip(await Deno.readFile(output));
    for (const text of [log, ...Object.values(files), r.stdout, r.stderr]) {
      assert.ok(!text.includes("ACME-PRIVATE"), text);
    }
  });
});

Deno.test("feedback --json prints a versioned receipt with RFC 3339 millisecond timestamps, for a save and an upload", async () => {
  await withHome(async (home) => {
    await using sentry = startFakeSentry({ status: 200 });
    const env = { CODEX_HOME: home, CDX_FEEDBACK_DSN: sentry.dsn };
    const output = `${home}/report.zip`;
    const saved = await runCdx(["feedback", "--output", output, "--yes", "--json"], { env });
    assert.equal(saved.code, 0, saved.stderr);
    const receipt = assertSchema("feedback", JSON.parse(saved.stdout));
    assert.equal(receipt.version, 1);
    assert.match(receipt.created_at, RFC3339_MS);
    assert.equal(receipt.bundle, output);
    assert.equal(receipt.uploaded, false);
    assert.equal(receipt.logs_included, true);
    assert.equal(receipt.bytes, (await Deno.stat(output)).size);
    const metadata = JSON.parse(unzip(await Deno.readFile(output))["metadata.json"]);
    assert.equal(metadata.report_id, receipt.report_id);
    assert.equal(metadata.created_at, receipt.created_at);

    const up = await runCdx(["feedback", "--upload", "--yes", "--json", "--no-logs"], { env });
    assert.equal(up.code, 0, up.stderr);
    const sent = assertSchema("feedback", JSON.parse(up.stdout));
    assert.equal(sent.version, 1);
    assert.equal(sent.uploaded, true);
    assert.equal(sent.logs_included, false);
    assert.equal(sent.bundle, null);
    assert.match(sent.created_at, RFC3339_MS);
    assert.match(sent.uploaded_at, RFC3339_MS);
    const [header] = parseEnvelope(sentry.received[0].body) as unknown as [Record<string, string>];
    assert.equal(sent.event_id, header.event_id);
  });
});
