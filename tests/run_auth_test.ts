/**
 * `cdx run` with stored ChatGPT credentials, end to end: the real CLI, a
 * temporary CODEX_HOME in `file` mode, the fake Responses server and a fake
 * token endpoint (`CODEX_REFRESH_TOKEN_URL_OVERRIDE`).
 */
import assert from "node:assert/strict";
import { runCdx } from "./helpers/cli.ts";
import {
  DEFAULT_TEXT,
  normalStream,
  type RecordedRequest,
  startResponsesServer,
  unauthorized,
} from "./fakes/responses_server.ts";

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** An unsigned JWT (cdx only reads claims) with `exp` in seconds. */
function jwt(claims: Record<string, unknown>): string {
  return `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.sig`;
}

const ACCOUNT = "acc-test-1234";
const nowS = () => Math.floor(Date.now() / 1000);
const ID_TOKEN = jwt({
  email: "user@example.com",
  "https://api.openai.com/auth": { chatgpt_account_id: ACCOUNT, chatgpt_plan_type: "plus" },
  exp: nowS() + 3600,
});

function authJson(accessToken: string, refreshToken: string): string {
  return JSON.stringify(
    {
      auth_mode: "chatgpt",
      OPENAI_API_KEY: null,
      tokens: {
        id_token: ID_TOKEN,
        access_token: accessToken,
        refresh_token: refreshToken,
        account_id: ACCOUNT,
      },
      last_refresh: new Date().toISOString(),
    },
    null,
    2,
  );
}

interface Setup {
  home: string;
  env: Record<string, string>;
  refreshes: RecordedRequest[];
}

async function withStoredLogin(
  accessToken: string,
  tokenEndpoint: (req: RecordedRequest) => Response,
  script: Parameters<typeof startResponsesServer>[0],
  fn: (s: Setup, server: ReturnType<typeof startResponsesServer>) => Promise<void>,
) {
  const refreshes: RecordedRequest[] = [];
  await using server = startResponsesServer(script, {
    routes: {
      "/oauth/token": (req) => {
        refreshes.push(req);
        return tokenEndpoint(req);
      },
    },
  });
  const home = await Deno.makeTempDir({ prefix: "cdx-run-auth-" });
  try {
    await Deno.writeTextFile(`${home}/auth.json`, authJson(accessToken, "rt-old-123456"), {
      mode: 0o600,
    });
    const env = {
      CODEX_HOME: home,
      CDX_CREDENTIALS_STORE: "file",
      OPENAI_BASE_URL: server.baseUrl,
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `http://127.0.0.1:${server.port}/oauth/token`,
    };
    await fn({ home, env, refreshes }, server);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("stored ChatGPT login: bearer, account id header, and a 401 recovered by a refresh", async () => {
  const oldToken = jwt({ exp: nowS() + 3600, n: "old" });
  const newToken = jwt({ exp: nowS() + 7200, n: "new" });
  const script = (_i: number, req: RecordedRequest) =>
    req.headers.get("authorization") === `Bearer ${newToken}` ? normalStream() : unauthorized();
  await withStoredLogin(
    oldToken,
    () => Response.json({ access_token: newToken, refresh_token: "rt-new-654321" }),
    script,
    async ({ home, env, refreshes }, server) => {
      const r = await runCdx(["run", "hi"], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${DEFAULT_TEXT}\n`);
      const posts = server.responseRequests();
      assert.deepEqual(posts.map((p) => p.headers.get("authorization")), [
        `Bearer ${oldToken}`,
        `Bearer ${newToken}`,
      ]);
      assert.equal(posts[1].headers.get("chatgpt-account-id"), ACCOUNT);
      assert.equal(refreshes.length, 1);
      assert.equal(JSON.parse(refreshes[0].body).refresh_reason, "unauthorized_recovery");
      const stored = JSON.parse(await Deno.readTextFile(`${home}/auth.json`));
      assert.equal(stored.tokens.access_token, newToken);
      assert.equal(stored.tokens.refresh_token, "rt-new-654321");
      for (const secret of [oldToken, newToken, "rt-new-654321", "rt-old-123456"]) {
        assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret));
      }
    },
  );
});

Deno.test("an expired access token is refreshed before the request", async () => {
  const expired = jwt({ exp: nowS() - 60 });
  const fresh = jwt({ exp: nowS() + 3600, n: "fresh" });
  await withStoredLogin(
    expired,
    () => Response.json({ access_token: fresh }),
    [normalStream()],
    async ({ env, refreshes }, server) => {
      const r = await runCdx(["run", "hi"], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(refreshes.length, 1);
      assert.equal(JSON.parse(refreshes[0].body).refresh_reason, "proactive_expiry");
      assert.deepEqual(server.responseRequests().map((p) => p.headers.get("authorization")), [
        `Bearer ${fresh}`,
      ]);
    },
  );
});

Deno.test("a 401 whose refresh is refused permanently ends with 'log in again', exit 1", async () => {
  const token = jwt({ exp: nowS() + 3600 });
  await withStoredLogin(
    token,
    () => Response.json({ error: { code: "refresh_token_expired" } }, { status: 401 }),
    [unauthorized()],
    async ({ env }, server) => {
      const r = await runCdx(["run", "hi"], { env });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /refresh token has expired/);
      assert.match(r.stderr, /sign in again/);
      assert.equal(server.responseRequests().length, 1);
      assert.ok(!r.stderr.includes(token));
    },
  );
});

Deno.test("an API key in the environment wins over the stored login", async () => {
  const token = jwt({ exp: nowS() + 3600 });
  await withStoredLogin(
    token,
    () => new Response("unused", { status: 500 }),
    [normalStream()],
    async ({ env, refreshes }, server) => {
      const r = await runCdx(["run", "hi"], { env: { ...env, CODEX_API_KEY: "sk-env-wins-999" } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        server.responseRequests()[0].headers.get("authorization"),
        "Bearer sk-env-wins-999",
      );
      assert.equal(server.responseRequests()[0].headers.get("chatgpt-account-id"), null);
      assert.equal(refreshes.length, 0);
    },
  );
});
