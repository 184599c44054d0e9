/**
 * `cdx login` at its edges, through the real CLI: bad values are usage
 * errors (exit 2) before anything runs; every request of the login flows is
 * bounded (a server that accepts and never answers ends in a timeout naming
 * the host, what cdx was doing and the setting, exit 124); and SIGINT /
 * SIGTERM at each wait exits 130 / 143 with nothing saved.
 */
import assert from "node:assert/strict";
import { runCdx, spawnCdx } from "./helpers/cli.ts";
import { type RecordedRequest, startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { startOidcProvider } from "./helpers/oidc.ts";
import { exists, tempHome } from "./helpers/auth_context.ts";
import { waitFor, watchCdx } from "./helpers/browser.ts";

function fileEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CODEX_HOME: home, CDX_CREDENTIALS_STORE: "file", ...extra };
}

/** A TCP server that accepts connections and never says a word. */
function silentServer(): { url: string; accepted: () => number } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch { /* closed */ }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    accepted: () => conns.length,
    [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) c.close();
      return Promise.resolve();
    },
  };
}

// --- usage errors: exit 2 before anything runs ---------------------------------------------------

const USAGE_CASES: Array<{ args: string[]; env?: Record<string, string>; message: RegExp }> = [
  { args: ["--issuer", "foo"], message: /--issuer must be an http\(s\) URL, not "foo"/ },
  { args: ["--issuer", "ftp://x"], message: /--issuer must be an http\(s\) URL/ },
  { args: [], env: { CDX_ISSUER: "not a url" }, message: /CDX_ISSUER must be an http\(s\) URL/ },
  { args: ["--port", "70000"], message: /--port/ },
  { args: ["--port", "http"], message: /--port/ },
  { args: ["--with-api-key", "--device-auth"], message: /cannot be combined with --device-auth/ },
  { args: ["--with-api-key", "--port", "0"], message: /cannot be combined with --port/ },
  { args: ["--device-auth", "--port", "0"], message: /--port applies to the browser login/ },
];

for (const c of USAGE_CASES) {
  Deno.test(`usage: cdx login ${c.args.join(" ")}${c.env ? ` (${Object.keys(c.env)})` : ""} → exit 2 before anything runs`, async () => {
    await using home = await tempHome();
    const r = await runCdx(["login", ...c.args], { env: fileEnv(home.path, c.env), stdin: "" });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, c.message);
    assert.doesNotMatch(r.stderr, /Sign in|internal error|hint: check the network/);
    assert.equal(await exists(`${home.path}/auth.json`), false);
  });
}

