/**
 * The feedback capture: a log sink that receives every record at every
 * level (trace included, whatever `--log-level` says), redacts it and keeps
 * the newest bytes in a {@linkcode ByteRing}. Records under the category
 * `["cdx","feedback_tags"]` also set report tags (at most 64 keys).
 *
 * `cli.ts` calls {@linkcode installFeedbackCapture} for every command, so this
 * module stays small: persistence is loaded only at exit.
 *
 * @module
 */
import type { LogRecord, LogRecordLevel, Sink } from "../logger.ts";

/** The record and sink types (lib/logger.ts), as the capture receives and provides them. */
export type { LogRecord, Sink };
import { renderMessage, setCaptureSink } from "../log.ts";
import type { Context } from "../context.ts";
import { MASK_FAILED, SecretRegistry } from "../secrets.ts";
import { ByteRing, DEFAULT_RING_CAPACITY } from "./ring.ts";
import { type PersistSettings, persistSettings } from "./settings.ts";

/** The category whose records carry tags, as codex's `feedback_tags` target. */
export const FEEDBACK_TAGS_CATEGORY: readonly string[] = ["cdx", "feedback_tags"];

/** At most this many distinct tag keys are kept (codex's limit). */
export const MAX_TAG_KEYS = 64;

const LEVEL_LABEL: Record<LogRecordLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: " INFO",
  warning: " WARN",
  error: "ERROR",
  fatal: "FATAL",
};

/** Options of {@linkcode FeedbackCapture}. */
export interface FeedbackCaptureOptions {
  /** Ring capacity in bytes (default 4 MiB). */
  capacity?: number;
  /** The secrets to mask (default: an empty registry, so patterns only). */
  secrets?: SecretRegistry;
}

/**
 * Redacting ring-buffer capture of log records.
 *
 * @example
 * ```ts
 * const capture = new FeedbackCapture({ secrets: ctx.secrets });
 * setCaptureSink(capture.sink);
 * // ... later
 * const text = capture.text();
 * ```
 */
export class FeedbackCapture {
  /** The ring holding the redacted log lines. */
  readonly ring: ByteRing;
  /** The secrets masked in every line and tag. */
  readonly secrets: SecretRegistry;
  /** The sink to attach (`setCaptureSink`). */
  readonly sink: Sink;
  #tags = new Map<string, string>();
  #encoder = new TextEncoder();
  #scratch = new Uint8Array(1024);
  #lastSecond = -1;
  #lastSecondText = "";

  /** A capture with its own ring; `secrets` defaults to an empty registry (patterns only). */
  constructor(options: FeedbackCaptureOptions = {}) {
    this.ring = new ByteRing(options.capacity ?? DEFAULT_RING_CAPACITY);
    this.secrets = options.secrets ?? new SecretRegistry();
    this.sink = (record) => this.capture(record);
  }

  /**
   * Formats, redacts and stores one record (the sink body). Never throws: a
   * record that cannot be formatted or masked is stored as a placeholder
   * line, never raw.
   */
  capture(record: LogRecord): void {
    let line: string;
    try {
      if (isTagsCategory(record.category)) this.#collectTags(record.properties);
      line = this.secrets.redact(this.format(record));
    } catch {
      line = `${MASK_FAILED}\n`;
    }
    try {
      this.#store(line);
    } catch {
      // Out of memory for one line: losing it is better than failing the command.
    }
  }

  /** One record as a log line: `<ISO time> <LEVEL> <category>: <message> [extra properties]`. */
  format(record: LogRecord): string {
    let message = renderMessage(record);
    const properties = record.properties;
    let propertyCount = 0;
    for (const _ in properties) propertyCount++;
    // Properties the template did not interpolate would be lost otherwise.
    if (propertyCount > (record.message.length - 1) / 2) {
      message += ` ${safeJson(properties)}`;
    }
    return `${this.#time(record.timestamp)} ${LEVEL_LABEL[record.level]} ${
      record.category.join(".")
    }: ${message}\n`;
  }

