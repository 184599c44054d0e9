/**
 * Redaction end to end with the real commands (issue 6, Tests): device-code
 * login, a proactive token refresh, `run` with a 401 recovered by a second
 * refresh, logout with revocation, then `feedback --output` and
 * `feedback --upload`, every command at `--log-level trace` against the local
 * stand-ins, which hand out known, distinctive secrets. Then every secret (its
 * full value and distinctive fragments) is searched in every stdout/stderr,
 * the raw feedback ring of every process, `$CODEX_HOME/log/cdx.log`, the
 * unpacked zip and the raw envelope the fake Sentry received: zero hits.
 *
 * To read the raw ring (cdx.log holds the ring's text after a last masking
 * pass, so it alone could hide a ring that kept a secret), this file doubles
 * as a cdx entry point: run as a program (never under `deno test`, where
 * `import.meta.main` is false) it is cli.ts's real `main()` plus an exit hook
 * that appends the ring's raw bytes to `$CDX_E2E_RING_DUMP`.
 */
import assert from "node:assert/strict";
import { main } from "../cli.ts";
import { installedCapture } from "../lib/feedback/capture.ts";
import { parseBlocks } from "../lib/feedback/blocks.ts";
import { startCodexAuthServer } from "./fakes/codex_auth_server.ts";
import { normalStream, startResponsesServer, unauthorized } from "./fakes/responses_server.ts";
import { startFakeSentry } from "./fakes/sentry_server.ts";
import { type CdxResult, runCdx } from "./helpers/cli.ts";

const RING_DUMP_ENV = "CDX_E2E_RING_DUMP";

if (import.meta.main) {
  const code = await main(Deno.args, {
    setup: (ctx) => {
      const dump = ctx.env.get(RING_DUMP_ENV);
      if (!dump) return;
      ctx.exitHooks.add(async () => {
        const ring = installedCapture(ctx)?.capture.ring.bytes() ?? new Uint8Array();
        await Deno.writeFile(dump, ring, { append: true });
      });
    },
  });
  Deno.exit(code);
}

const ENTRY = new URL(import.meta.url).pathname;
const decoder = new TextDecoder();
const ACCOUNT = "acct-e2e-redaction";

function random(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A JWT shaped like a real one (random 43-char signature); cdx reads claims, never verifies. */
function jwt(claims: Record<string, unknown>): { token: string; signature: string } {
  const signature = random(43);
  const header = b64url({ alg: "RS256", typ: "JWT", kid: random(12) });
  return { token: `${header}.${b64url({ ...claims, nonce: random(24) })}.${signature}`, signature };
}

/** One known secret and the fragments that must not appear either. */
interface Secret {
  name: string;
  value: string;
  /** The full value, a 16-char middle, and (JWTs) the signature segment. */
  needles: string[];
}

function secret(name: string, value: string, extra: string[] = []): Secret {
  const mid = Math.floor(value.length / 2);
  return { name, value, needles: [value, value.slice(mid - 8, mid + 8), ...extra] };
}

/** A token set as the fake hands it out, plus its secrets. */
function tokenSet(label: string, accessExpS: number) {
  const now = Math.floor(Date.now() / 1000);
  const id = jwt({
    email: "e2e@example.com",
    "https://api.openai.com/auth": {
      chatgpt_account_id: ACCOUNT,
      chatgpt_plan_type: "plus",
      chatgpt_user_id: "user-e2e",
    },
    exp: now + 3600,
  });
  const access = jwt({ sub: "user-e2e", exp: now + accessExpS });
  const refresh = `rt_${label}_${random(40)}`;
  return {
    set: { id_token: id.token, access_token: access.token, refresh_token: refresh },
    secrets: [
      secret(`${label} id_token`, id.token, [id.signature]),
      secret(`${label} access_token`, access.token, [access.signature]),
      secret(`${label} refresh_token`, refresh),
    ],
  };
}

function assertNoSecret(haystacks: Record<string, string>, secrets: Secret[]): void {
  for (const { name, needles } of secrets) {
    for (const needle of needles) {
      for (const [place, text] of Object.entries(haystacks)) {
        const at = text.indexOf(needle);
        assert.ok(
          at < 0,
          `${name} (${
            needle === needles[0] ? "full value" : `fragment ${needle}`
          }) found in ${place}: …${text.slice(Math.max(0, at - 100), at + 40)}…`,
        );
      }
    }
  }
}

async function readTree(dir: string, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) Object.assign(out, await readTree(path, `${prefix}${entry.name}/`));
    else out[`zip:${prefix}${entry.name}`] = decoder.decode(await Deno.readFile(path));
  }
  return out;
}

