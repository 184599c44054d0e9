/**
 * The only tests that use codex's fixed callback ports 1455 and 1457 (every
 * other login test passes `--port 0`, so `deno test --parallel` never races
 * for them): cdx's fallback from a busy 1455 to 1457, the error when both
 * are taken, and codex 0.169.0's own browser login side by side with cdx's
 * against the same fake — same requests, same auth.json shape; and a
 * `codex login` started while cdx waits on 1455 asks cdx to stop
 * (`GET /cancel`), as it asks an older codex login.
 */
import assert from "node:assert/strict";
import { type LoginOptions, runLogin } from "../commands/login.ts";
import { CdxError } from "../lib/errors.ts";
import { startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { authContext, exists, tempHome } from "./helpers/auth_context.ts";
import { authorizeUrlIn, playBrowser, visit, waitFor, watchCdx } from "./helpers/browser.ts";
import {
  findCodex,
  hasCodexPeer,
  noCodexNote,
  spawnCodex,
  startAuthOpenAiStandIn,
} from "./helpers/codex_peer.ts";
import { runCdx, spawnCdx } from "./helpers/cli.ts";
import { assertSchema } from "./helpers/schema.ts";

const HAS_CODEX = hasCodexPeer();
const NO_CODEX = noCodexNote();

function options(): LoginOptions {
  return { command: "login", noBrowser: true, store: "file" } as LoginOptions;
}

/**
 * Holds 127.0.0.1:port. A port in use is first waited for (the previous
 * step's callback server may still be closing); one that stays in use (a
 * codex login on this machine) is just as busy.
 */
async function hold(port: number): Promise<Disposable> {
  const listen = () => {
    try {
      return Deno.listen({ hostname: "127.0.0.1", port });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) return undefined;
      throw error;
    }
  };
  const listener = await waitFor(listen, `127.0.0.1:${port} to be free`, 10_000).catch(() =>
    undefined
  );
  return { [Symbol.dispose]: () => listener?.close() };
}

Deno.test("a busy 1455 makes cdx listen on 1457 (both on codex's redirect allow-list); both busy is a clear error", async () => {
  await using home = await tempHome();
  await using fake = await startCodexAuthServer({ redirectPorts: [1455, 1457] });
  {
    using _busy = await hold(1455);
    const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
    const login = runLogin(ctx, options());
    const url = await waitFor(() => authorizeUrlIn(ctx.stderr.text()), "the authorize URL");
    assert.equal(
      new URL(url).searchParams.get("redirect_uri"),
      "http://127.0.0.1:1457/auth/callback",
    );
    await playBrowser(url);
    assert.equal(await login, 0);
  }
  await Deno.remove(`${home.path}/auth.json`);
  {
    using _a = await hold(1455);
    using _b = await hold(1457);
    const ctx = await authContext(home.path, { env: { CDX_ISSUER: fake.url } });
    await assert.rejects(runLogin(ctx, options()), (e) => {
      assert.ok(e instanceof CdxError);
      assert.match(
        e.message,
        /cannot listen for the sign-in on 127\.0\.0\.1 port 1455 or 1457: already in use/,
      );
      assert.match(e.hint!, /--device-auth/);
      return true;
    });
    assert.equal(fake.authorizeRequests.length, 1, "no second authorize request");
    assert.equal(await exists(`${home.path}/auth.json`), false);
  }
});