Deno.test("usage: a standard OIDC issuer without --client-id is a usage error with a hint (browser and device)", async () => {
  await using home = await tempHome();
  await using op = await startOidcProvider({ authorizationCode: true });
  for (const extra of [[], ["--device-auth"]]) {
    const r = await runCdx(["login", "--issuer", op.issuer, "--no-browser", ...extra], {
      env: fileEnv(home.path),
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /error: http:\/\/127\.0\.0\.1:\d+ is a standard OpenID Connect issuer: cdx needs its client id \(--client-id\)\nhint: register cdx there as a public/,
    );
    assert.doesNotMatch(r.stderr, /client authentication failed/);
  }
});

// --- every request bounded --------------------------------------------------------------------

Deno.test("an issuer that accepts and never answers ends in a timeout naming host and setting, exit 124", async () => {
  await using home = await tempHome();
  await using silent = silentServer();
  const r = await runCdx(["login", "--issuer", silent.url, "--no-browser", "--port", "0"], {
    env: fileEnv(home.path, { CDX_REQUEST_TIMEOUT: "1" }),
  });
  assert.equal(r.code, 124, r.stderr);
  assert.equal(
    r.stderr,
    `error: ${new URL(silent.url).host} did not answer within 1 s (OIDC discovery)\n` +
      "hint: set CDX_REQUEST_TIMEOUT=<seconds> (or request_timeout under [cdx] in config.toml) to wait longer\n",
  );
  assert.ok(silent.accepted() >= 1);
});

const isPath = (path: string) => (r: RecordedRequest) => r.path === path;
const isGrant = (grant: string) => (r: RecordedRequest) =>
  r.path === "/oauth/token" && new URLSearchParams(r.body).get("grant_type") === grant;
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

interface WaitPoint {
  name: string;
  flow: "browser" | "device";
  hang?: (r: RecordedRequest) => boolean;
  /** What the timeout message names. */
  what?: string;
  interval?: string;
}

const WAIT_POINTS: WaitPoint[] = [
  {
    name: "OIDC discovery",
    flow: "browser",
    hang: isPath("/.well-known/openid-configuration"),
    what: "OIDC discovery",
  },
  { name: "browser: waiting for the sign-in", flow: "browser" },
  {
    name: "browser: code exchange",
    flow: "browser",
    hang: isGrant("authorization_code"),
    what: "token exchange",
  },
  {
    name: "browser: API-key exchange",
    flow: "browser",
    hang: isGrant(TOKEN_EXCHANGE),
    what: "API key exchange",
  },
  {
    name: "device: user code request",
    flow: "device",
    hang: isPath("/api/accounts/deviceauth/usercode"),
    what: "device code request",
  },
  {
    name: "device: poll",
    flow: "device",
    hang: isPath("/api/accounts/deviceauth/token"),
    what: "device code poll",
  },
  { name: "device: wait between polls", flow: "device", interval: "30" },
  {
    name: "device: code exchange",
    flow: "device",
    hang: isGrant("authorization_code"),
    what: "token exchange",
  },
];

/** Starts a login at `point` and resolves once cdx is provably waiting there. */
async function loginWaitingAt(point: WaitPoint, home: string, extraEnv: Record<string, string>) {
  const fake = await startCodexAuthServer({
    hang: point.hang,
    interval: point.interval,
    autoApproveAfterPolls: point.interval ? undefined : 1,
  });
  const args = point.flow === "device"
    ? ["login", "--device-auth", "--no-browser"]
    : ["login", "--no-browser", "--port", "0"];
  const cdx = watchCdx(
    spawnCdx(args, { env: fileEnv(home, { CDX_ISSUER: fake.url, ...extraEnv }) }),
  );
  if (point.flow === "browser" && point.name !== "OIDC discovery") {
    const url = await cdx.authorizeUrl();
    if (point.hang) {
      // The browser's part; its callback page stays open while cdx exchanges the code.
      const authorize = await fetch(url, { redirect: "manual" });
      await authorize.body?.cancel();
      fetch(authorize.headers.get("location")!).then((r) => r.body?.cancel()).catch(() => {});
    }
  }
  if (point.hang) {
    await waitFor(() => fake.requests.some(point.hang!), `the request at ${point.name}`);
  } else if (point.interval) {
    await waitFor(() => fake.requests.some(isPath("/api/accounts/deviceauth/token")), "a poll");
  }
  return { fake, cdx };
}

for (const point of WAIT_POINTS.filter((p) => p.what)) {
  Deno.test(`bounded: a hung ${point.name} ends with a timeout naming it${point.what === "API key exchange" ? " (best effort: the login still succeeds)" : ", exit 124"}`, async () => {
    await using home = await tempHome();
    const { fake, cdx } = await loginWaitingAt(point, home.path, { CDX_REQUEST_TIMEOUT: "1" });
    await using _ = fake;
    const r = await cdx.done();
    if (point.what === "API key exchange") {
      assert.equal(r.code, 0, r.stderr);
      const saved = JSON.parse(await Deno.readTextFile(`${home.path}/auth.json`));
      assert.equal(saved.OPENAI_API_KEY, null);
      return;
    }
    assert.equal(r.code, 124, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `error: 127\\.0\\.0\\.1:\\d+ did not answer within 1 s \\(${point.what}\\)\\nhint: set CDX_REQUEST_TIMEOUT`,
      ),
    );
    assert.equal(await exists(`${home.path}/auth.json`), false);
  });
}

for (const point of WAIT_POINTS) {
  for (
    const [signal, code, word] of [["SIGINT", 130, "interrupted"], [
      "SIGTERM",
      143,
      "terminated",
    ]] as const
  ) {
    Deno.test(`${signal} while waiting at ${point.name} → exit ${code} "${word}", nothing saved`, async () => {
      await using home = await tempHome();
      const { fake, cdx } = await loginWaitingAt(point, home.path, {});
      await using _ = fake;
      cdx.child.kill(signal);
      const r = await cdx.done();
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, new RegExp(`${word}\\n$`));
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.equal(await exists(`${home.path}/auth.json`), false);
    });
  }
}
