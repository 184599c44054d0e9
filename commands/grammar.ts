/**
 * cdx's command line as data: every command, option and help text, and the
 * types derived from them. The parser (commands/parse.ts), `--help`
 * (commands/help.ts), the shell completions (commands/completion.ts) and the
 * option types of each command's run function all come from here.
 *
 * It is plain data on purpose: `cdx login token` must start about as fast as
 * an empty Deno program, so reading the grammar may not load a parser
 * library (see the README's start-up table).
 *
 * @module
 */
import { LOG_LEVELS } from "../lib/logger.ts";
import { STORE_MODES } from "../lib/auth/modes.ts";

// The type lives in lib/auth so lib never imports commands/.
export { STORE_MODES, type StoreMode } from "../lib/auth/modes.ts";

/** How an option's value is read. */
export type ValueSpec =
  | { readonly kind: "string"; readonly metavar: string }
  | { readonly kind: "choice"; readonly metavar: string; readonly choices: readonly string[] }
  | { readonly kind: "number"; readonly metavar: string; readonly min: number }
  | {
    readonly kind: "path";
    readonly metavar: string;
    /** What the shell completions offer: files (and directories to walk into) or directories. */
    readonly entry: "file" | "directory";
  }
  | {
    readonly kind: "integer";
    readonly metavar: string;
    readonly min: number;
    readonly max: number;
  };

/** One option: a flag (no `value`) or an option taking one value. */
export interface OptionSpec {
  /** Names, short first: `["-m", "--model"]`. */
  readonly names: readonly [string, ...string[]];
  /** The value it takes; absent for a flag (whose value is then `true`). */
  readonly value?: ValueSpec;
  /** May be given several times: its values are collected, in order, into an array. */
  readonly repeatable?: true;
  /** One line for `--help`. */
  readonly help: string;
}

/** The positional argument of a command (at most one, always optional). */
export interface ArgumentSpec {
  /** Key of the parsed value. */
  readonly key: string;
  /** Its name in usage lines (`PROMPT`). */
  readonly metavar: string;
  /** One line for `--help`. */
  readonly help: string;
}

/** A command: its words on the command line, options and help text. */
export interface CommandSpec {
  /** The `command` value of the parsed arguments. */
  readonly id: string;
  /** Its words: `["login", "status"]`. */
  readonly path: readonly [string, ...string[]];
  /** One line, for command lists. */
  readonly brief: string;
  /** A paragraph for its own `--help`. */
  readonly description?: string;
  /** Its options by parsed key (global options are separate: {@linkcode GLOBAL_OPTIONS}). */
  readonly options: { readonly [key: string]: OptionSpec };
  /** Its positional argument, if it takes one. */
  readonly argument?: ArgumentSpec;
  /** Example command lines (a trailing `# comment` is kept). */
  readonly examples?: readonly string[];
  /**
   * Runs when config.toml cannot be read or parsed (the config is then empty
   * and a warning names the file, line and column), so a user can always
   * check, report and log out. Every other command stops with that error.
   */
  readonly brokenConfigOk?: boolean;
  /**
   * A read-only command (`login status`): it writes nothing — no migration,
   * no config edit, no directory, no cdx.log block (`Context.globals.readOnly`).
   */
  readonly readOnly?: boolean;
  /**
   * Its `--json` output is a stream of JSON lines (codex exec's events): a
   * failure before the stream starts is reported as one more line that is
   * also an `error` event (README "JSON output").
   */
  readonly jsonLines?: boolean;
}

/** The value type an option spec parses to. */
export type ValueOf<O extends OptionSpec> = O["value"] extends
  { readonly kind: "choice"; readonly choices: readonly (infer C)[] } ? C
  : O["value"] extends { readonly kind: "number" | "integer" } ? number
  : O["value"] extends { readonly kind: "string" | "path" } ? string
  : true;

/** Parsed values of a set of options: each absent unless given; repeatable ones are arrays. */
export type OptionValues<O extends { readonly [key: string]: OptionSpec }> = {
  -readonly [K in keyof O]?: O[K] extends { readonly repeatable: true } ? ValueOf<O[K]>[]
    : ValueOf<O[K]>;
};

