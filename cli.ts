#!/usr/bin/env -S deno run -P=cdx
/**
 * cdx's entry point: parse argv, build the Context, dispatch, map errors to
 * exit codes. The only module that touches `Deno.env`, `Deno.exit`, signals
 * and the real standard streams.
 *
 * Start-up is a feature (`cdx login token` runs before every scripted
 * request): `--version` is answered before anything else is loaded, `--help`
 * and usage errors load only the grammar, and a command loads its own module
 * and the runtime it needs, all in one parallel batch. See the README's
 * start-up table and `scripts/bench_startup.ts`.
 *
 * @module
 */
import { VERSION, versionLine } from "./lib/version.ts";
import { CancelledError, InterruptSignal, TimeoutError } from "./lib/cancel.ts";
import { CdxError, type ErrorCode, ExitCode, UsageError } from "./lib/errors.ts";
import { inCriticalSection, whenNotCritical } from "./lib/critical.ts";
import type { Context, Input, Output } from "./lib/context.ts";
import type { CommandSpec } from "./commands/grammar.ts";
import type { ParsedArgs } from "./commands/mod.ts";
import type { KeyringStore } from "./lib/keyring/store.ts";
import type { Logger } from "./lib/logger.ts";
import type { ProcessRunner } from "./lib/process.ts";

/** Options of {@linkcode main}, for tests and test-only entry points. */
export interface MainOptions {
  /** Replaces the command dispatch (test entry points). */
  dispatch?: (ctx: Context, args: ParsedArgs) => Promise<number>;
  /** Extra setup once the Context exists (e.g. attaching the feedback capture). */
  setup?: (ctx: Context) => void | Promise<void>;
}

const encoder = new TextEncoder();

/** The one-line usage printed after a usage error that concerns no particular command. */
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
 * exit 130 / 143; inside a critical section once it ends), a second one exits
 * at once (a third even inside a critical section).
 */
export async function main(args: readonly string[], options: MainOptions = {}): Promise<number> {
  const env = Deno.env;
  const color = (env.get("NO_COLOR") ?? "") === "" && !args.includes("--no-color");
  // A command line that will run a command starts loading the runtime with the parser (one
  // batch instead of two); help, version and completions never need it.
  const runtime = args.length === 0 || args.some((a) => ANSWERED_BEFORE_RUNTIME.has(a))
    ? undefined
    : loadRuntime();
  runtime?.catch(() => {}); // awaited (and reported) only when a command runs
  const [{ denoInput, denoOutput }, { parseCommandLine }] = await Promise.all([
    import("./lib/io.ts"),
    import("./commands/parse.ts"),
  ]);
  const stdout: Output = denoOutput(Deno.stdout, color);
  const stderr: Output = denoOutput(Deno.stderr, color);

  const controller = new AbortController();
  const removeSignals = installSignalHandlers(controller, stderr);
  try {
    let line;
    try {
      line = parseCommandLine(args);
    } catch (error) {
      // A mistake may echo what was typed (`cdx login sk-…`): mask what looks like a secret.
      const { redactPatterns } = await import("./lib/redact.ts");
      const { commandAt } = await import("./commands/parse.ts");
      const path = (error as { path?: readonly string[] }).path ?? [];
      return await reportError(error, {
        stderr,
        logLevel: "warn",
        redact: redactPatterns,
        json: jsonRequested(args)
          ? { stdout, lines: commandAt(path)?.jsonLines === true }
          : undefined,
      });
    }
    switch (line.kind) {
      case "help": {
        const { renderHelp } = await import("./commands/help.ts");
        await stdout.write(renderHelp(line.path, { columns: stdout.columns, color: stdout.color }));
        return ExitCode.OK;
      }
      case "version":
        await stdout.write(`${versionLine()}\n`);
        return ExitCode.OK;
      case "completions": {
        const { runCompletions } = await (await import("./commands/mod.ts")).loadCompletion();
        const out = runCompletions(args);
        if (out.stdout) await stdout.write(out.stdout);
        if (out.stderr) await stderr.write(out.stderr);
        return out.code;
      }
    }
    // The command's own module starts loading now, alongside the runtime; a failure to load it
    // surfaces at dispatch, where errors are reported.
    if (!options.dispatch) {
      const command = line.args.command;
      import("./commands/mod.ts").then((m) => m.loadCommand(command)).catch(() => {});
    }
    return await runCommand(line.args, line.spec, runtime ?? loadRuntime(), {
      ...options,
      stdout,
      stderr,
      stdin: denoInput(),
      env,
      args,
      controller,
    });
  } finally {
    removeSignals();
  }
}

interface RunOptions extends MainOptions {
  stdout: Output;
  stderr: Output;
  stdin: Input;
  env: Deno.Env;
  args: readonly string[];
  controller: AbortController;
}

