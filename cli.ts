#!/usr/bin/env -S deno run -P=cdx
/**
 * cdx's entry point: parse argv, build the Context, dispatch, map errors to
 * exit codes. The only module that touches `Deno.env`, `Deno.exit`, signals
 * and the real standard streams.
 *
 * `cdx --version` is answered before anything else is loaded, so it starts
 * as fast as an empty Deno program.
 *
 * @module
 */
import { VERSION, versionLine } from "./lib/version.ts";
import { CancelledError, InterruptSignal, TimeoutError } from "./lib/cancel.ts";
import { CdxError, ExitCode, UsageError } from "./lib/errors.ts";
import { inCriticalSection, whenNotCritical } from "./lib/critical.ts";
import type { Context, Input, Output } from "./lib/context.ts";
import type { ParsedArgs } from "./commands/mod.ts";
import type { KeyringStore } from "./lib/keyring/store.ts";

/** Options of {@linkcode main}, for tests and test-only entry points. */
export interface MainOptions {
  /** Replaces the command dispatch (test entry points). */
  dispatch?: (ctx: Context, args: ParsedArgs) => Promise<number>;
  /** Extra setup once the Context exists (e.g. attaching the feedback capture). */
  setup?: (ctx: Context) => void | Promise<void>;
}

const encoder = new TextEncoder();

/** The one-line usage printed after a usage error. */
export const SHORT_USAGE =
  "usage: cdx [--codex-home DIR] [--log-level LEVEL] <login|logout|run|feedback|completions> [options]  (see `cdx --help`)";

/** Home directory from the environment, for the `~/.codex` default. */
function homeDir(env: Deno.Env): string | undefined {
  return env.get("HOME") ?? env.get("USERPROFILE");
}

function resolvePath(path: string): string {
  if (/^([A-Za-z]:)?[\\/]/.test(path)) return path;
  return `${Deno.cwd()}/${path}`;
}

/**
 * Runs cdx with `args` and returns the exit code. Installs the SIGINT/SIGTERM
 * handlers: the first signal aborts the Context signal (the command unwinds,
 * exit 130 / 143), a second one exits at once.
 */
export async function main(args: readonly string[], options: MainOptions = {}): Promise<number> {
  const env = Deno.env;
  const noColorEnv = (env.get("NO_COLOR") ?? "") !== "";
  const argvNoColor = args.includes("--no-color");
  const { denoInput, denoOutput } = await import("./lib/io.ts");
  const stdout: Output = denoOutput(Deno.stdout, !noColorEnv && !argvNoColor);
  const stderr: Output = denoOutput(Deno.stderr, !noColorEnv && !argvNoColor);
  const stdin: Input = denoInput();

  const controller = new AbortController();
  const removeSignals = installSignalHandlers(controller, stderr);
  try {
    const { parseArgs, dispatch, ParserExit } = await import("./commands/mod.ts");
    let parsed: ParsedArgs;
    try {
      parsed = parseArgs(args, { colors: stderr.color, columns: stdout.columns });
    } catch (error) {
      if (error instanceof ParserExit) {
        if (error.stdout) await stdout.write(error.stdout);
        if (error.stderr) {
          await stderr.write(error.stderr.replace(/^Error: /, "error: "));
          if (error.code === ExitCode.USAGE) await stderr.write(`${SHORT_USAGE}\n`);
        }
        return error.code;
      }
      throw error;
    }

    const [{ configureLogging }, { loadConfig }, { createProcessRunner }, contextModule, life] =
      await Promise.all([
        import("./lib/log.ts"),
        import("./lib/config.ts"),
        import("./lib/process.ts"),
        import("./lib/context.ts"),
        import("./lib/lifecycle.ts"),
      ]);
    const { SecretRegistry } = await import("./lib/secrets.ts");
    const { createPlatformKeyring } = await import("./lib/keyring/mod.ts");
    const { getLogger } = await import("@logtape/logtape");
    const secrets = new SecretRegistry();
    const logLevel = parsed.logLevel ?? "warn";
    await configureLogging({ output: stderr, level: logLevel, secrets });
    const logger = getLogger(["cdx"]);
    const codexHomeRaw = parsed.codexHome ?? env.get("CODEX_HOME") ??
      `${homeDir(env) ?? "."}/.codex`;
    const codexHome = resolvePath(codexHomeRaw);
    const exitHooks = new life.ExitHooks();
    let code: number = ExitCode.FAILURE;
    let ctx: Context | undefined;
    try {
      const config = await loadConfig(codexHome);
      const runner = createProcessRunner(logger.getChild("process"));
      let keyring: KeyringStore | undefined;
      ctx = {
        env: { get: (name) => env.get(name), toObject: () => env.toObject() },
        stdin,
        stdout,
        stderr,
        fetch: globalThis.fetch.bind(globalThis),
        clock: contextModule.systemClock,
        signal: controller.signal,
        logger,
        config,
        runner,
        keyring: () =>
          keyring ??= createPlatformKeyring({
            os: Deno.build.os,
            runner,
            env: ctx!.env,
            signal: controller.signal,
            logger: logger.getChild("keyring"),
            secrets,
          }),
        secrets,
        globals: {
          codexHome,
          logLevel,
          color: stderr.color,
          readOnly: parsed.command === "login-status",
        },
        exitHooks,
        argv: args,
        version: VERSION,
        os: Deno.build.os,
        arch: Deno.build.arch,
      };
      // Every record, trace included, goes to the redacting feedback ring; kept in cdx.log at exit.
      (await import("./lib/feedback/capture.ts")).installFeedbackCapture(ctx);
      await options.setup?.(ctx);
      logger.debug("cdx {version} {command} codex_home={codexHome}", {
        version: ctx.version,
        command: parsed.command,
        codexHome,
      });
      code = await (options.dispatch ?? dispatch)(ctx, parsed);
    } catch (error) {
      code = await reportError(error, { stderr, logLevel, redact: (t) => secrets.redact(t) });
      logger.debug("exit {code} after {error}", { code, error: String(error) });
    }
    await exitHooks.run({ code });
    return code;
  } finally {
    removeSignals();
  }
}

