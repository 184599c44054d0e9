/**
 * `cdx run` at its edges, through the real CLI: every wait bounded (connect,
 * first byte, keep-alive-only streams, a hung token refresh), every signal
 * honoured with its exit code, hostile servers (huge headers, endless lines,
 * a server that echoes the request) met with clear errors and no leaked
 * secret, and user mistakes refused before a request is sent.
 */
import assert from "node:assert/strict";
import { runCdxBounded, startCdx } from "./helpers/live_cdx.ts";
import {
  apiError,
  keepAliveOnly,
  normalStream,
  type RecordedRequest,
  sseEvent,
  startResponsesServer,
} from "./fakes/responses_server.ts";
import { hugeHeadersServer, silentServer } from "./fakes/raw_http.ts";
import { makeJwt } from "./fakes/codex_auth_server.ts";
import { withHome } from "./helpers/auth_context.ts";

const KEY = "sk-test-edges-key-0123456789";

/** Each signal with the exit code and the word cdx ends with. */
const SIGNALS = [["SIGINT", 130, "interrupted"], ["SIGTERM", 143, "terminated"]] as const;

function env(home: string, baseUrl: string, extra: Record<string, string> = {}) {
  return { CODEX_HOME: home, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: baseUrl, ...extra };
}

Deno.test("a server that accepts and never answers: the connect/headers bound ends the run with 124, naming host and setting", async () => {
  await using server = silentServer();
  await withHome(async (home) => {
    const r = await runCdxBounded(["run", "hi"], {
      env: env(home, `${server.origin}/v1`, { CDX_REQUEST_TIMEOUT: "1" }),
    });
    assert.equal(r.code, 124, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`error: 127\\.0\\.0\\.1:${server.port} did not answer within 1 s`),
    );
    assert.match(r.stderr, /hint: .*CDX_REQUEST_TIMEOUT/);
  });
});

Deno.test("a stream of SSE comments only is not progress: --idle-timeout ends it with 124", async () => {
  await using server = startResponsesServer([keepAliveOnly(50)]);
  await withHome(async (home) => {
    // 3 s leaves room for the headers on a loaded machine: the bound under test is the stream's.
    const r = await runCdxBounded(["run", "--idle-timeout", "3", "hi"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(r.code, 124, r.stderr);
    assert.match(r.stderr, /no event from the model server for 3 s \(--idle-timeout\)/);
  });
});

Deno.test("an SSE line longer than the cap is a clear error, exit 1 (not buffered without end)", async () => {
  const line = `data: ${"x".repeat(33 * 1024 * 1024)}\n\n`;
  await using server = startResponsesServer([{ chunks: [line] }]);
  await withHome(async (home) => {
    const r = await runCdxBounded(["run", "hi"], { env: env(home, server.baseUrl) });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /error: model stream error: .* sent an SSE line or event larger than 32 MiB/,
    );
    assert.equal(server.responseRequests().length, 1, "not retried");
  });
});

Deno.test("10 MB of response headers is a clear error, not 'cannot reach the model server'", async () => {
  await using server = hugeHeadersServer();
  await withHome(async (home) => {
    const r = await runCdxBounded(["run", "hi"], { env: env(home, `${server.origin}/v1`) });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /sent response headers too large to read/);
    assert.doesNotMatch(r.stderr, /cannot reach/);
  });
});

for (const [signal, code, word] of SIGNALS) {
  Deno.test(`${signal} while waiting for the model's first byte: exit ${code}, '${word}'`, async () => {
    await using server = silentServer();
    await withHome(async (home) => {
      await using live = startCdx(["run", "hi"], { env: env(home, `${server.origin}/v1`) });
      await server.requested;
      live.child.kill(signal);
      const r = await live.finish();
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, new RegExp(`^${word}$`, "m"));
      assert.doesNotMatch(r.stderr, /internal error/);
    });
  });

  Deno.test(`${signal} while cdx waits for stdin to end: exit ${code}, nothing sent`, async () => {
    await using server = startResponsesServer([normalStream()]);
    await withHome(async (home) => {
      await using live = startCdx(["run", "summarise"], {
        env: env(home, server.baseUrl),
        stdin: "pipe",
      });
      await live.waitForStderr(/Reading additional input from stdin\.\.\./);
      live.child.kill(signal);
      const r = await live.finish();
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, new RegExp(`^${word}$`, "m"));
      assert.equal(server.responseRequests().length, 0);
    });
  });
}

