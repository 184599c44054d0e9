/**
 * Fault suite, process death: kill -9, SIGINT and SIGTERM at every
 * checkpoint of refresh (keychain and file), migration, device login,
 * API-key login and logout, and between the file write and the keychain
 * delete of a keychain fallback. The process is started with
 * `CDX_TEST_PAUSE_AT=<checkpoint>`, the test waits for its `paused at`
 * line, then sends the signal — deterministic, no timers. SIGINT/SIGTERM
 * must end with 130/143 and "interrupted"/"terminated" (never "internal
 * error"); inside a critical section the section finishes first. After
 * each case the shared check of harness.ts.
 */
import assert from "node:assert/strict";
import { type CaseSpec, faultTest, runCases } from "./harness.ts";
import { FLOWS } from "./flows.ts";

/** Flow → its checkpoints, in the order a run passes them. */
const POINTS: Array<[keyof typeof FLOWS, string[]]> = [
  ["refresh", [
    "refresh:request",
    "refresh:answered",
    "refresh:rescued",
    "save:config-ready",
    "save:keyring-saved",
    "refresh:saved",
  ]],
  ["refresh-file", ["refresh:request", "refresh:answered", "refresh:rescued", "refresh:saved"]],
  ["migrate", ["migrate:start", "save:config-ready", "save:keyring-saved", "migrate:done"]],
  ["login", ["login:save", "save:config-ready", "save:keyring-saved"]],
  ["apikey", ["login:save", "save:config-ready", "save:keyring-saved"]],
  ["logout", ["logout:delete", "logout:keyring-deleted"]],
];

const SIGNALS: Array<[Deno.Signal, string, number, RegExp | undefined]> = [
  ["SIGKILL", "kill9", 137, undefined],
  ["SIGINT", "sigint", 130, /^interrupted$/m],
  ["SIGTERM", "sigterm", 143, /^terminated$/m],
];

/**
 * SIGINT and SIGTERM take one path (an abort of the Context, deferred by a
 * critical section); only the exit code and word differ. To keep the
 * standing suite within its time budget it sends one of the two at each
 * checkpoint, alternating (each signal still meets checkpoints inside and
 * outside critical sections); `CDX_FAULT_FULL=1` (set by
 * `scripts/fault_table.ts` for the published table) sends both everywhere.
 */
const FULL = Deno.env.get("CDX_FAULT_FULL") === "1";

function specs(): CaseSpec[] {
  const out: CaseSpec[] = [];
  let alternate = 0;
  const points = [...POINTS.map(([flow, cps]) => cps.map((cp) => ({ flow, cp, fallback: false })))]
    .flat();
  // A refresh whose keychain save fails falls back to auth.json: stop it before the stale item goes.
  points.push({ flow: "refresh", cp: "save:fallback-written", fallback: true });
  for (const { flow: name, cp, fallback } of points) {
    const flow = FLOWS[name];
    const soft = alternate++ % 2 === 0 ? "SIGINT" : "SIGTERM";
    for (const [signal, row, code, said] of SIGNALS) {
      if (!FULL && signal !== "SIGKILL" && signal !== soft) continue;
      // Killed while the rotated tokens exist only in memory: lost by nature, told plainly.
      const window = signal === "SIGKILL" && cp === "refresh:answered";
      out.push({
        name: `${name}${fallback ? " (keychain store fails)" : ""}: ${signal} at ${cp}`,
        row: window ? "kill9-window" : row,
        async run(c) {
          await flow.seed(c);
          if (fallback) await c.shim.arm("store", 1, "fail");
          const paused = await c.pauseAt(flow.args, cp, { stdin: flow.stdin });
          const run = await paused.stop(signal);
          assert.equal(run.code, code, `exit ${run.code}: ${run.stderr}`);
          if (said) assert.match(run.stderr, said);
          const after = await flow.after(c, run);
          return window ? { kind: "rotated-away" } : after;
        },
      });
    }
  }
  return out;
}

faultTest(
  "faults: kill -9, SIGINT or SIGTERM at any step of refresh, migration, login or logout leaves a valid credential that cdx and codex read, and no secret anywhere",
  (t, world) => runCases(t, world, specs()),
);
