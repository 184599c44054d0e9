/**
 * Fault suite, cdx vs the real codex 0.169.0: N `cdx login token` and a
 * `codex exec` (against the local Responses stand-in) start at once with
 * the same expired token, in auth.json (`file`) and in the keychain
 * (`auto`), under two issuers:
 *
 * - `race`: the issuer rejects a reused refresh token (the model of issue
 *   10). Every process must succeed, none may say "already used… sign in
 *   again", the cdx processes send at most one refresh among themselves (a
 *   cdx that meets a reused token waits for the other process's save), and
 *   the stored credential must still be accepted.
 * - `race-strict`: the issuer revokes the whole grant on reuse. Same
 *   assertions, but a known issue: codex 0.169.0 takes `auth.lock` only
 *   around its write (strace: flock(auth.lock) after its refresh answer, then
 *   `.auth-XXXX` renamed over auth.json), so it can send the token cdx is
 *   rotating, and this issuer then ends the login for both tools.
 *
 * Then the shared check of harness.ts. Skipped (visibly) when codex 0.169.0
 * is not in the npx cache.
 *
 * One codex, not N: several codex 0.169.0 processes race among themselves
 * (measured: 3 `codex exec` at once sent the same refresh token 3 times and
 * the strict issuer revoked the grant, with or without cdx around). That is
 * codex's own race, outside what cdx can fix; `CODEX_N=3` reproduces it.
 */
import assert from "node:assert/strict";
import { normalStream, startResponsesServer } from "../fakes/responses_server.ts";
import { type Case, type CaseSpec, faultTest, findCodex, runCases, skipRow } from "./harness.ts";

const CODEX = findCodex();
const N = 3;
const CODEX_N = Number(Deno.env.get("CODEX_N") ?? 1);

/** codex exec with ChatGPT auth against the stand-in (no WebSocket, no connectors). */
async function codexExec(c: Case, baseUrl: string) {
  const out = await c.runCodex([
    "exec",
    "--skip-git-repo-check",
    "--disable",
    "apps",
    "-c",
    'model_provider="fake"',
    "-c",
    'model="gpt-fake"',
    "-c",
    `model_providers.fake={name="fake",base_url="${baseUrl}",wire_api="responses",requires_openai_auth=true,supports_websockets=false,request_max_retries=0,stream_max_retries=0}`,
    "say ok",
  ], { cwd: c.dir });
  const record = {
    args: ["codex", "exec"],
    code: out.code,
    stdout: out.stdout,
    stderr: out.stderr,
  };
  c.runs.push(record);
  return record;
}

/** Issuer policy on reuse, and whose refresh the issuer answers first when both overlap. */
const VARIANTS = [
  { policy: "reject", winner: "cdx" },
  { policy: "reject", winner: "codex" },
  { policy: "revoke-grant", winner: undefined },
] as const;

function specs(): CaseSpec[] {
  return (["file", "auto"] as const).flatMap((mode) =>
    VARIANTS.map(({ policy, winner }): CaseSpec => ({
      name: `${N} cdx login token + ${CODEX_N} codex exec at once, expired token in ${
        mode === "file" ? "auth.json" : "the keychain"
      }, issuer ${
        policy === "reject"
          ? `rejecting a reused token, ${winner} answered first`
          : "revoking the grant on reuse"
      }: every process succeeds, no "already used"`,
      row: policy === "reject" ? "race" : "race-strict",
      expectOnError: { kind: "chatgpt-unexpired" },
      // Under an issuer that revokes the whole grant on reuse, a refresh token codex sends after
      // cdx rotated it ends the login for both tools (seen in 2 of 14 cases). Observed with
      // strace: codex 0.169.0 takes auth.lock only around its write, after its refresh request,
      // so cdx (which holds it across read-refresh-write) cannot keep codex from sending a token
      // cdx is rotating; codex processes race each other the same way. Counted in the table,
      // not failing the suite: nothing cdx can change.
      knownIssue: policy === "revoke-grant"
        ? "codex 0.169.0 sends its refresh outside auth.lock; a grant-revoking issuer then ends the login"
        : undefined,
      async run(c) {
        const issuer = c.world.issuer;
        issuer.setReusePolicy(policy);
        try {
          const auth = c.mintLogin();
          // Expired: the stand-in mints valid tokens in this world, so expire this one by hand.
          auth.tokens!.access_token = issuer.mintTokens({ accessTokenTtlS: -60 }).access_token;
          const seeded = issuer.currentRefreshToken!;
          auth.tokens!.refresh_token = seeded;
          if (mode === "file") await c.seedFile("file", auth);
          else {
            await c.writeConfig("auto");
            await c.storeItem(auth);
          }
          // cdx's refresh and codex's of the same token reach the issuer together (bounded:
          // a process that finds the token fresh sends nothing), so the loser meets a reused token.
          issuer.overlapRefreshesWith(
            seeded,
            2,
            10_000,
            (r) => r.headers["user-agent"]?.startsWith("cdx/") === (winner === "cdx"),
          );
          await using responses = startResponsesServer([normalStream("ok")]);
          const before = issuer.requests.length;
          const reusedBefore = issuer.reuseCount;
          const runs = await Promise.all([
            ...Array.from({ length: N }, () => c.cdx(["login", "token"])),
            ...Array.from({ length: CODEX_N }, () => codexExec(c, responses.baseUrl)),
          ]);
          for (const run of runs) {
            assert.equal(run.code, 0, `${run.args.join(" ")}: ${run.stderr.slice(-800)}`);
            assert.doesNotMatch(run.stderr, /already used|sign in again/);
          }
          const refreshes = issuer.requests.slice(before).filter((r) => r.path === "/oauth/token");
          // One rotation per tool at most: the cdx processes rotate once among themselves
          // (auth.lock); a cdx that meets a reused token sends nothing new but waits for the other
          // process's save. (A cdx queued behind the lock may send the old token once more before
          // codex's save is visible: answered "reused", harmless under this issuer.)
          const reused = issuer.reuseCount - reusedBefore;
          // The forced overlap happened: the loser's request was answered "reused".
          assert.ok(reused >= 1, "the two refreshes overlapped (one was answered reused)");
          const rotations = refreshes.length - reused;
          assert.ok(
            rotations >= 1 && rotations <= 1 + CODEX_N,
            `${rotations} rotations in ${refreshes.length} refresh requests: ${
              refreshes.map((r) =>
                `${r.headers["user-agent"]?.slice(0, 24)} ${
                  JSON.parse(r.body).refresh_token?.slice(0, 8)
                } ${JSON.parse(r.body).refresh_reason}`
              ).join("; ")
            }`,
          );
          assert.ok(refreshes[0].body.includes(seeded));
          return { kind: "chatgpt-unexpired" };
        } finally {
          issuer.setReusePolicy("revoke-grant");
        }
      },
    }))
  );
}

faultTest(
  "faults: cdx and codex 0.169.0 refreshing the same expired token at once make one refresh and never say 'already used'",
  (t, world) => runCases(t, world, specs(), 1),
  { ignore: !CODEX, world: { accessTokenTtlS: 3600 } },
);

if (!CODEX) {
  skipRow("race", "codex 0.169.0 is not in the npx cache");
  skipRow("race-strict", "codex 0.169.0 is not in the npx cache");
}
