/**
 * `cdx run` as a script sees it: the real CLI as a subprocess, with the
 * project's permission set, against the local fake Responses server.
 */
import assert from "node:assert/strict";
import { runCdx, spawnCdx } from "./helpers/cli.ts";
import {
  DEFAULT_TEXT,
  failedStream,
  htmlErrorPage,
  normalStream,
  serverError,
  slowStream,
  startResponsesServer,
} from "./fakes/responses_server.ts";
import { withHome } from "./helpers/auth_context.ts";
import { assertJsonLines } from "./helpers/schema.ts";

const KEY = "sk-test-cli-key-0123456789";

function env(home: string, baseUrl: string): Record<string, string> {
  return { CODEX_HOME: home, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: baseUrl };
}

Deno.test("cdx run streams the answer to stdout and exits 0", async () => {
  await using server = startResponsesServer([normalStream()]);
  await withHome(async (home) => {
    const r = await runCdx(["run", "say hi"], { env: env(home, server.baseUrl) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${DEFAULT_TEXT}\n`);
    assert.equal(r.stderr, "");
    const ua = server.responseRequests()[0].headers.get("user-agent")!;
    assert.match(ua, /^cdx\/\d+\.\d+\.\d+ /);
  });
});

Deno.test("cdx run reads a piped prompt and --json output parses line by line", async () => {
  await using server = startResponsesServer([normalStream()]);
  await withHome(async (home) => {
    const r = await runCdx(["run", "--json"], { env: env(home, server.baseUrl), stdin: "hello\n" });
    assert.equal(r.code, 0, r.stderr);
    const events = assertJsonLines(r.stdout);
    const message = events.find((e) => e.type === "item.completed");
    assert.equal(message.item.text, DEFAULT_TEXT);
    const body = JSON.parse(server.responseRequests()[0].body);
    assert.equal(body.input[0].content[0].text, "hello\n");
  });
});

Deno.test("5xx then success: exit 0, the text once, a retry warning on stderr", async () => {
  await using server = startResponsesServer([serverError(503), normalStream()]);
  await withHome(async (home) => {
    const r = await runCdx(["run", "x"], { env: env(home, server.baseUrl) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${DEFAULT_TEXT}\n`);
    assert.match(r.stderr, /warning: HTTP 503; retrying/);
  });
});

Deno.test("response.failed: exit 1, the partial text kept, the model's error on stderr", async () => {
  await using server = startResponsesServer([failedStream()]);
  await withHome(async (home) => {
    const r = await runCdx(["run", "x"], { env: env(home, server.baseUrl) });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "partial \n");
    assert.match(r.stderr, /^error: the model failed: .*context_length_exceeded/m);
    assert.ok(!r.stderr.includes(KEY));
  });
});

Deno.test("an HTML error page: exit 1 with a readable message", async () => {
  await using server = startResponsesServer([htmlErrorPage(404)]);
  await withHome(async (home) => {
    const r = await runCdx(["run", "x"], { env: env(home, server.baseUrl) });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /error: model request failed: HTTP 404.*HTML page \("502 Bad Gateway"\)/,
    );
    assert.match(r.stderr, /hint: /);
  });
});

Deno.test("--timeout expiring exits 124 and keeps the partial text", async () => {
  await using server = startResponsesServer([slowStream(20)]);
  await withHome(async (home) => {
    const r = await runCdx(["run", "--timeout", "1", "x"], { env: env(home, server.baseUrl) });
    assert.equal(r.code, 124, r.stderr);
    assert.match(r.stdout, /^w0 w1 .*\n$/);
    assert.match(r.stderr, /error: no complete answer within 1 s \(--timeout\)/);
  });
});

Deno.test("--idle-timeout expiring exits 124", async () => {
  await using server = startResponsesServer([slowStream(5000)]);
  await withHome(async (home) => {
    const r = await runCdx(["run", "--idle-timeout", "0.3", "x"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(r.code, 124, r.stderr);
    assert.match(r.stderr, /--idle-timeout/);
  });
});

Deno.test("SIGINT during a slow stream: exit 130, partial text kept and its line ended", async () => {
  await using server = startResponsesServer([slowStream(40)]);
  await withHome(async (home) => {
    const child = spawnCdx(["run", "x"], { env: env(home, server.baseUrl) });
    const reader = child.stdout.getReader();
    const decoder = new TextDecoder();
    let stdout = "";
    // Wait for a few words, then interrupt like Ctrl-C.
    while (!/w3 /.test(stdout)) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += decoder.decode(value, { stream: true });
    }
    child.kill("SIGINT");
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += decoder.decode(value, { stream: true });
    }
    const [status, stderrBytes] = await Promise.all([
      child.status,
      new Response(child.stderr).arrayBuffer(),
    ]);
    const stderr = new TextDecoder().decode(stderrBytes);
    assert.equal(status.code, 130, stderr);
    assert.match(stdout, /^w0 w1 w2 w3 .*\n$/);
    assert.ok(!stdout.includes("\n\n"));
    assert.match(stderr, /^interrupted$/m);
  });
});

Deno.test("no prompt and nothing on stdin: usage error, exit 2", async () => {
  await using server = startResponsesServer([normalStream()]);
  await withHome(async (home) => {
    const r = await runCdx(["run"], { env: env(home, server.baseUrl), stdin: "" });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /error: no prompt given/);
    assert.equal(server.responseRequests().length, 0);
  });
});