/** The parsed arguments of one command (without the global options). */
export type CommandOptions<C extends CommandSpec> =
  & { command: C["id"] }
  & OptionValues<C["options"]>
  & (C["argument"] extends { readonly key: infer K extends string } ? { [P in K]?: string }
    : unknown);

/** `--store file|keyring|auto|ephemeral`. */
export const storeOption = {
  names: ["--store"],
  value: { kind: "choice", metavar: "STORE", choices: STORE_MODES },
  help:
    "where credentials live; overrides CDX_CREDENTIALS_STORE and config.toml's cli_auth_credentials_store",
} as const satisfies OptionSpec;

/** `--json`: print data as JSON on stdout. */
export const jsonOption = {
  names: ["--json"],
  help: "print the result as JSON on stdout",
} as const satisfies OptionSpec;

/** Feedback classifications, as codex names them. */
export const CLASSIFICATIONS = ["bug", "bad_result", "good_result", "other"] as const;

/** Options accepted before or after any command. */
export const GLOBAL_OPTIONS = {
  codexHome: {
    names: ["--codex-home"],
    value: { kind: "path", metavar: "DIR", entry: "directory" },
    help: "codex's home directory (env CODEX_HOME, default ~/.codex)",
  },
  logLevel: {
    names: ["--log-level"],
    value: { kind: "choice", metavar: "LEVEL", choices: LOG_LEVELS },
    help: "stderr log level: error, warn (default), info, debug, trace",
  },
  noColor: {
    names: ["--no-color"],
    help: "no ANSI colours (also when NO_COLOR is set)",
  },
} as const satisfies { readonly [key: string]: OptionSpec };

/** `cdx login`. */
export const LOGIN = {
  id: "login",
  path: ["login"],
  brief: "Log in in a browser, with a device code or with an API key",
  description:
    "Signs in through your browser (default), with a one-time code (--device-auth) or with an API key read from stdin, and stores the credentials where codex finds them. Without a browser on this machine (SSH, no display), cdx prints the link and lets you paste the address the browser ends on.",
  options: {
    withApiKey: { names: ["--with-api-key"], help: "read an API key from stdin and save it" },
    deviceAuth: {
      names: ["--device-auth"],
      help:
        "sign in with a one-time code entered in a browser on any device (the account must allow device code login)",
    },
    issuer: {
      names: ["--issuer"],
      value: { kind: "string", metavar: "URL" },
      help: "OAuth issuer (default https://auth.openai.com; env CDX_ISSUER)",
    },
    clientId: {
      names: ["--client-id"],
      value: { kind: "string", metavar: "ID" },
      help: "OAuth client id, required for a standard OpenID Connect issuer",
    },
    scope: {
      names: ["--scope"],
      value: { kind: "string", metavar: "SCOPE" },
      help: "OAuth scope for a standard OpenID Connect issuer",
    },
    port: {
      names: ["--port"],
      value: { kind: "integer", metavar: "PORT", min: 0, max: 65535 },
      help: "local port the browser returns to (default 1455, then 1457; 0 picks a free one)",
    },
    noBrowser: {
      names: ["--no-browser"],
      help: "print the sign-in link instead of opening a browser",
    },
    store: storeOption,
  },
  examples: [
    "cdx login",
    "cdx login --device-auth",
    "printenv OPENAI_API_KEY | cdx login --with-api-key",
    "cdx login --issuer https://id.example.com --client-id cdx",
    "cdx login status --json",
    'curl -H "Authorization: Bearer $(cdx login token)" ...',
  ],
} as const satisfies CommandSpec;

/** `cdx login status`. */
export const LOGIN_STATUS = {
  id: "login-status",
  path: ["login", "status"],
  brief: "Show how you are logged in",
  description:
    "Shows the account or masked API key, where the credentials live and when the token expires. Exit 0 when logged in, 1 when not.",
  options: { store: storeOption, json: jsonOption },
  examples: ["cdx login status", "cdx login status --json"],
  brokenConfigOk: true,
  readOnly: true,
} as const satisfies CommandSpec;

