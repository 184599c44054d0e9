/**
 * The interrupt table: every place cdx waits × {Ctrl-C (SIGINT), SIGTERM,
 * hang}, through the real CLI, each point held deterministically
 * (tests/helpers/wait_points.ts).
 *
 * - A signal at any wait ends cdx with 130 / 143, `interrupted` /
 *   `terminated` as the last line on stderr, never "internal error", and
 *   nothing left behind: CODEX_HOME holds exactly what it held before
 *   (credentials unchanged, no half-written or stray file; cdx.log and the
 *   lock files, which codex keeps too, aside).
 * - The hang column sends nothing: with a small bound (`CDX_REQUEST_TIMEOUT=2`,
 *   the keychain's 3 s, the lock bound, `--idle-timeout 2`, the login's
 *   15 minutes scaled down) each point ends with its documented error and
 *   exit code. Input a person controls (a prompt, a stdin pipe) has no bound
 *   by design: there the column is the end of input.
 *
 * With `CDX_EDGE_TABLE=<file>` the observed rows become the README's table
 * (`deno task edges`).
 */
import assert from "node:assert/strict";
import { type Column, type Observation, WAIT_POINTS } from "./helpers/wait_points.ts";
import { lastLine, normalise, recordRow } from "./helpers/edge_table.ts";
import { pooled } from "./helpers/pool.ts";

const TIMEOUT_HINT = String
  .raw`hint: set CDX_REQUEST_TIMEOUT=<seconds> \(or request_timeout under \[cdx\] in config\.toml\) to wait longer`;
const HOST = String.raw`127\.0\.0\.1:\d+`;

/** A request that never answers, under `CDX_REQUEST_TIMEOUT=2`: 124, the host and what cdx was doing. */
function requestBound(what: string): Expectation {
  return {
    bound: "CDX_REQUEST_TIMEOUT=2",
    code: 124,
    stderr: [
      new RegExp(
        `^error: ${HOST} did not answer within 2 s \\(${what}\\)\n${TIMEOUT_HINT}\n$`,
        "m",
      ),
    ],
  };
}

/** What the hang column must show. */
interface Expectation {
  /** The bound the column runs under (shown in the table). */
  bound: string;
  code: number;
  stderr: RegExp[];
  /** CODEX_HOME changes it leaves, in order (default none). */
  changes?: Array<string | RegExp>;
  check?(o: Observation): void | Promise<void>;
}

/** The table: each point's hang outcome, and what a signal there must leave untouched. */
const TABLE: Record<string, { hang: Expectation; signal?(o: Observation): void }> = {
  "discovery": { hang: requestBound("OIDC discovery") },
  "browser-wait": {
    hang: {
      bound: "15 min (scaled to 0.9 s)",
      code: 124,
      stderr: [/^error: no sign-in arrived within 900 ms$/m],
    },
  },
  "browser-exchange": { hang: requestBound("token exchange") },
  "api-key-exchange": {
    hang: {
      bound: "CDX_REQUEST_TIMEOUT=2; best effort",
      code: 0,
      stderr: [/^Successfully logged in$/m],
      changes: ["+auth.json"],
      check: (o) => {
        const saved = JSON.parse(o.after.get("auth.json")!);
        assert.equal(saved.OPENAI_API_KEY, null, "the login is saved without the API key");
        assert.equal(typeof saved.tokens.refresh_token, "string");
      },
    },
  },
  "device-usercode": { hang: requestBound("device code request") },
  "device-poll": { hang: requestBound("device code poll") },
  "device-interval": {
    hang: {
      bound: "15 min (scaled to 0.9 s)",
      code: 124,
      stderr: [/^error: device auth timed out after 15 minutes$/m],
    },
  },
  "device-exchange": { hang: requestBound("token exchange") },
  "refresh": { hang: requestBound("token refresh") },
  "lock": {
    hang: {
      bound: "lock bound (2 min; 1 s here)",
      code: 124,
      stderr: [/^error: could not lock \S+\/auth\.lock within 1 s: another cdx or codex process/m],
    },
    signal: (o) => assert.equal(o.requests, 0, "no refresh request after an interrupted lock wait"),
  },
  "revoke": {
    hang: {
      bound: "CDX_REQUEST_TIMEOUT=2; best effort",
      code: 0,
      stderr: [
        new RegExp(
          `^warning: ${HOST} did not answer within 2 s \\(token revocation\\); the token was not revoked$`,
          "m",
        ),
        /^Successfully logged out$/m,
      ],
      changes: ["-auth.json"],
    },
  },
  "keychain": {
    hang: {
      bound: "keychain bound, 3 s",
      code: 3,
      stderr: [
        /^error: cannot tell whether you are logged in: .*Secret Service did not answer within 3 s/m,
      ],
    },
  },
  "prompt": {
    hang: {
      bound: "none (a person answers); Ctrl-D",
      code: 1,
      stderr: [/^Cancelled; nothing was written or sent\.$/m],
    },
  },
  "upload": {
    hang: {
      ...requestBound("feedback upload"),
      stderr: [
        new RegExp(`^error: .*${HOST} did not answer within 2 s \\(feedback upload\\)$`, "m"),
        /the report is kept at \S+\.zip/,
      ],
    },
  },
  "run-stdin": {
    hang: {
      bound: "none (the input is the user's); end of input",
      code: 0,
      stderr: [/^Reading additional input from stdin\.\.\.$/m],
      // The answered run is kept as a session (`cdx run --continue`).
      changes: [/^\+cdx\/sessions\/[0-9a-f-]+\.jsonl$/, "+cdx/sessions/sessions.lock"],
      check: (o) => assert.equal(o.requests, 1, "the prompt is sent once stdin ends"),
    },
    signal: (o) => assert.equal(o.requests, 0, "nothing is sent after an interrupted read"),
  },
  "api-key-stdin": {
    hang: {
      bound: "none (the input is the user's); end of input",
      code: 2,
      stderr: [/^error: No API key provided via stdin\.$/m],
    },
  },
  "model-connect": { hang: requestBound("model request") },
  "model-stream": {
    hang: {
      bound: "--idle-timeout 2",
      code: 124,
      stderr: [/^error: no event from the model server for 2 s \(--idle-timeout\)$/m],
      check: (o) =>
        assert.equal(o.stdout, "partial \n", "the partial answer stays, its line ended"),
    },
    signal: (o) => assert.equal(o.stdout, "partial \n", "the partial answer stays, its line ended"),
  },
};