function installSignalHandlers(controller: AbortController, stderr: Output): () => void {
  const handlers: Array<[Deno.Signal, () => void]> = [];
  let received = 0;
  const on = (sig: "SIGINT" | "SIGTERM", code: number) => {
    const handler = () => {
      received++;
      if (received >= 3 || (controller.signal.aborted && !inCriticalSection())) {
        // The user wants out now (a third signal even cuts a critical section).
        stderr.writeSync(`\n${sig === "SIGINT" ? "interrupted" : "terminated"}\n`);
        Deno.exit(code);
      }
      // Inside a critical section (saving rotated credentials) the abort waits for its end.
      whenNotCritical(() => {
        if (!controller.signal.aborted) controller.abort(new InterruptSignal(sig));
      });
    };
    try {
      Deno.addSignalListener(sig, handler);
      handlers.push([sig, handler]);
    } catch {
      // SIGTERM cannot be listened to on Windows.
    }
  };
  on("SIGINT", ExitCode.INTERRUPTED);
  on("SIGTERM", ExitCode.TERMINATED);
  return () => {
    for (const [sig, handler] of handlers) {
      try {
        Deno.removeSignalListener(sig, handler);
      } catch { /* already gone */ }
    }
  };
}

interface ReportOptions {
  stderr: Output;
  logLevel: string;
  redact: (text: string) => string;
}

/** Prints an error the way the README promises and returns its exit code. */
export async function reportError(error: unknown, options: ReportOptions): Promise<number> {
  const { stderr, redact } = options;
  const debug = options.logLevel === "debug" || options.logLevel === "trace";
  // A masking failure must never print the text raw (nor throw past this point).
  const say = async (text: string) => {
    let safe: string;
    try {
      safe = redact(text);
    } catch {
      safe = `${(await import("./lib/secrets.ts")).MASK_FAILED}\n`;
    }
    await stderr.write(safe);
  };
  if (error instanceof CancelledError) {
    const term = error.reason instanceof InterruptSignal && error.reason.signal === "SIGTERM";
    await say(`${term ? "terminated" : "interrupted"}\n`);
    return term ? ExitCode.TERMINATED : ExitCode.INTERRUPTED;
  }
  if (error instanceof TimeoutError) {
    await say(`error: ${error.message}\n`);
    return ExitCode.TIMEOUT;
  }
  if (error instanceof CdxError) {
    await say(`error: ${error.message}\n`);
    if (error.hint) await say(`hint: ${error.hint}\n`);
    else if (error instanceof UsageError) await say(`${SHORT_USAGE}\n`);
    if (debug && error.cause instanceof Error && error.cause.stack) {
      await say(`${error.cause.stack}\n`);
    }
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  await say(`internal error: ${message}\n`);
  await say("hint: this is a bug in cdx; run `cdx feedback` to report it\n");
  if (debug && error instanceof Error && error.stack) await say(`${error.stack}\n`);
  return ExitCode.FAILURE;
}

if (import.meta.main) {
  const args = Deno.args;
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    Deno.stdout.writeSync(encoder.encode(`${versionLine()}\n`));
    Deno.exit(0);
  }
  Deno.exit(await main(args));
}