/** `cdx login token`. */
export const LOGIN_TOKEN = {
  id: "login-token",
  path: ["login", "token"],
  brief: "Print the bearer credential for scripts",
  description:
    "Prints the access token (or API key) on stdout, refreshing it first when it has expired.",
  options: { store: storeOption, json: jsonOption },
  examples: ['curl -H "Authorization: Bearer $(cdx login token)" ...'],
} as const satisfies CommandSpec;

/** `cdx logout`. */
export const LOGOUT = {
  id: "logout",
  path: ["logout"],
  brief: "Revoke and remove stored credentials",
  description:
    "Revokes the refresh token, then deletes the credentials from the keychain (every chunk), auth.json and the legacy token file.",
  options: {
    noRevoke: { names: ["--no-revoke"], help: "do not revoke the refresh token first" },
    store: storeOption,
    json: jsonOption,
  },
  examples: ["cdx logout", "cdx logout --no-revoke", "cdx logout --json"],
  brokenConfigOk: true,
} as const satisfies CommandSpec;

/** `cdx run`. */
export const RUN = {
  id: "run",
  path: ["run"],
  brief: "Send a prompt to the model and stream the answer",
  description:
    "Streams the answer to stdout as it arrives; progress and errors go to stderr. With --json prints codex exec's JSONL events.",
  options: {
    model: {
      names: ["-m", "--model"],
      value: { kind: "string", metavar: "MODEL" },
      help: "model (default: model in config.toml)",
    },
    instructions: {
      names: ["--instructions"],
      value: { kind: "string", metavar: "TEXT" },
      help: "system instructions sent with the prompt",
    },
    images: {
      names: ["-i", "--image"],
      value: { kind: "path", metavar: "FILE", entry: "file" },
      repeatable: true,
      help: "attach an image (png, jpeg, gif, webp); repeat it or give a comma-separated list",
    },
    outputSchema: {
      names: ["--output-schema"],
      value: { kind: "path", metavar: "FILE", entry: "file" },
      help: "JSON Schema the final message must follow (exit 1 if it is not JSON)",
    },
    config: {
      names: ["-c", "--config"],
      value: { kind: "string", metavar: "KEY=VALUE" },
      repeatable: true,
      help: "override a config.toml setting for this run (the value is parsed as TOML)",
    },
    continueLast: {
      names: ["--continue"],
      help: "continue the last session: its turns are sent before the prompt",
    },
    session: {
      names: ["--session"],
      value: { kind: "string", metavar: "ID" },
      help: "continue session ID (the thread_id of --json's thread.started)",
    },
    ephemeral: { names: ["--ephemeral"], help: "keep no session for this run" },
    baseUrl: {
      names: ["--base-url"],
      value: { kind: "string", metavar: "URL" },
      help: "Responses API base URL (env OPENAI_BASE_URL)",
    },
    timeout: {
      names: ["--timeout"],
      value: { kind: "number", metavar: "SECONDS", min: 0 },
      help: "give up after this many seconds (exit 124)",
    },
    idleTimeout: {
      names: ["--idle-timeout"],
      value: { kind: "number", metavar: "SECONDS", min: 0 },
      help: "give up when no event arrives for this long (default 300)",
    },
    outputLastMessage: {
      names: ["-o", "--output-last-message"],
      value: { kind: "path", metavar: "FILE", entry: "file" },
      help: "also write the final message to FILE",
    },
    json: { names: ["--json"], help: "print codex exec's JSONL events on stdout" },
    store: storeOption,
  },
  argument: {
    key: "prompt",
    metavar: "PROMPT",
    help: "the prompt; - or absent reads it from stdin",
  },
  examples: [
    'cdx run "explain this error" < build.log',
    'git diff | cdx run "write a commit message"',
    `cdx run --json "list three colours" | jq -r 'select(.type=="item.completed").item.text'`,
    'cdx run --output-schema schema.json -o result.json "extract the fields"',
    'cdx run -i screenshot.png "what is wrong here?"',
    'cdx run -c model_reasoning_effort=high "plan the migration"',
    'cdx run --continue "and in French?"',
  ],
  jsonLines: true,
} as const satisfies CommandSpec;