const SIGNALS = { SIGINT: [130, "interrupted"], SIGTERM: [143, "terminated"] } as const;

Deno.test("the table lists every wait point, and every point has its expectations", () => {
  assert.deepEqual(WAIT_POINTS.map((p) => p.id).sort(), Object.keys(TABLE).sort());
});

const COLUMNS: Column[] = ["SIGINT", "SIGTERM", "hang"];
/** Each point's three runs (independent processes, homes and fakes), four points at a time. */
const runs = pooled(
  WAIT_POINTS,
  (p) => p.id,
  4,
  (point) => Promise.all(COLUMNS.map((column) => point.run(column))),
);

WAIT_POINTS.forEach((point, order) => {
  const expected = TABLE[point.id];
  Deno.test({
    name:
      `${point.title}: SIGINT → 130, SIGTERM → 143, nothing left behind; a hang ends at its bound (${expected.hang.bound})`,
    // The runs are pooled across these tests, so their ops span tests.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const results = await runs.get(point.id);
      for (const [i, column] of COLUMNS.entries()) {
        await check(point.id, column, results[i], expected);
        const o = results[i];
        const outcome = column === "hang"
          ? `${expected.hang.bound}: ${
            o.stderr.split("\n").find((l) => /^(error|warning):/.test(l)) ?? lastLine(o.stderr)
          }`
          : lastLine(o.stderr);
        await recordRow({
          table: "waits",
          order,
          point: point.title,
          holds: point.holds,
          column,
          code: o.code,
          outcome: normalise(outcome),
          state: o.changes.length ? o.changes.join(" ") : "unchanged",
        });
      }
    },
  });
});

async function check(
  id: string,
  column: Column,
  o: Observation,
  expected: (typeof TABLE)[string],
): Promise<void> {
  const context = `${column} at ${id}:\n${o.stderr}`;
  assert.doesNotMatch(o.stderr, /internal error|this is a bug in cdx/, context);
  assert.doesNotMatch(o.stderr, /^\s+at /m, `a stack trace: ${context}`);
  if (column === "hang") {
    const e = expected.hang;
    assert.equal(o.code, e.code, context);
    for (const pattern of e.stderr) assert.match(o.stderr, pattern, context);
    const changes = e.changes ?? [];
    assert.equal(o.changes.length, changes.length, `changes ${o.changes}: ${context}`);
    changes.forEach((c, i) =>
      assert.ok(typeof c === "string" ? o.changes[i] === c : c.test(o.changes[i]), o.changes[i])
    );
    await e.check?.(o);
    return;
  }
  const [code, word] = SIGNALS[column];
  assert.equal(o.code, code, context);
  assert.equal(lastLine(o.stderr), word, context);
  assert.deepEqual(o.changes, [], `credentials and files unchanged: ${context}`);
  expected.signal?.(o);
}
