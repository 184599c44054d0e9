/**
 * From a parsed command line to a command's run function. Each command's
 * module (and the libraries behind it) is loaded only when that command
 * runs: `cdx login token` never loads the model client or the feedback zip.
 *
 * The modules of `run`, `feedback` and `completions` are imported by a
 * specifier Deno cannot see before running: Deno reads every module a
 * program could import (literal dynamic imports included, with their npm
 * packages) before its first line runs, and these three with optique and
 * fflate cost every command ~10 ms that way (README "Start-up").
 * `deno compile` is told about them (`--include`, scripts/compile.ts).
 *
 * @module
 */
import type { Context } from "../lib/context.ts";
import type { ParsedArgs } from "./grammar.ts";
import { resolveStoreMode } from "../lib/auth/modes.ts";

/** `CDX_REQUEST_TIMEOUT` (lib/http.ts, which is loaded only when the variable is set). */
const REQUEST_TIMEOUT_ENV = "CDX_REQUEST_TIMEOUT";

export type { ParsedArgs } from "./grammar.ts";

/**
 * The modules imported by a run-time specifier, relative to the repository
 * root: what `deno compile` must `--include`.
 */
export const HIDDEN_MODULES = {
  run: "commands/run.ts",
  feedback: "commands/feedback.ts",
  completion: "commands/completion.ts",
} as const;

/** Imports one of {@linkcode HIDDEN_MODULES} (the specifier is a value, not a literal). */
function importHidden(name: keyof typeof HIDDEN_MODULES): Promise<unknown> {
  return import(new URL(`../${HIDDEN_MODULES[name]}`, import.meta.url).href);
}

/** The module that runs each command (cli.ts starts loading it as soon as the command is known). */
export function loadCommand(command: ParsedArgs["command"]): Promise<unknown> {
  switch (command) {
    case "login":
    case "login-status":
    case "login-token":
      return import("./login.ts");
    case "logout":
      return import("./logout.ts");
    case "run":
      return importHidden("run");
    case "feedback":
      return importHidden("feedback");
  }
}

/** `cdx completions …` (commands/completion.ts, which loads optique). */
export async function loadCompletion(): Promise<typeof import("./completion.ts")> {
  return await importHidden("completion") as typeof import("./completion.ts");
}

/**
 * Settings from the environment and config.toml that a command would reject
 * halfway (after a prompt, a browser, a request) are checked before it
 * starts: a bad `CDX_CREDENTIALS_STORE` or `CDX_REQUEST_TIMEOUT` is a usage
 * error (exit 2) before anything runs, a bad value in config.toml a config
 * error (exit 1).
 */
async function preflight(ctx: Context, args: ParsedArgs): Promise<void> {
  resolveStoreMode({
    option: "store" in args ? args.store : undefined,
    env: ctx.env,
    config: ctx.config,
  });
  // `login status` makes no request; only a set value costs the import.
  const table = ctx.config.values.cdx as Record<string, unknown> | undefined;
  if (
    args.command !== "login-status" &&
    (ctx.env.get(REQUEST_TIMEOUT_ENV) !== undefined || table?.request_timeout !== undefined)
  ) {
    (await import("../lib/http.ts")).requestTimeoutMs(ctx);
  }
}

/** Runs the parsed command. Returns the exit code. */
export async function dispatch(ctx: Context, args: ParsedArgs): Promise<number> {
  await preflight(ctx, args);
  switch (args.command) {
    case "login":
      return (await import("./login.ts")).runLogin(ctx, args);
    case "login-status":
      return (await import("./login.ts")).runLoginStatus(ctx, args);
    case "login-token":
      return (await import("./login.ts")).runLoginToken(ctx, args);
    case "logout":
      return (await import("./logout.ts")).runLogout(ctx, args);
    case "run": {
      const run = await importHidden("run") as typeof import("./run.ts");
      return run.runRun(ctx, args);
    }
    case "feedback": {
      const feedback = await importHidden("feedback") as typeof import("./feedback.ts");
      return feedback.runFeedback(ctx, args);
    }
  }
}
