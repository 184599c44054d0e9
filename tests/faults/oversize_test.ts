/**
 * Fault suite, oversize inputs: a 50 MB auth.json and a 1 MB credential to
 * migrate (refused with one line, the file left as it was — the credential
 * in it still works once it is back to a sane size), a 100 KB credential
 * (moved into ONE keychain item codex reads), a 40 KB and a 1 MB token in
 * the issuer's refresh answer, and a 1 MB error page from the token
 * endpoint that echoes the refresh token (the redactor must neither crash
 * nor let it through). After each case the shared check of harness.ts.
 */
import assert from "node:assert/strict";
import type { AuthData } from "../../lib/auth/auth_json.ts";
import { type Case, type CaseSpec, faultTest, runCases } from "./harness.ts";

/** `auth` with an unknown field of `bytes` characters (codex keeps unknown fields; so does cdx). */
function padded(auth: AuthData, bytes: number): AuthData {
  return { ...auth, padding: "p".repeat(bytes) } as AuthData;
}

async function sha(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
}

/** Refused with one `error:` line naming the size; the file is left exactly as it was. */
async function refusedUntouched(c: Case, args: string[]): Promise<void> {
  const path = `${c.home}/auth.json`;
  const before = await sha(path);
  const run = await c.cdx(args);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /^error: .*too large/m);
  assert.equal(await sha(path), before, "auth.json was changed");
  assert.equal(await c.item(), undefined, "something was put in the keychain");
}

function specs(): CaseSpec[] {
  return [
    {
      name: "a 50 MB auth.json: status and token refuse it with one line and leave it alone",
      row: "oversize",
      async run(c) {
        const auth = c.mintLogin();
        await c.seedFile("file", padded(auth, 50 * 1024 * 1024));
        await refusedUntouched(c, ["login", "status"]);
        await refusedUntouched(c, ["login", "token"]);
        await c.seedFile("file", auth); // what the hint says: move it away (here: trim it)
        return { kind: "chatgpt" };
      },
    },
    {
      name:
        "a 1 MB credential to migrate (auto): too large for one keychain item, it stays in auth.json, whole",
      row: "oversize",
      async run(c) {
        await c.seedFile(undefined, padded(c.mintLogin(), 1024 * 1024));
        const run = await c.cdx(["login", "token"]);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(await c.item(), undefined, "nothing in the keychain");
        const kept = JSON.parse(await Deno.readTextFile(`${c.home}/auth.json`));
        assert.equal(kept.padding.length, 1024 * 1024, "the unknown field is kept whole");
        return { kind: "chatgpt" };
      },
    },
    {
      name: "a 100 KB credential to migrate (auto): one keychain item codex reads, no chunks",
      row: "oversize",
      async run(c) {
        await c.seedFile(undefined, padded(c.mintLogin(), 100 * 1024));
        const run = await c.cdx(["login", "token"]);
        assert.equal(run.code, 0, run.stderr);
        const item = await c.item();
        assert.ok(item?.startsWith("{"), "one plain item");
        return { kind: "chatgpt" };
      },
    },
    ...[40 * 1024, 1024 * 1024].map((bytes): CaseSpec => ({
      name: `a ${
        bytes >> 10
      } KB access token in the refresh answer (keychain): saved, read back, no leak`,
      row: "oversize",
      async run(c) {
        const auth = await c.seedKeychain();
        c.world.issuer.answerRefreshWith(auth.tokens!.refresh_token, {
          pad: { field: "access_token", bytes },
        });
        const run = await c.cdx(["login", "token"]);
        assert.ok([0, 1].includes(run.code), run.stderr);
        return { kind: "chatgpt" };
      },
    })),
    {
      name:
        "a 1 MB HTML error page from the token endpoint, echoing the refresh token: retried, nothing leaks",
      row: "oversize",
      async run(c) {
        const auth = await c.seedKeychain();
        const rt = auth.tokens!.refresh_token;
        const page = `<html><body><pre>upstream error for refresh_token=${rt}</pre>${
          "<p>padding</p>".repeat(75_000)
        }</body></html>`;
        c.world.issuer.answerRefreshWith(rt, { fail: { status: 502, body: page } });
        const run = await c.cdx(["login", "token", "--log-level", "debug"]);
        assert.equal(run.code, 0, run.stderr);
        assert.ok(!run.stderr.includes("padding</p><p>"), "the page is not printed");
        return { kind: "chatgpt" };
      },
    },
  ];
}

faultTest(
  "faults: oversize files, credentials, tokens and error pages give one-line errors or are stored whole; nothing is lost or leaked",
  (t, world) => runCases(t, world, specs()),
);