  /** Tags collected so far (redacted values), in insertion order. */
  tags(): Record<string, string> {
    return Object.fromEntries(this.#tags);
  }

  /**
   * The captured text, oldest first. Exact values registered after a line was
   * stored are masked here too.
   */
  text(): string {
    return this.secrets.redactValues(new TextDecoder().decode(this.ring.bytes()));
  }

  #collectTags(properties: Record<string, unknown>): void {
    for (const key in properties) {
      if (!this.#tags.has(key) && this.#tags.size >= MAX_TAG_KEYS) continue;
      const value = properties[key];
      this.#tags.set(
        key,
        this.secrets.redact(typeof value === "string" ? value : safeJson(value)),
      );
    }
  }

  #store(line: string): void {
    // Worst case 3 bytes per UTF-16 unit; reuse one scratch buffer.
    if (line.length * 3 > this.#scratch.length) {
      this.#scratch = new Uint8Array(Math.max(line.length * 3, this.#scratch.length * 2));
    }
    const { written } = this.#encoder.encodeInto(line, this.#scratch);
    this.ring.write(this.#scratch.subarray(0, written));
    if (this.#scratch.length > 1 << 20 && line.length < 1 << 16) {
      this.#scratch = new Uint8Array(1024); // give back a huge one-off buffer
    }
  }

  /** ISO time with the date-and-seconds part cached (records come in bursts). */
  #time(timestamp: number): string {
    const second = Math.floor(timestamp / 1000);
    if (second !== this.#lastSecond) {
      this.#lastSecond = second;
      this.#lastSecondText = new Date(second * 1000).toISOString().slice(0, 19);
    }
    const ms = timestamp - second * 1000;
    return `${this.#lastSecondText}.${ms < 10 ? "00" : ms < 100 ? "0" : ""}${Math.floor(ms)}Z`;
  }
}

function isTagsCategory(category: readonly string[]): boolean {
  const tags = FEEDBACK_TAGS_CATEGORY;
  return category.length === 2 && category[0] === tags[0] && category[1] === tags[1];
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v) => typeof v === "bigint" ? v.toString() : v) ??
      String(value);
  } catch {
    return String(value);
  }
}

/** What {@linkcode installFeedbackCapture} set up for one process. */
export interface InstalledCapture {
  /** The capture attached to the logging slot. */
  capture: FeedbackCapture;
  /** This invocation's id (header of its block in cdx.log). */
  invocationId: string;
  /** When the invocation started, ms since the epoch. */
  startedAt: number;
  /** Persistence settings in force. */
  persist: PersistSettings;
  /** Detaches the sink and the exit hook. */
  dispose(): void;
}

const installed = new WeakMap<Context, InstalledCapture>();

/** Options of {@linkcode installFeedbackCapture}. */
export interface InstallOptions {
  /** Ring capacity (default 4 MiB). */
  capacity?: number;
}

/**
 * Attaches the redacting ring sink to the logging slot and registers the exit
 * hook that appends this invocation to `$CODEX_HOME/log/cdx.log` (unless
 * persistence is off). Cheap: the ring allocates as records arrive.
 *
 * @example
 * ```ts
 * // cli.ts, once the Context exists
 * installFeedbackCapture(ctx);
 * ```
 */
export function installFeedbackCapture(
  ctx: Context,
  options: InstallOptions = {},
): InstalledCapture {
  const capture = new FeedbackCapture({ capacity: options.capacity, secrets: ctx.secrets });
  setCaptureSink(capture.sink);
  const persist = persistSettings(ctx);
  const invocationId = crypto.randomUUID();
  const startedAt = ctx.clock.now();
  const removeHook = persist.enabled
    ? ctx.exitHooks.add(async ({ code }) => {
      const { persistInvocation } = await import("./persist.ts");
      await persistInvocation(ctx, { capture, invocationId, startedAt, exitCode: code, persist });
    })
    : () => {};
  const result: InstalledCapture = {
    capture,
    invocationId,
    startedAt,
    persist,
    dispose() {
      setCaptureSink(undefined);
      removeHook();
      installed.delete(ctx);
    },
  };
  installed.set(ctx, result);
  return result;
}

/** The capture installed for `ctx`, if any (`cdx feedback` reads its own records from it). */
export function installedCapture(ctx: Context): InstalledCapture | undefined {
  return installed.get(ctx);
}
