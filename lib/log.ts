/**
 * cdx's logging: {@linkcode getLogger} hands out {@linkcode Logger}s whose
 * records go to two process-wide sinks:
 *
 * - the console: stderr, filtered at the `--log-level` (default warn),
 *   installed by {@linkcode configureLogging};
 * - the capture slot: every record at every level, trace included. The
 *   feedback module attaches its redacting ring buffer with
 *   {@linkcode setCaptureSink}.
 *
 * Categories are per module: `["cdx","auth"]`, `["cdx","keyring"]`, ...
 *
 * Why not LogTape (which cdx used first, and whose record and sink shapes
 * these keep): importing it costs ~35 ms on every start, half of it Deno's
 * Node compatibility layer pulled in by its `node:util` import, while cdx
 * needs two fixed sinks and `{name}` templates. A record is built only
 * when a sink will take it.
 *
 * @module
 */
import type { Logger, LogLevel, LogMethod, LogRecord, LogRecordLevel, Sink } from "./logger.ts";

export type { Logger, LogLevel, LogRecord, LogRecordLevel, Sink } from "./logger.ts";

const ORDER: Record<LogRecordLevel, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  fatal: 5,
};

/** Maps a `--log-level` value to a record level. */
function toRecordLevel(level: LogLevel): LogRecordLevel {
  return level === "warn" ? "warning" : level;
}

let consoleSink: Sink | undefined;
let consoleLowest = Infinity;
let captureSink: Sink | undefined;

/** Attaches the sink that receives every record (the feedback ring buffer); `undefined` detaches it. */
export function setCaptureSink(sink: Sink | undefined): void {
  captureSink = sink;
}

/**
 * Renders a record's message with its values interpolated (strings as they
 * are, errors by their message, anything else as JSON).
 */
export function renderMessage(record: Pick<LogRecord, "message">): string {
  let text = "";
  for (const part of record.message) text += typeof part === "string" ? part : stringify(part);
  return text;
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

/** Splits a template into text and placeholder names: `[text, name, text, …, text]`. */
type ParsedTemplate = readonly string[];
const templates = new Map<string, ParsedTemplate>();
const TEMPLATE_CACHE_MAX = 512;

function parseTemplate(template: string): ParsedTemplate {
  let parsed = templates.get(template);
  if (parsed) return parsed;
  const parts: string[] = [];
  let text = "";
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if ((c === "{" || c === "}") && template[i + 1] === c) {
      text += c;
      i += 2;
      continue;
    }
    const close = c === "{" ? template.indexOf("}", i + 1) : -1;
    if (close < 0) {
      text += c;
      i++;
      continue;
    }
    parts.push(text, template.slice(i + 1, close));
    text = "";
    i = close + 1;
  }
  parts.push(text);
  parsed = parts;
  if (templates.size < TEMPLATE_CACHE_MAX) templates.set(template, parsed);
  return parsed;
}

function lookup(properties: Record<string, unknown>, key: string): unknown {
  const name = key.trim();
  if (key in properties) return properties[key];
  if (name === "*") return "*" in properties ? properties["*"] : properties;
  if (name in properties) return properties[name];
  // Nested access (`{user.name}`), as LogTape resolves it.
  let node: unknown = properties;
  for (const step of name.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[step];
  }
  return node;
}

function emit(
  category: readonly string[],
  level: LogRecordLevel,
  first: string | TemplateStringsArray,
  rest: unknown[],
): void {
  const toConsole = consoleSink !== undefined && ORDER[level] >= consoleLowest;
  if (!toConsole && captureSink === undefined) return;
  let message: unknown[];
  let properties: Record<string, unknown>;
  if (typeof first === "string") {
    properties = (rest[0] as Record<string, unknown> | undefined) ?? {};
    const parsed = parseTemplate(first);
    message = new Array(parsed.length);
    for (let i = 0; i < parsed.length; i++) {
      message[i] = i % 2 === 0 ? parsed[i] : lookup(properties, parsed[i]);
    }
  } else {
    properties = {};
    message = [];
    for (let i = 0; i < first.length; i++) {
      message.push(first[i]);
      if (i < rest.length) message.push(rest[i]);
    }
  }
  const record: LogRecord = {
    category,
    level,
    message,
    rawMessage: first,
    timestamp: Date.now(),
    properties,
  };
  if (toConsole) consoleSink!(record);
  try {
    captureSink?.(record);
  } catch {
    // A capture failure must never change what the command does.
  }
}

function method(category: readonly string[], level: LogRecordLevel): LogMethod {
  return ((first: string | TemplateStringsArray, ...rest: unknown[]) =>
    emit(category, level, first, rest)) as LogMethod;
}

/**
 * The logger of a category. Loggers are cheap: a record is built only when
 * the console level or the capture slot wants it.
 *
 * @example
 * ```ts
 * const log = getLogger(["cdx", "auth"]);
 * log.debug("refreshing ({reason}, attempt {attempt})", { reason: "expired", attempt: 1 });
 * ```
 */
export function getLogger(category: string | readonly string[]): Logger {
  const path: readonly string[] = typeof category === "string" ? [category] : [...category];
  return {
    category: path,
    getChild: (sub) => getLogger([...path, ...(typeof sub === "string" ? [sub] : sub)]),
    trace: method(path, "trace"),
    debug: method(path, "debug"),
    info: method(path, "info"),
    warn: method(path, "warning"),
    error: method(path, "error"),
  };
}

const COLOR: Record<LogRecordLevel, string> = {
  trace: "\x1b[90m",
  debug: "\x1b[90m",
  info: "\x1b[36m",
  warning: "\x1b[33m",
  error: "\x1b[31m",
  fatal: "\x1b[31m",
};

/** Where console lines go: the Context's stderr is one. */
export interface ConsoleOutput {
  /** Writes one line at once (log lines must not interleave with other output). */
  writeSync(data: string): void;
  /** Whether ANSI colours may be used. */
  readonly color: boolean;
}

/** Options of {@linkcode createConsoleSink} and {@linkcode configureLogging}. */
export interface ConsoleSinkOptions {
  /** Where lines go (stderr). */
  output: ConsoleOutput;
  /** The lowest level shown. */
  level: LogLevel;
  /** Masks secrets in each line (the Context's SecretRegistry). */
  secrets: { redact(text: string): string };
}

/**
 * The stderr sink: `warning: message` at warn and above; at info and below
 * lines carry the category. Secrets are masked.
 */
function createConsoleSink(options: ConsoleSinkOptions): Sink {
  const lowest = ORDER[toRecordLevel(options.level)];
  const verbose = lowest <= ORDER.info;
  return (record) => {
    if (ORDER[record.level] < lowest) return;
    const label = options.output.color
      ? `${COLOR[record.level]}${record.level}\x1b[0m`
      : record.level;
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

/**
 * Sends records at `level` and above to `output` (stderr). The capture slot
 * is independent: it gets every record once a sink is attached. Calling it
 * again replaces the console sink.
 */
export function configureLogging(options: ConsoleSinkOptions): void {
  consoleSink = createConsoleSink(options);
  consoleLowest = ORDER[toRecordLevel(options.level)];
}
