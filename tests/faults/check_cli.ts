/**
 * The fault suite's check as one cdx process (a test-only entry point over
 * cli.ts's `main`, so the Context, logging, feedback capture and exit hooks
 * are the real ones): `cdx login status --json`, then `cdx login token`,
 * then `cdx feedback --output <zip> --yes`, each dispatched exactly as the
 * CLI dispatches it, with a marker line on stdout and stderr after each:
 * `--- cdx-check <command> exit <code> ---`. One start-up instead of three
 * keeps the suite within its time budget.
 *
 * Usage: `check_cli.ts feedback --output <zip> --yes [--token]`
 * (`--token` is read here, not by cdx: whether to run `login token`).
 *
 * @module
 */
import { main, reportError } from "../../cli.ts";
import { dispatch } from "../../commands/mod.ts";
import { parseCommandLine } from "../../commands/parse.ts";
import type { Context } from "../../lib/context.ts";

const withToken = Deno.args.includes("--token");
const args = Deno.args.filter((a) => a !== "--token");

async function step(ctx: Context, name: string, argv: string[]): Promise<number> {
  let code: number;
  try {
    const line = parseCommandLine(argv);
    if (line.kind !== "command") throw new Error(`not a command: ${argv.join(" ")}`);
    code = await dispatch(ctx, line.args);
  } catch (error) {
    code = await reportError(error, {
      stderr: ctx.stderr,
      logLevel: "warn",
      redact: (t) => ctx.secrets.redact(t),
    });
  }
  const marker = `--- cdx-check ${name} exit ${code} ---\n`;
  await ctx.stdout.write(marker);
  await ctx.stderr.write(marker);
  return code;
}

Deno.exit(
  await main(args, {
    dispatch: async (ctx) => {
      await step(ctx, "status", ["login", "status", "--json"]);
      if (withToken) await step(ctx, "token", ["login", "token"]);
      return await step(ctx, "feedback", args);
    },
  }),
);