Deno.test({
  name:
    `codex interop: codex 0.169.0's own browser login and cdx's send the same requests and write the same auth.json shape${NO_CODEX}`,
  ignore: !HAS_CODEX,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using fake = await startCodexAuthServer({});
    await using standIn = await startAuthOpenAiStandIn(fake.url);
    await using codexHome = await tempHome();
    await using cdxHome = await tempHome();

    const child = spawnCodex(["login"], {
      ...standIn.env,
      CODEX_HOME: codexHome.path,
      PATH: Deno.env.get("PATH")!,
      HOME: Deno.env.get("HOME") ?? "/root",
    });
    const codexOut = watchCdx(child);
    // Never leave codex waiting on 1455 if an assertion below fails.
    const kill = setTimeout(() => child.kill(), 120_000);
    try {
      const codexUrl = new URL(
        await waitFor(
          () => /https:\/\/auth\.openai\.com\/oauth\/authorize\?\S+/.exec(codexOut.stderr())?.[0],
          "codex's authorize URL",
        ),
      );
      const callback = await playBrowser(`${fake.url}${codexUrl.pathname}${codexUrl.search}`);
      // codex answers its callback with a redirect to its /success page and ends once that is loaded.
      assert.equal(callback.status, 302);
      await visit(callback.headers.get("location")!);
    } catch (error) {
      child.kill();
      throw error;
    } finally {
      clearTimeout(kill);
    }
    const byCodex = await codexOut.done();
    assert.equal(byCodex.code, 0, byCodex.stderr);

    const cdx = watchCdx(spawnCdx(["login", "--no-browser"], {
      env: { CODEX_HOME: cdxHome.path, CDX_CREDENTIALS_STORE: "file", CDX_ISSUER: fake.url },
    }));
    await playBrowser(await cdx.authorizeUrl());
    const byCdx = await cdx.done();
    assert.equal(byCdx.code, 0, byCdx.stderr);

    // The same authorize request (keys in the same order, same redirect_uri)…
    const [a, b] = fake.authorizeRequests;
    assert.deepEqual(b.keys, a.keys);
    for (const key of ["response_type", "client_id", "redirect_uri", "scope", "originator"]) {
      assert.equal(b.params.get(key), a.params.get(key), key);
    }
    // …the same token requests…
    const forms = (grant: string) =>
      fake.requests.filter((r) => r.path === "/oauth/token").map((r) => new URLSearchParams(r.body))
        .filter((f) => f.get("grant_type") === grant).map((f) => [...f.keys()]);
    const [codexExchange, cdxExchange] = forms("authorization_code");
    assert.deepEqual(cdxExchange, codexExchange);
    const [codexKey, cdxKey] = forms("urn:ietf:params:oauth:grant-type:token-exchange");
    assert.deepEqual(cdxKey, codexKey);
    // …and the same record.
    const x = JSON.parse(await Deno.readTextFile(`${codexHome.path}/auth.json`));
    const y = JSON.parse(await Deno.readTextFile(`${cdxHome.path}/auth.json`));
    assert.deepEqual(Object.keys(y), Object.keys(x));
    assert.deepEqual(Object.keys(y.tokens), Object.keys(x.tokens));
    assert.equal(typeof y.OPENAI_API_KEY, typeof x.OPENAI_API_KEY);
    assert.equal(y.tokens.oauth_provenance.client_id, x.tokens.oauth_provenance.client_id);
    assert.equal(y.tokens.account_id, x.tokens.account_id);

    // Each reads the other's.
    const status = await runCdx(["login", "status", "--json"], {
      env: { CODEX_HOME: codexHome.path, CDX_CREDENTIALS_STORE: "file" },
    });
    assert.equal(assertSchema("status", JSON.parse(status.stdout)).auth_mode, "chatgpt");
  },
});

Deno.test({
  name:
    `codex interop: a codex 0.169.0 login started while cdx waits on 1455 sends GET /cancel and cdx's login stops; nothing saved${NO_CODEX}`,
  ignore: !HAS_CODEX || !findCodex(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using fake = await startCodexAuthServer({ redirectPorts: [1455, 1457] });
    await using standIn = await startAuthOpenAiStandIn(fake.url);
    await using codexHome = await tempHome();
    await using cdxHome = await tempHome();
    const cdx = watchCdx(spawnCdx(["login", "--no-browser"], {
      env: {
        CODEX_HOME: cdxHome.path,
        CDX_CREDENTIALS_STORE: "file",
        CDX_ISSUER: fake.url,
        // The 15-minute wait scaled to 18 s: a cdx that ignored the cancel fails (124), never hangs.
        CDX_TEST_POLL_SCALE: "0.02",
      },
    }));
    const url = new URL(await cdx.authorizeUrl());
    assert.equal(new URL(url.searchParams.get("redirect_uri")!).port, "1455");
    // The executable itself (not npx's launcher), so killing it ends it and its pipes.
    const [cmd, ...pre] = findCodex()!;
    const codex = new Deno.Command(cmd, {
      args: [...pre, "login"],
      env: {
        ...standIn.env,
        CODEX_HOME: codexHome.path,
        PATH: Deno.env.get("PATH")!,
        HOME: Deno.env.get("HOME") ?? "/root",
      },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const codexOut = watchCdx(codex);
    try {
      const byCdx = await cdx.done();
      assert.equal(byCdx.code, 1, byCdx.stderr);
      assert.match(
        byCdx.stderr,
        /the sign-in was cancelled: another login \(codex login or cdx login\) took over port 1455/,
      );
      assert.equal(await exists(`${cdxHome.path}/auth.json`), false);
      // codex goes on with its own login (on 1455 once cdx let it go, or on 1457).
      await waitFor(
        () => /https:\/\/auth\.openai\.com\/oauth\/authorize\?\S+/.exec(codexOut.stderr())?.[0],
        "codex's authorize URL",
      );
    } finally {
      codex.kill();
      await codexOut.done();
    }
  },
});