/** A stored ChatGPT login whose access token has expired, so `run` refreshes first. */
async function expiredLogin(home: string) {
  const claims = { "https://api.openai.com/auth": { chatgpt_account_id: "acc-edges" } };
  await Deno.writeTextFile(
    `${home}/auth.json`,
    JSON.stringify({
      auth_mode: "chatgpt",
      OPENAI_API_KEY: null,
      tokens: {
        id_token: makeJwt({ ...claims, email: "e@example.com" }),
        access_token: makeJwt({ exp: Math.floor(Date.now() / 1000) - 60 }),
        refresh_token: "rt-edges-refresh-0001",
        account_id: "acc-edges",
      },
      last_refresh: new Date(Date.now() - 86_400_000).toISOString(),
    }),
    { mode: 0o600 },
  );
}

/** What {@linkcode withHungRefresh} hands its test. */
interface HungRefresh {
  home: string;
  /** cdx's environment: the file store, the model server, the silent token endpoint. */
  env: Record<string, string>;
  tokens: ReturnType<typeof silentServer>;
  server: ReturnType<typeof startResponsesServer>;
}

/** An expired stored login whose token endpoint accepts and never answers, a model server behind it. */
async function withHungRefresh(fn: (s: HungRefresh) => Promise<void>): Promise<void> {
  await using tokens = silentServer();
  await using server = startResponsesServer([normalStream()]);
  await withHome(async (home) => {
    await expiredLogin(home);
    const env = {
      CODEX_HOME: home,
      CDX_CREDENTIALS_STORE: "file",
      OPENAI_BASE_URL: server.baseUrl,
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${tokens.origin}/oauth/token`,
    };
    await fn({ home, env, tokens, server });
  });
}

Deno.test("a hung token endpoint during the refresh before the request: --idle-timeout 3 ends with 124", async () => {
  await withHungRefresh(async ({ env, server }) => {
    const r = await runCdxBounded(["run", "--idle-timeout", "3", "hi"], { env });
    assert.equal(r.code, 124, r.stderr);
    assert.match(r.stderr, /token endpoint for 3 s \(--idle-timeout\)/);
    assert.equal(server.responseRequests().length, 0);
  });
});

Deno.test("--timeout also covers the refresh: a hung token endpoint with --timeout 2 ends with 124", async () => {
  await withHungRefresh(async ({ env }) => {
    const r = await runCdxBounded(["run", "--timeout", "2", "hi"], { env });
    assert.equal(r.code, 124, r.stderr);
    assert.match(r.stderr, /no complete answer within 2 s \(--timeout\)/);
  });
});

for (const [signal, code, word] of SIGNALS) {
  Deno.test(`${signal} during a hung refresh: exit ${code}, '${word}', never 'internal error'`, async () => {
    await withHungRefresh(async ({ home, env, tokens }) => {
      await using live = startCdx(["run", "hi"], { env });
      await tokens.requested;
      live.child.kill(signal);
      const r = await live.finish();
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, new RegExp(`^${word}$`, "m"));
      assert.doesNotMatch(r.stderr, /internal error|bug in cdx/);
      // The stored credentials are untouched.
      const stored = JSON.parse(await Deno.readTextFile(`${home}/auth.json`));
      assert.equal(stored.tokens.refresh_token, "rt-edges-refresh-0001");
    });
  });
}

/** Everything the fake saw, as the echo a hostile server would send back. */
function echo(request: RecordedRequest): string {
  const auth = request.headers.get("authorization");
  return `authorization: ${auth}; ${
    JSON.stringify({ headers: [...request.headers], body: request.body })
  }`;
}

Deno.test("a server echoing the request never puts the key on stdout, stderr, --json or cdx.log", async () => {
  type Script = (i: number, req: RecordedRequest) => ReturnType<typeof normalStream>;
  const scripts: Array<[Script, boolean]> = [
    // 503 with the request in the message: retry notices, then the final error quoting it.
    [(_i, req) => apiError(503, `overloaded; you sent ${echo(req)}`), true],
    // 429 quoting the request, then success: the notice and the logs must not quote it raw.
    [
      (i, req) =>
        i === 0
          ? apiError(429, `slow down ${echo(req)} try again in 0s`, { code: "rate_limit_exceeded" })
          : normalStream(),
      false,
    ],
    // A stream whose first event is not JSON: the request, raw (never quoted, also not in part).
    [(_i, req) => ({ chunks: [`data: ${echo(req)} not json\n\n`] }), false],
    // A retryable response.failed quoting it: the retry notices themselves quote the server.
    [(_i, req) => ({
      chunks: [sseEvent("response.failed", {
        response: { error: { code: "server_error", message: `failed on ${echo(req)}` } },
      })],
    }), true],
  ];
  for (const [script, quoted] of scripts) {
    await using server = startResponsesServer(script);
    await withHome(async (home) => {
      for (const json of [false, true]) {
        const args = ["--log-level", "trace", "run", ...(json ? ["--json"] : []), "hi"];
        const r = await runCdxBounded(args, { env: env(home, server.baseUrl) });
        assert.ok(server.requests.some((q) => q.headers.get("authorization") === `Bearer ${KEY}`));
        assert.ok(!r.stdout.includes(KEY), `stdout leaks the key:\n${r.stdout}`);
        assert.ok(!r.stderr.includes(KEY), `stderr leaks the key:\n${r.stderr}`);
        if (quoted) assert.match(r.stderr + r.stdout, /\[REDACTED\]/, "the echo was there, masked");
      }
      const log = await Deno.readTextFile(`${home}/log/cdx.log`);
      assert.ok(!log.includes(KEY), "cdx.log leaks the key");
    });
  }
});

Deno.test("user mistakes are usage errors before any request: -o in a missing directory, an empty prompt", async () => {
  await using server = startResponsesServer([normalStream()]);
  await withHome(async (home) => {
    const missing = await runCdxBounded(["run", "-o", `${home}/no/such/dir/x.txt`, "hi"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(
      missing.stderr,
      /error: -o .*no\/such\/dir\/x\.txt: the directory .* does not exist/,
    );
    const dir = await runCdxBounded(["run", "-o", home, "hi"], { env: env(home, server.baseUrl) });
    assert.equal(dir.code, 2, dir.stderr);
    assert.match(dir.stderr, /is a directory/);
    const empty = await runCdxBounded(["run", ""], { env: env(home, server.baseUrl) });
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(empty.stderr, /error: the prompt is empty/);
    assert.equal(server.responseRequests().length, 0);
  });
});

Deno.test("a stdin prompt over 10 MiB is refused while it streams in: exit 2, nothing sent, stdin not read to its end", async () => {
  await using server = startResponsesServer([normalStream()]);
  await withHome(async (home) => {
    await using live = startCdx(["run"], { env: env(home, server.baseUrl), stdin: "pipe" });
    const writer = live.child.stdin.getWriter();
    const chunk = new Uint8Array(1024 * 1024).fill(0x61);
    let written = 0;
    // Up to 200 MiB; cdx must stop reading (the pipe then closes) long before. Not awaited
    // here: if cdx hung, finish() below kills it after its bound and the writes fail.
    const feeding = (async () => {
      try {
        while (written < 200 * 1024 * 1024) {
          await writer.write(chunk);
          written += chunk.length;
        }
      } catch { /* the reader went away: what we want */ }
    })();
    const r = await live.finish();
    await feeding;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error: the prompt is larger than 10 MiB/);
    assert.ok(written < 100 * 1024 * 1024, `cdx read ${written} bytes before refusing`);
    assert.equal(server.responseRequests().length, 0);
  });
});