/** Words after which no command runs (so the runtime is not loaded ahead). */
const ANSWERED_BEFORE_RUNTIME = new Set([
  "-h",
  "--help",
  "--version",
  "help",
  "completions",
  "completion",
]);

/** What every command needs besides its own module, loaded as one parallel batch. */
function loadRuntime() {
  return Promise.all([
    import("./lib/log.ts"),
    import("./lib/context.ts"),
    import("./lib/lifecycle.ts"),
    import("./lib/secrets.ts"),
    import("./lib/keyring/platform.ts"),
    import("./lib/feedback/capture.ts"),
    import("./commands/mod.ts"),
    import("./lib/status_line.ts"),
    // Needed at exit to keep this invocation's log block; loading it now overlaps the command.
    import("./lib/feedback/persist.ts"),
  ]);
}

/** Builds the Context, runs the command, maps its outcome to an exit code, runs the exit hooks. */
async function runCommand(
  parsed: ParsedArgs,
  spec: CommandSpec,
  runtime: ReturnType<typeof loadRuntime>,
  o: RunOptions,
): Promise<number> {
  const { stderr, env, controller } = o;
  // Whether the command's own output started (then a `--json` failure is reported in it).
  let stdoutUsed = false;
  const stdout: Output = {
    get isTTY() {
      return o.stdout.isTTY;
    },
    get color() {
      return o.stdout.color;
    },
    get columns() {
      return o.stdout.columns;
    },
    write(data) {
      stdoutUsed = true;
      return o.stdout.write(data);
    },
    writeSync(data) {
      stdoutUsed = true;
      o.stdout.writeSync(data);
    },
  };
  // An empty CODEX_HOME is unset, as codex 0.169.0 treats it (observed), not the current dir.
  const codexHome = resolvePath(
    parsed.codexHome ?? (env.get("CODEX_HOME") || undefined) ?? `${homeDir(env) ?? "."}/.codex`,
  );
  // config.toml is read (and the TOML parser loaded) while the runtime loads.
  const configLoad = import("./lib/config.ts").then((m) => m.loadConfig(codexHome));
  configLoad.catch(() => {}); // awaited below, inside the error mapping
  const [
    log,
    { systemClock },
    life,
    secretsModule,
    { createPlatformKeyring },
    { installFeedbackCapture },
    commands,
    { startProgress },
  ] = await runtime;
  const secrets = new secretsModule.SecretRegistry();
  const logLevel = parsed.logLevel ?? "warn";
  log.configureLogging({ output: stderr, level: logLevel, secrets });
  const logger = log.getLogger(["cdx"]);
  const exitHooks = new life.ExitHooks();
  let code: number = ExitCode.FAILURE;
  try {
    const config = await configLoad;
    if (config.error) {
      if (!spec.brokenConfigOk) throw config.error;
      logger.warn("{problem} (ignored: `cdx {command}` runs without it)", {
        problem: config.error.message,
        command: spec.path.join(" "),
      });
    }
    const runner = lazyRunner(logger.getChild("process"));
    let keyring: KeyringStore | undefined;
    const ctx: Context = {
      env: { get: (name) => env.get(name), toObject: () => env.toObject() },
      stdin: o.stdin,
      stdout,
      stderr,
      fetch: globalThis.fetch.bind(globalThis),
      clock: systemClock,
      signal: controller.signal,
      logger,
      config,
      runner,
      keyring: () =>
        keyring ??= createPlatformKeyring({
          os: Deno.build.os,
          runner,
          env: ctx.env,
          signal: controller.signal,
          logger: logger.getChild("keyring"),
          // No `secrets`: lib/auth registers the secret fields of every value it loads or saves;
          // a whole value (a record with a large unknown field) would be one huge pattern.
          // A keychain call over a second is most likely an unlock prompt the user must answer.
          onCall: () => {
            const waiting = startProgress(
              { stderr },
              "Waiting for the keychain (it may be asking you to unlock it)…",
            );
            return () => waiting.stop();
          },
        }),
      secrets,
      globals: { codexHome, logLevel, color: stderr.color, readOnly: spec.readOnly === true },
      exitHooks,
      argv: o.args,
      version: VERSION,
      os: Deno.build.os,
      arch: Deno.build.arch,
    };
    // Every record, trace included, goes to the redacting feedback ring; kept in cdx.log at exit.
    installFeedbackCapture(ctx);
    await o.setup?.(ctx);
    logger.debug("cdx {version} {command} codex_home={codexHome}", {
      version: ctx.version,
      command: parsed.command,
      codexHome,
    });
    code = await (o.dispatch ?? commands.dispatch)(ctx, parsed);
    // A signal deferred by a critical section aborted the Context after the last await that
    // would have noticed it: the command finished its work, but the user asked to stop.
    const reason = controller.signal.reason;
    if (
      reason instanceof InterruptSignal && code !== ExitCode.INTERRUPTED &&
      code !== ExitCode.TERMINATED
    ) {
      code = await reportError(new CancelledError(reason), {
        stderr,
        logLevel,
        redact: (t) => secrets.redact(t),
      });
    }
  } catch (error) {
    code = await reportError(error, {
      stderr,
      logLevel,
      redact: (t) => secrets.redact(t),
      usage: (await import("./commands/parse.ts")).usageLine(spec.path),
      json: (parsed as { json?: boolean }).json && !stdoutUsed
        ? { stdout: o.stdout, lines: spec.jsonLines === true }
        : undefined,
    });
    logger.debug("exit {code} after {error}", { code, error: String(error) });
  }
  await exitHooks.run({ code });
  return code;
}