/** `cdx feedback`. */
export const FEEDBACK = {
  id: "feedback",
  path: ["feedback"],
  brief: "Export or upload a bug report with recent (redacted) logs",
  options: {
    classification: {
      names: ["--classification"],
      value: { kind: "choice", metavar: "KIND", choices: CLASSIFICATIONS },
      help: "what kind of report this is",
    },
    note: {
      names: ["--note"],
      value: { kind: "string", metavar: "TEXT" },
      help: "a note describing the problem",
    },
    noLogs: { names: ["--no-logs"], help: "leave the logs out of the bundle" },
    output: {
      names: ["--output"],
      value: { kind: "path", metavar: "FILE", entry: "file" },
      help: "write the bundle (zip) to FILE",
    },
    upload: {
      names: ["--upload"],
      help: "upload to the Sentry DSN in CDX_FEEDBACK_DSN or config feedback.dsn",
    },
    yes: { names: ["-y", "--yes"], help: "do not ask; for scripts" },
    json: jsonOption,
  },
  examples: [
    'cdx feedback --classification bug --note "login hangs" --output report.zip --yes',
    'cdx feedback --upload --classification bug --note "run exits 1"',
  ],
  brokenConfigOk: true,
} as const satisfies CommandSpec;

/** Every command, parents before their subcommands. */
export const COMMANDS = [LOGIN, LOGIN_STATUS, LOGIN_TOKEN, LOGOUT, RUN, FEEDBACK] as const;

/** A command's id. */
export type CommandId = typeof COMMANDS[number]["id"];

/** The commands cdx answers itself, before any Context exists. */
export const BUILTINS = {
  help: { path: ["help"], brief: "Show help for a command", usage: "cdx help [COMMAND...]" },
  completions: {
    path: ["completions"],
    brief: "Print a shell completion script: bash, zsh or fish",
    usage: "cdx completions SHELL",
    description:
      "Prints a script that completes cdx's commands, options and their values (file paths included) in bash, zsh or fish. The script calls cdx to compute completions, so cdx must be on your PATH.",
    examples: [
      "cdx completions bash > ~/.local/share/bash-completion/completions/cdx",
      'cdx completions zsh > "${fpath[1]}/_cdx"',
      "cdx completions fish > ~/.config/fish/completions/cdx.fish",
    ],
    /** `completion` is accepted too. */
    aliases: ["completion"],
  },
} as const;

/** The whole program: what `cdx --help` shows around the command list. */
export const PROGRAM = {
  name: "cdx",
  brief: "cdx: sign in to codex, keep the credentials safe, run prompts from scripts.",
  description:
    "Credentials are shared with the codex CLI: what cdx stores, codex reads, and the other way round.",
  examples: [
    "cdx login                       # sign in in your browser (--device-auth: with a code)",
    "printenv OPENAI_API_KEY | cdx login --with-api-key",
    "cdx login status",
    'cdx run "summarise this" < notes.txt',
    "cdx feedback --output report.zip --yes",
    "cdx logout",
    "cdx completions bash > ~/.local/share/bash-completion/completions/cdx",
  ],
  footer:
    "Exit codes: 0 ok, 1 failure, 2 usage, 3 keychain unreadable, 124 timeout, 130 Ctrl-C, 143 SIGTERM. JSON output (--json): see the README.",
} as const;

/** The global options' parsed values. */
export type GlobalValues = OptionValues<typeof GLOBAL_OPTIONS>;

/** One command's parsed arguments with the global options. */
export type ParsedOf<C> = C extends CommandSpec ? CommandOptions<C> & GlobalValues : never;
/** A parsed command line: one command's options plus the global options. */
export type ParsedArgs = ParsedOf<typeof COMMANDS[number]>;

/** Options of `cdx login`. */
export type LoginOptions = CommandOptions<typeof LOGIN>;
/** Options of `cdx login status`. */
export type LoginStatusOptions = CommandOptions<typeof LOGIN_STATUS>;
/** Options of `cdx login token`. */
export type LoginTokenOptions = CommandOptions<typeof LOGIN_TOKEN>;
/** Options of `cdx logout`. */
export type LogoutOptions = CommandOptions<typeof LOGOUT>;
/** Options of `cdx run`. */
export type RunCommandOptions = CommandOptions<typeof RUN>;
/** Options of `cdx feedback`. */
export type FeedbackOptions = CommandOptions<typeof FEEDBACK>;
