/**
 * cdx's error types and its exit-code table — the one place both live.
 * The README's table mirrors {@linkcode EXIT_CODES} (see
 * `tests/cli_test.ts`, which keeps them in step; the error codes likewise).
 *
 * @module
 */

/** Exit codes of cdx. Scripts rely on these; change them only with a major version. */
export const ExitCode = {
  /** Success. */
  OK: 0,
  /** A failure the message explains (not logged in, network error, keychain error, ...). */
  FAILURE: 1,
  /** Bad usage: unknown flag, missing argument, invalid value. */
  USAGE: 2,
  /**
   * The credential store could not be read (keychain locked, unavailable or
   * not answering): whether you are logged in is unknown — never reported as
   * "not logged in".
   */
  STORE_UNAVAILABLE: 3,
  /** A deadline set by the user (`--timeout`) or by cdx expired. */
  TIMEOUT: 124,
  /** Interrupted by SIGINT (Ctrl-C). */
  INTERRUPTED: 130,
  /** Terminated by SIGTERM. */
  TERMINATED: 143,
} as const;

/** An exit code of cdx. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/** The exit-code table, as documented in the README. */
export const EXIT_CODES: ReadonlyArray<{ code: ExitCode; meaning: string }> = [
  { code: ExitCode.OK, meaning: "success (`login status`: logged in)" },
  {
    code: ExitCode.FAILURE,
    meaning:
      "failure explained on stderr: not logged in, auth/network/keychain error, model error, internal error",
  },
  {
    code: ExitCode.USAGE,
    meaning: "usage error: unknown flag or command, bad value, missing input",
  },
  {
    code: ExitCode.STORE_UNAVAILABLE,
    meaning:
      "the credential store cannot be read (keychain locked, unavailable or not answering); login state unknown",
  },
  {
    code: ExitCode.TIMEOUT,
    meaning:
      "a deadline expired (`run --timeout`, `--idle-timeout`, a server that does not answer within `CDX_REQUEST_TIMEOUT`)",
  },
  {
    code: ExitCode.INTERRUPTED,
    meaning: "interrupted by Ctrl-C (SIGINT); a second Ctrl-C exits at once",
  },
  { code: ExitCode.TERMINATED, meaning: "terminated by SIGTERM" },
];

/**
 * The `code` of the `--json` error object (`{"version":1,"error":{"code":…}}`):
 * one stable string per kind of failure, for scripts that branch on more than
 * the exit code. Scripts rely on these; a new kind may be added, an existing
 * one is never renamed or reused (README "JSON output").
 */
export const ERROR_CODES = [
  { code: "usage", exit: ExitCode.USAGE, meaning: "bad command line, option value or variable" },
  { code: "not_logged_in", exit: ExitCode.FAILURE, meaning: "no stored credentials" },
  {
    code: "login_expired",
    exit: ExitCode.FAILURE,
    meaning: "the stored login cannot be refreshed any more: log in again",
  },
  {
    code: "login_failed",
    exit: ExitCode.FAILURE,
    meaning: "a sign-in did not complete (declined, code expired, exchange refused)",
  },
  {
    code: "store_unavailable",
    exit: ExitCode.STORE_UNAVAILABLE,
    meaning: "the keychain cannot be read: login state unknown",
  },
  {
    code: "config",
    exit: ExitCode.FAILURE,
    meaning: "config.toml cannot be read or has a bad value",
  },
  {
    code: "file",
    exit: ExitCode.FAILURE,
    meaning: "a file or directory cannot be read or written (permission, full disk, …)",
  },
  { code: "network", exit: ExitCode.FAILURE, meaning: "a server could not be reached" },
  {
    code: "server",
    exit: ExitCode.FAILURE,
    meaning:
      "a server answered with an error (the model failed, the feedback upload was refused, …)",
  },
  { code: "timeout", exit: ExitCode.TIMEOUT, meaning: "a deadline expired" },
  { code: "interrupted", exit: ExitCode.INTERRUPTED, meaning: "Ctrl-C (SIGINT)" },
  { code: "terminated", exit: ExitCode.TERMINATED, meaning: "SIGTERM" },
  { code: "internal", exit: ExitCode.FAILURE, meaning: "a bug in cdx (please report it)" },
  { code: "failed", exit: ExitCode.FAILURE, meaning: "any other failure; the message explains it" },
] as const;

/** A stable error code of the `--json` error object (see {@linkcode ERROR_CODES}). */
export type ErrorCode = typeof ERROR_CODES[number]["code"];

/** The code an error of this exit code has unless it says otherwise. */
function codeForExit(exitCode: ExitCode): ErrorCode {
  switch (exitCode) {
    case ExitCode.USAGE:
      return "usage";
    case ExitCode.STORE_UNAVAILABLE:
      return "store_unavailable";
    case ExitCode.TIMEOUT:
      return "timeout";
    case ExitCode.INTERRUPTED:
      return "interrupted";
    case ExitCode.TERMINATED:
      return "terminated";
    default:
      return "failed";
  }
}

/** Options of {@linkcode CdxError}. */
export interface CdxErrorOptions {
  /** What the user can do about it, printed as `hint: …`. */
  hint?: string;
  /** Exit code; default {@linkcode ExitCode.FAILURE}. */
  exitCode?: ExitCode;
  /** The `--json` error code; default: derived from the exit code (`failed` for 1). */
  errorCode?: ErrorCode;
  /** The underlying error, kept for `--log-level debug`. */
  cause?: unknown;
}

/**
 * An error the user can act on. `cli.ts` prints `error: <message>` and
 * `hint: <hint>` and exits with `exitCode`. Messages never contain secrets.
 *
 * @example
 * ```ts
 * throw new CdxError("not logged in", { hint: "run `cdx login`" });
 * ```
 */
export class CdxError extends Error {
  /** What the user can do about it. */
  readonly hint?: string;
  /** The process exit code. */
  readonly exitCode: ExitCode;
  /** The stable `code` of the `--json` error object. */
  readonly errorCode: ErrorCode;
  /** `message` holds no secret; `options` give the hint, exit code and error code. */
  constructor(message: string, options: CdxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CdxError";
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.FAILURE;
    this.errorCode = options.errorCode ?? codeForExit(this.exitCode);
  }
}

/**
 * Bad command-line usage: exit 2 with a short usage line.
 *
 * @example
 * ```ts
 * throw new UsageError("no prompt given and stdin is a terminal", { hint: "cdx run PROMPT" });
 * ```
 */
export class UsageError extends CdxError {
  /** `message` says what was wrong; `hint` how to write it. */
  constructor(message: string, options: Omit<CdxErrorOptions, "exitCode" | "errorCode"> = {}) {
    super(message, { ...options, exitCode: ExitCode.USAGE, errorCode: "usage" });
    this.name = "UsageError";
  }
}