Deno.test("redaction end to end: login, refresh, run, logout and feedback at trace leave no secret in any output, ring, cdx.log, zip or envelope", async () => {
  const home = await Deno.makeTempDir({ prefix: "cdx-e2e-redaction-" });
  const login = tokenSet("login", -60); // already expired: `login token` must refresh
  const refreshed = tokenSet("refresh1", 3600); // rejected once by the model: `run` refreshes
  const recovered = tokenSet("refresh2", 3600);
  const device = {
    deviceAuthId: `deviceauth_${random(32)}`,
    userCode: `E2E-${random(16)}`,
    authorizationCode: `ac_${random(40)}`,
    codeVerifier: `ver_${random(60)}`,
  };
  await using auth = await startCodexAuthServer({
    interval: "1",
    autoApproveAfterPolls: 2,
    accountId: ACCOUNT,
    known: { ...device, tokenSets: [login.set, refreshed.set, recovered.set] },
  });
  await using model = startResponsesServer((_i, req) =>
    req.headers.get("authorization") === `Bearer ${recovered.set.access_token}`
      ? normalStream()
      : unauthorized()
  );
  await using sentry = startFakeSentry({ status: 200 });
  try {
    const env = {
      CODEX_HOME: home,
      CDX_CREDENTIALS_STORE: "file",
      CDX_ISSUER: auth.url,
      CDX_TEST_POLL_SCALE: "0.01",
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${auth.url}/oauth/token`,
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${auth.url}/oauth/revoke`,
      OPENAI_BASE_URL: model.baseUrl,
      CDX_FEEDBACK_DSN: sentry.dsn,
      [RING_DUMP_ENV]: `${home}/rings.bin`,
    };
    const results: Record<string, CdxResult> = {};
    const cdx = async (name: string, args: string[]) => {
      const r = await runCdx(["--log-level", "trace", ...args], { env, entry: ENTRY });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      results[name] = r;
      return r;
    };

    await cdx("login", ["login", "--device-auth", "--no-browser"]);
    const ownerId = JSON.parse(await Deno.readTextFile(`${home}/auth.json`)).tokens.login_owner_id;
    const token = await cdx("login token", ["login", "token"]);
    await cdx("login status", ["login", "status"]);
    const run = await cdx("run", ["run", "hi"]);
    await cdx("logout", ["logout"]);
    const zipPath = `${home}/report.zip`;
    await cdx("feedback --output", ["feedback", "--output", zipPath, "--yes", "--note", "e2e"]);
    await cdx("feedback --upload", ["feedback", "--upload", "--yes", "--note", "e2e"]);

    // The stand-ins really handed out and received the known values, so their absence below means something.
    const bodies = auth.requests.map((r) => r.body).join("\n");
    for (const value of [device.deviceAuthId, device.authorizationCode, device.codeVerifier]) {
      assert.ok(bodies.includes(value), "cdx sent the known device-flow values");
    }
    assert.equal(auth.refreshCount, 2);
    assert.ok(
      bodies.includes(login.set.refresh_token) && bodies.includes(refreshed.set.refresh_token),
    );
    assert.deepEqual(auth.revoked, [recovered.set.refresh_token]);
    assert.equal(token.stdout, `${refreshed.set.access_token}\n`);
    assert.deepEqual(model.responseRequests().map((r) => r.headers.get("authorization")), [
      `Bearer ${refreshed.set.access_token}`,
      `Bearer ${recovered.set.access_token}`,
    ]);
    assert.match(run.stdout, /Hello from the fake model/);
    assert.match(
      results.login.stderr,
      new RegExp(device.userCode),
      "the code is shown to the user",
    );
    assert.equal(sentry.received.length, 1);

    // The logs are not vacuously clean: trace lines of login, both refreshes and the run are there.
    const cdxLog = await Deno.readTextFile(`${home}/log/cdx.log`);
    // Seven invocations, six blocks: `login status` is read-only and writes no log block.
    assert.equal(parseBlocks(cdxLog).length, 6);
    const expectedLines = [
      /TRACE cdx\.auth: device code pending/,
      /cdx\.auth: refreshing the access token \(proactive_expiry/,
      /cdx\.auth: refreshing the access token \(unauthorized_recovery/,
      /cdx\.model: POST http:\/\/127\.0\.0\.1:\d+\/v1\/responses → 401/,
      /cdx\.model: POST http:\/\/127\.0\.0\.1:\d+\/v1\/responses → 200/,
    ];
    for (const line of expectedLines) assert.match(cdxLog, line);

    const unzipped = await Deno.makeTempDir({ dir: home, prefix: "unzipped-" });
    const unzip = await new Deno.Command("unzip", { args: ["-q", zipPath, "-d", unzipped] })
      .output();
    assert.equal(unzip.code, 0, decoder.decode(unzip.stderr));
    const zip = await readTree(unzipped, "");
    for (const line of expectedLines) assert.match(zip["zip:cdx-logs.log"], line);
    const received = sentry.received[0];
    const envelope = decoder.decode(received.body);
    for (const line of expectedLines) assert.match(envelope, line);
    const rings = decoder.decode(await Deno.readFile(`${home}/rings.bin`));
    assert.match(rings, /TRACE cdx\.auth: device code pending/);

    const outputs: Record<string, string> = {};
    for (const [name, r] of Object.entries(results)) {
      // `cdx login token` prints the access token on stdout by design (it is its job); its stderr is searched.
      if (name !== "login token") outputs[`stdout of ${name}`] = r.stdout;
      outputs[`stderr of ${name}`] = r.stderr;
    }
    const tokens = [...login.secrets, ...refreshed.secrets, ...recovered.secrets];
    const secrets = [
      secret("device_auth_id", device.deviceAuthId),
      secret("authorization_code", device.authorizationCode),
      secret("code_verifier", device.codeVerifier),
      secret("login_owner_id", ownerId),
      ...tokens,
    ];
    const stored = {
      ring: rings,
      "cdx.log": cdxLog,
      ...zip,
      envelope,
      "envelope headers": JSON.stringify([...received.headers]),
    };
    assertNoSecret({ ...outputs, ...stored }, secrets);
    // The user code is shown on login's stderr by design (the user types it); nowhere else.
    const { "stderr of login": _shown, ...elsewhere } = outputs;
    assertNoSecret({ ...elsewhere, ...stored }, [secret("user_code", device.userCode)]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
