/**
 * Logging setup. LogTape is configured once (by `cli.ts`) with two sinks:
 *
 * - `console`: stderr, filtered at the `--log-level` (default warn);
 * - `capture`: receives every record at every level, trace included. It is a
 *   slot: the feedback module attaches its redacting ring buffer with
 *   {@linkcode setCaptureSink}.
 *
 * Categories are per module: `["cdx","auth"]`, `["cdx","keyring"]`, ...
 *
 * @module
 */
import {
  configure,
  type LogLevel as LogTapeLevel,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";
import type { LogLevel, Output } from "./context.ts";
import type { SecretRegistry } from "./secrets.ts";

const ORDER: Record<LogTapeLevel, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  fatal: 5,
};

/** Maps a `--log-level` value to LogTape's level. */
export function toLogTapeLevel(level: LogLevel): LogTapeLevel {
  return level === "warn" ? "warning" : level;
}

let captureSink: Sink = () => {};

/** Attaches the sink that receives every record (the feedback ring buffer). */
export function setCaptureSink(sink: Sink | undefined): void {
  captureSink = sink ?? (() => {});
}

/** Renders a record's message with its properties interpolated. */
export function renderMessage(record: LogRecord): string {
  return record.message.map((part) => typeof part === "string" ? part : stringify(part)).join(
    "",
  );
}

function stringify(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const LABEL: Record<LogTapeLevel, string> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warning: "warning",
  error: "error",
  fatal: "fatal",
};

const COLOR: Record<LogTapeLevel, string> = {
  trace: "\x1b[90m",
  debug: "\x1b[90m",
  info: "\x1b[36m",
  warning: "\x1b[33m",
  error: "\x1b[31m",
  fatal: "\x1b[31m",
};

/** Options of {@linkcode createConsoleSink}. */
export interface ConsoleSinkOptions {
  output: Output;
  level: LogLevel;
  secrets: SecretRegistry;
}

/**
 * The stderr sink: `warning: message` at warn and above; debug and trace
 * lines carry the category. Secrets are masked.
 */
export function createConsoleSink(options: ConsoleSinkOptions): Sink {
  const lowest = ORDER[toLogTapeLevel(options.level)];
  const verbose = lowest <= ORDER.info;
  return (record) => {
    if (ORDER[record.level] < lowest) return;
    const label = options.output.color
      ? `${COLOR[record.level]}${LABEL[record.level]}\x1b[0m`
      : LABEL[record.level];
    const category = verbose ? ` [${record.category.join(".")}]` : "";
    let line: string;
    try {
      line = options.secrets.redact(`${label}${category}: ${renderMessage(record)}\n`);
    } catch {
      // Masking never throws; if it ever did, the line is dropped, never printed raw.
      return;
    }
    try {
      options.output.writeSync(line);
    } catch {
      // stderr closed: nothing sensible to do with a log line
    }
  };
}

/** Options of {@linkcode configureLogging}. */
export interface LoggingOptions extends ConsoleSinkOptions {}

/**
 * Configures LogTape for a cdx process: console at the chosen level plus the
 * capture slot at trace. Safe to call again (tests): it resets first.
 */
export async function configureLogging(options: LoggingOptions): Promise<void> {
  await reset();
  await configure({
    reset: true,
    sinks: {
      console: createConsoleSink(options),
      capture: (record) => captureSink(record),
    },
    loggers: [
      { category: ["cdx"], sinks: ["console", "capture"], lowestLevel: "trace" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    ],
  });
}
