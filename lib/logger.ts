/**
 * The logging types every module takes (through the Context): a leaf, so the
 * machinery behind them (lib/log.ts) can change without touching its users.
 *
 * The shapes follow LogTape's (cdx used it until start-up time ruled it out):
 * a record carries its category, level, message parts and properties, and a
 * sink is a function of a record.
 *
 * @module
 */

/** Console log levels of `--log-level`. */
export const LOG_LEVELS = ["error", "warn", "info", "debug", "trace"] as const;
/** A console log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** The level of one record. */
export type LogRecordLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/** One log record, as sinks receive it. */
export interface LogRecord {
  /** `["cdx", "auth"]`, … */
  readonly category: readonly string[];
  /** How severe. */
  readonly level: LogRecordLevel;
  /**
   * The message with its values interpolated: text at even indexes, values at
   * odd ones (`"refreshing {reason}"` → `["refreshing ", reason, ""]`).
   */
  readonly message: readonly unknown[];
  /** The template as written (or the tagged template's strings). */
  readonly rawMessage: string | TemplateStringsArray;
  /** ms since the epoch. */
  readonly timestamp: number;
  /** The properties given with the message. */
  readonly properties: Record<string, unknown>;
}

/** Receives records. Must not throw. */
export type Sink = (record: LogRecord) => void;

/** One logging method: a `{name}` template with properties, or a tagged template. */
export interface LogMethod {
  (message: string, properties?: Record<string, unknown>): void;
  (template: TemplateStringsArray, ...values: unknown[]): void;
}

/**
 * A logger for one category. Messages are templates whose `{name}`
 * placeholders are filled from the properties (`{{` and `}}` are literal
 * braces); properties the template does not name are kept on the record.
 *
 * @example
 * ```ts
 * const log = ctx.logger.getChild("auth");
 * log.debug("refreshing the access token ({reason})", { reason: "expired" });
 * ```
 */
export interface Logger {
  /** The category, e.g. `["cdx", "auth"]`. */
  readonly category: readonly string[];
  /** A logger for a sub-category. */
  getChild(subcategory: string | readonly string[]): Logger;
  /** Step-by-step detail (kept in the feedback log, never shown by default). */
  trace: LogMethod;
  /** What a developer needs to follow a run (`--log-level debug`). */
  debug: LogMethod;
  /** Notable events (`--log-level info`). */
  info: LogMethod;
  /** Something the user should know (shown by default, as `warning: …`). */
  warn: LogMethod;
  /** A failure (shown by default). */
  error: LogMethod;
}
