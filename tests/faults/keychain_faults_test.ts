/**
 * Fault suite, keychain: a `secret-tool` that fails or hangs on call N of
 * lookup / store / clear, for every N each flow makes (counted from a clean
 * run of the flow), for refresh, migration, API-key login and logout —
 * through the real CLI against a private gnome-keyring. After each case the
 * shared check of harness.ts (a valid credential, cdx and codex read it, no
 * secret anywhere).
 */
import { type CaseSpec, faultTest, runCases } from "./harness.ts";
import { FLOWS } from "./flows.ts";
import type { ShimFault, ShimOp } from "./shim.ts";

const OPS: ShimOp[] = ["lookup", "store", "clear"];

faultTest(
  "faults: a secret-tool that fails or hangs on any call of refresh, migration, API-key login or logout never loses the credential nor leaks a secret",
  async (t, world) => {
    const flows = [FLOWS.refresh, FLOWS.migrate, FLOWS.apikey, FLOWS.logout];
    // A clean run of each flow counts its calls (and is itself checked).
    const counts: Record<string, Record<ShimOp, number>> = {};
    await runCases(
      t,
      world,
      flows.map((flow): CaseSpec => ({
        name: `${flow.name}: clean run`,
        row: "clean",
        async run(c) {
          await flow.seed(c);
          await c.shim.resetCounts();
          const run = await c.cdx(flow.args, { stdin: flow.stdin });
          counts[flow.name] = await c.shim.counts();
          if (run.code !== 0) throw new Error(`clean run failed: ${run.stderr}`);
          return await flow.after(c, run);
        },
      })),
    );
    const specs: CaseSpec[] = [];
    for (const flow of flows) {
      const made = counts[flow.name];
      if (!made) continue;
      for (const op of OPS) {
        for (let n = 1; n <= made[op]; n++) {
          const kinds: ShimFault[] = op === "store" ? ["fail", "hang", "fail-after"] : [
            "fail",
            "hang",
          ];
          for (const kind of kinds) {
            specs.push({
              name: `${flow.name}: secret-tool ${op} #${n} ${kind}s`,
              row: `keychain-${kind}`,
              async run(c) {
                await flow.seed(c);
                await c.shim.arm(op, n, kind);
                const run = await c.cdx(flow.args, { stdin: flow.stdin });
                return await flow.after(c, run);
              },
            });
          }
        }
      }
    }
    await runCases(t, world, specs);
  },
);
