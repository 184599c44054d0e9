/**
 * The command-line grammar of cdx and the dispatch from a parsed command line
 * to a command's run function.
 *
 * @module
 */
import { merge, object, or } from "@optique/core/constructs";
import { flag, option } from "@optique/core/primitives";
import { optional } from "@optique/core/modifiers";
import { choice, string } from "@optique/core/valueparser";
import { message } from "@optique/core/message";
import type { InferValue } from "@optique/core/parser";
import { runParser } from "@optique/core/facade";
import type { Context } from "../lib/context.ts";
import { LOG_LEVELS } from "../lib/context.ts";
import { versionLine } from "../lib/version.ts";
import { loginCommand, runLogin, runLoginStatus, runLoginToken } from "./login.ts";
import { logoutCommand, runLogout } from "./logout.ts";
import { runCommand, runRun } from "./run.ts";
import { feedbackCommand, runFeedback } from "./feedback.ts";

const globalOptions = object("Global options", {
  codexHome: optional(option("--codex-home", string({ metavar: "DIR" }), {
    description: message`codex's home directory (env ${"CODEX_HOME"}, default ~/.codex)`,
  })),
  logLevel: optional(option("--log-level", choice(LOG_LEVELS, { metavar: "LEVEL" }), {
    description: message`stderr log level: error, warn (default), info, debug, trace`,
  })),
  noColor: optional(flag("--no-color", {
    description: message`no ANSI colours (also when ${"NO_COLOR"} is set)`,
  })),
});

/** The whole grammar: global options (anywhere) plus one command. */
export const cdxParser = merge(
  globalOptions,
  or(loginCommand, logoutCommand, runCommand, feedbackCommand),
);

/** A parsed command line. */
export type ParsedArgs = InferValue<typeof cdxParser>;

/** Thrown by the parser's exit hook: help, version, completions or a usage error. */
export class ParserExit extends Error {
  constructor(readonly code: number, readonly stdout: string, readonly stderr: string) {
    super(`parser exit ${code}`);
  }
}

/** Options of {@linkcode parseArgs}. */
export interface ParseOptions {
  colors: boolean;
  columns?: number;
}

/**
 * Parses argv. Help, version and completion output, and usage errors, come
 * back as a {@linkcode ParserExit} carrying what to print and the exit code
 * (2 for usage errors).
 */
export function parseArgs(args: readonly string[], options: ParseOptions): ParsedArgs {
  let out = "";
  let err = "";
  const exit = (code: number): never => {
    throw new ParserExit(code, out, err);
  };
  // @optique/core's runner rather than @optique/run: the latter loads Node's
  // process/path/fs compatibility layers, which doubles cdx's start-up time.
  return runParser(cdxParser, "cdx", args, {
    help: { option: true, command: true, onShow: exit },
    version: { value: versionLine(), option: true, onShow: exit },
    completion: { command: { names: ["completions", "completion"] }, onShow: exit },
    aboveError: "none",
    onError: () => exit(2),
    colors: options.colors,
    maxWidth: options.columns,
    brief:
      message`cdx — sign in to OpenAI's codex, keep the credentials safe, and run prompts from scripts.`,
    description:
      message`Credentials are shared with the codex CLI: what cdx stores, codex reads, and the other way round.`,
    examples:
      message`cdx login                       # sign in in your browser (--device-auth: with a code)
  printenv OPENAI_API_KEY | cdx login --with-api-key
  cdx login status
  cdx run "summarise this" < notes.txt
  cdx feedback --output report.zip --yes
  cdx logout
  cdx completions bash > ~/.local/share/bash-completion/completions/cdx`,
    footer: message`Exit codes: 0 ok, 1 failure, 2 usage, 124 timeout, 130 Ctrl-C, 143 SIGTERM.`,
    stdout: (text) => {
      out += text + "\n";
    },
    stderr: (text) => {
      err += text + "\n";
    },
  });
}

/** Runs the parsed command. Returns the exit code. */
export function dispatch(ctx: Context, args: ParsedArgs): Promise<number> {
  switch (args.command) {
    case "login":
      return runLogin(ctx, args);
    case "login-status":
      return runLoginStatus(ctx, args);
    case "login-token":
      return runLoginToken(ctx, args);
    case "logout":
      return runLogout(ctx, args);
    case "run":
      return runRun(ctx, args);
    case "feedback":
      return runFeedback(ctx, args);
  }
}
