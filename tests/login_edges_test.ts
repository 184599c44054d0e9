/**
 * `cdx login` at its edges, through the real CLI: bad values are usage
 * errors (exit 2) before anything runs. That every wait of the login flows
 * is bounded (exit 124 naming the host, what cdx was doing and the setting)
 * and ends with 130 / 143 on SIGINT / SIGTERM with nothing saved is in the
 * interrupt table (tests/interrupt_table_test.ts), with every other wait.
 */
import assert from "node:assert/strict";
import { runCdx } from "./helpers/cli.ts";
import { startOidcProvider } from "./helpers/oidc.ts";
import { exists, tempHome } from "./helpers/auth_context.ts";

function fileEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CODEX_HOME: home, CDX_CREDENTIALS_STORE: "file", ...extra };
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
