/**
 * cdx's error types and its exit-code table — the one place both live.
 * The README's table mirrors {@linkcode EXIT_CODES} (see
 * `tests/readme_test.ts`, which keeps them in step).
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

/** Options of {@linkcode CdxError}. */
export interface CdxErrorOptions {
  /** What the user can do about it, printed as `hint: …`. */
  hint?: string;
  /** Exit code; default {@linkcode ExitCode.FAILURE}. */
  exitCode?: ExitCode;
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
  constructor(message: string, options: CdxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CdxError";
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.FAILURE;
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
  constructor(message: string, options: Omit<CdxErrorOptions, "exitCode"> = {}) {
    super(message, { ...options, exitCode: ExitCode.USAGE });
    this.name = "UsageError";
  }
}
