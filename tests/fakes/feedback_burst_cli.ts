/**
 * Test-only cdx entry point: the real `main()` of cli.ts (real capture, real
 * exit-hook persistence) with a dispatch that logs `$CDX_TEST_RECORDS`
 * trace records of about 1 KiB, then waits at a barrier (a file per process in
 * `$CDX_TEST_BARRIER_DIR` until there are `$CDX_TEST_BARRIER_COUNT`) so that
 * many processes reach their exit hook — the append to cdx.log — at the same
 * moment. Used by tests/feedback_persist_test.ts.
 *
 * @module
 */
import { main } from "../../cli.ts";

const code = await main(Deno.args, {
  dispatch: async (ctx) => {
    const records = Number(ctx.env.get("CDX_TEST_RECORDS") ?? "10");
    const log = ctx.logger.getChild("burst");
    const filler = "x".repeat(1000);
    for (let i = 0; i < records; i++) log.trace("record {i} {filler}", { i, filler });
    // Barrier: announce readiness, then wait until every process is ready.
    const dir = ctx.env.get("CDX_TEST_BARRIER_DIR");
    const count = Number(ctx.env.get("CDX_TEST_BARRIER_COUNT") ?? "0");
    if (dir && count) {
      await Deno.writeTextFile(`${dir}/${crypto.randomUUID()}`, "");
      const giveUpAt = Date.now() + 60_000;
      while ([...Deno.readDirSync(dir)].length < count && Date.now() < giveUpAt) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    return 0;
  },
});
Deno.exit(code);