/** A runner that loads lib/process.ts at the first spawn: most commands never spawn. */
function lazyRunner(logger: Logger): ProcessRunner {
  let real: Promise<ProcessRunner> | undefined;
  return {
    async run(cmd, args, options) {
      real ??= import("./lib/process.ts").then((m) => m.createProcessRunner(logger));
      return await (await real).run(cmd, args, options);
    },
  };
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

/** Options of {@linkcode reportError}. */
export interface ReportOptions {
  /** The usage line after a usage error without a hint (default {@linkcode SHORT_USAGE}). */
  usage?: string;
  /** Where the message goes. */
  stderr: Output;
  /** `debug` and `trace` add stack traces. */
  logLevel: string;
  /** Masks secrets in the message. */
  redact: (text: string) => string;
  /**
   * The command runs with `--json`: the error object goes to `stdout` too;
   * `lines`: its output is JSON lines (`run`), so the object is also an
   * `error` event there.
   */
  json?: { stdout: Output; lines: boolean };
}

/** Whether argv asks for `--json` (before `--`): errors then print the error object too. */
function jsonRequested(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).includes("--json");
}

/** The `--json` error object (`schemas/error.json`, version 1). */
function errorObject(
  code: ErrorCode,
  message: string,
  hint: string | undefined,
  lines = false,
): Record<string, unknown> {
  const error = { version: 1, error: { code, message, hint: hint ?? null } };
  // In a JSON-lines stream the object is also codex exec's `error` event.
  return lines ? { type: "error", message, ...error } : error;
}

const INTERNAL_HINT = "this is a bug in cdx; run `cdx feedback` to report it";

/** Prints an error the way the README promises and returns its exit code. */
export async function reportError(error: unknown, options: ReportOptions): Promise<number> {
  const { stderr, redact } = options;
  const debug = options.logLevel === "debug" || options.logLevel === "trace";
  // A masking failure must never print the text raw (nor throw past this point).
  const safely = async (text: string) => {
    try {
      return redact(text);
    } catch {
      const failed = (await import("./lib/secrets.ts")).MASK_FAILED;
      return text.endsWith("\n") ? `${failed}\n` : failed;
    }
  };
  const say = async (text: string) => await stderr.write(await safely(text));
  // With --json, the same error as data on stdout, before the lines on stderr.
  const json = async (code: ErrorCode, message: string, hint?: string) => {
    if (!options.json) return;
    const object = errorObject(
      code,
      await safely(message),
      hint === undefined ? undefined : await safely(hint),
      options.json.lines,
    );
    await options.json.stdout.write(`${JSON.stringify(object)}\n`);
  };
  if (error instanceof CancelledError) {
    const term = error.reason instanceof InterruptSignal && error.reason.signal === "SIGTERM";
    await json(term ? "terminated" : "interrupted", term ? "terminated" : "interrupted");
    await say(`${term ? "terminated" : "interrupted"}\n`);
    return term ? ExitCode.TERMINATED : ExitCode.INTERRUPTED;
  }
  if (error instanceof TimeoutError) {
    await json("timeout", error.message);
    await say(`error: ${error.message}\n`);
    return ExitCode.TIMEOUT;
  }
  if (error instanceof CdxError) {
    await json(error.errorCode, error.message, error.hint);
    await say(`error: ${error.message}\n`);
    if (error.hint) await say(`hint: ${error.hint}\n`);
    // A command-line mistake carries its command's usage line (commands/parse.ts).
    const usage = (error as { usage?: unknown }).usage;
    if (typeof usage === "string") await say(`${usage}\n`);
    else if (error instanceof UsageError && !error.hint) {
      await say(`${options.usage ?? SHORT_USAGE}\n`);
    }
    if (debug && error.cause instanceof Error && error.cause.stack) {
      await say(`${error.cause.stack}\n`);
    }
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  await json("internal", `internal error: ${message}`, INTERNAL_HINT);
  await say(`internal error: ${message}\n`);
  await say(`hint: ${INTERNAL_HINT}\n`);
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
