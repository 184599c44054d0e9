/**
 * The persisted log, `$CODEX_HOME/log/cdx.log`: at exit each cdx process
 * appends its redacted records as one block under an invocation header.
 * The file (0600, in a 0700 directory) stays under a size cap by dropping
 * the oldest blocks; an exclusive lock on `cdx.log.lock` serialises
 * append and trim, so concurrent processes never interleave.
 *
 * Block format:
 * ```
 * ==> cdx invocation <id> start=<ISO time> version=<v> exit=<code>
 * argv: ["login","--with-api-key"]
 * tags: {"auth_mode":"apikey"}
 * <log lines>
 * <== cdx invocation <id> end
 * ```
 *
 * @module
 */
import type { Context } from "../context.ts";
import { deadline } from "../cancel.ts";
import type { FeedbackCapture, PersistSettings } from "./capture.ts";
import { maskArgv, type Redactor } from "../redact.ts";

/** Name of the persisted log inside `$CODEX_HOME/log`. */
export const LOG_FILE_NAME = "cdx.log";

/** How long a process waits for another one's append before it gives up persisting. */
export const LOCK_WAIT_MS = 5000;

const HEADER_PREFIX = "==> cdx invocation ";
const FOOTER_PREFIX = "<== cdx invocation ";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `$CODEX_HOME/log`. */
export function logDir(codexHome: string): string {
  return `${codexHome.replace(/[\\/]+$/, "")}/log`;
}

/** `$CODEX_HOME/log/cdx.log`. */
export function logFilePath(codexHome: string): string {
  return `${logDir(codexHome)}/${LOG_FILE_NAME}`;
}

/** What goes in an invocation header. */
export interface InvocationHeader {
  id: string;
  /** Start time, ms since the epoch. */
  startedAt: number;
  version: string;
  /** Exit code, or undefined while still running. */
  exitCode?: number;
  /** argv, already masked. */
  argv: readonly string[];
  tags: Record<string, string>;
}

/** One block of cdx.log. */
export interface LogBlock {
  id: string;
  /** ISO start time as written. */
  start: string;
  version: string;
  /** Exit code as written (`"running"` for the current process). */
  exit: string;
  argv: string[];
  tags: Record<string, string>;
  /** The log lines. */
  body: string;
  /** The block exactly as in the file. */
  raw: string;
  /** Whether the footer was found (a block being written may be cut). */
  complete: boolean;
}

/**
 * Formats one invocation block. Body lines that look like block markers are
 * indented so a logged message can never fake a block boundary.
 */
export function formatBlock(header: InvocationHeader, body: string): string {
  const safeBody = body.replace(/^(==>|<==) cdx /gm, " $&");
  const tags = Object.keys(header.tags).length ? `tags: ${JSON.stringify(header.tags)}\n` : "";
  const exit = header.exitCode === undefined ? "running" : String(header.exitCode);
  return `${HEADER_PREFIX}${header.id} start=${
    new Date(header.startedAt).toISOString()
  } version=${header.version} exit=${exit}\n` +
    `argv: ${JSON.stringify(header.argv)}\n${tags}${safeBody}${
      safeBody === "" || safeBody.endsWith("\n") ? "" : "\n"
    }${FOOTER_PREFIX}${header.id} end\n`;
}

const HEADER_LINE = /^==> cdx invocation (\S+) start=(\S+) version=(\S+) exit=(\S+)$/;

/**
 * Splits cdx.log text into blocks, oldest first. Text before the first
 * header (a foreign or damaged prefix) is dropped.
 */
export function parseBlocks(text: string): LogBlock[] {
  const blocks: LogBlock[] = [];
  const starts: number[] = [];
  if (text.startsWith(HEADER_PREFIX)) starts.push(0);
  let at = text.indexOf(`\n${HEADER_PREFIX}`);
  while (at >= 0) {
    starts.push(at + 1);
    at = text.indexOf(`\n${HEADER_PREFIX}`, at + 1);
  }
  for (let i = 0; i < starts.length; i++) {
    const raw = text.slice(starts[i], starts[i + 1] ?? text.length);
    const lines = raw.split("\n");
    const match = HEADER_LINE.exec(lines[0]);
    if (!match) continue;
    const [, id, start, version, exit] = match;
    let argv: string[] = [];
    let tags: Record<string, string> = {};
    let bodyStart = 1;
    if (lines[1]?.startsWith("argv: ")) {
      argv = tryJson(lines[1].slice(6), []);
      bodyStart = 2;
    }
    if (lines[bodyStart]?.startsWith("tags: ")) {
      tags = tryJson(lines[bodyStart].slice(6), {});
      bodyStart++;
    }
    const footer = `${FOOTER_PREFIX}${id} end`;
    const footerIndex = lines.lastIndexOf(footer);
    const complete = footerIndex > 0 && lines.slice(footerIndex + 1).every((l) => l === "");
    const bodyLines = lines.slice(bodyStart, complete ? footerIndex : undefined);
    blocks.push({
      id,
      start,
      version,
      exit,
      argv,
      tags,
      body: bodyLines.join("\n") + (complete && bodyLines.length ? "\n" : ""),
      raw,
      complete,
    });
  }
  return blocks;
}

function tryJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Options of {@linkcode appendBlock}. */
export interface AppendOptions {
  /** Size cap of the file in bytes. */
  maxBytes: number;
  /** OS (no chmod on Windows). */
  os?: typeof Deno.build.os;
  /** Bound on waiting for the lock, ms. */
  lockWaitMs?: number;
}

/**
 * Appends one block to cdx.log under an exclusive lock, trimming the oldest
 * blocks when the cap would be exceeded. A block larger than the cap keeps
 * the tail of its body. The trim rewrites the file atomically (temp file +
 * rename), down to three quarters of the cap so it happens rarely.
 */
export async function appendBlock(
  codexHome: string,
  block: string,
  options: AppendOptions,
): Promise<void> {
  const dir = logDir(codexHome);
  const path = logFilePath(codexHome);
  const posix = (options.os ?? Deno.build.os) !== "windows";
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const lockFile = await Deno.open(`${path}.lock`, {
    create: true,
    read: true,
    write: true,
    mode: 0o600,
  });
  try {
    await deadline(lockFile.lock(true), options.lockWaitMs ?? LOCK_WAIT_MS, {
      message: "another cdx process holds the log lock",
    });
    try {
      let bytes = encoder.encode(block);
      if (bytes.length > options.maxBytes) {
        bytes = encoder.encode(shrinkBlock(block, options.maxBytes));
      }
      let size = 0;
      try {
        size = (await Deno.stat(path)).size;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      if (size + bytes.length <= options.maxBytes) {
        const file = await Deno.open(path, { create: true, append: true, mode: 0o600 });
        try {
          await writeAll(file, bytes);
        } finally {
          file.close();
        }
      } else {
        const existing = await Deno.readFile(path);
        const kept = keepNewestBlocks(
          decoder.decode(existing),
          Math.max(0, Math.floor(options.maxBytes * 0.75) - bytes.length),
        );
        const tmp = `${path}.${crypto.randomUUID()}.tmp`;
        try {
          await Deno.writeFile(tmp, concat(encoder.encode(kept), bytes), { mode: 0o600 });
          await Deno.rename(tmp, path);
        } catch (error) {
          await Deno.remove(tmp).catch(() => {});
          throw error;
        }
      }
      if (posix) await Deno.chmod(path, 0o600);
    } finally {
      await lockFile.unlock().catch(() => {});
    }
  } finally {
    lockFile.close();
  }
}

/** The newest whole blocks of `text` that fit in `budget` bytes. */
export function keepNewestBlocks(text: string, budget: number): string {
  const blocks = parseBlocks(text).filter((b) => b.complete);
  const kept: string[] = [];
  let used = 0;
  for (let i = blocks.length - 1; i >= 0; i--) {
    const size = encoder.encode(blocks[i].raw).length;
    if (used + size > budget) break;
    kept.unshift(blocks[i].raw);
    used += size;
  }
  return kept.join("");
}

/** Cuts a block's body (keeping whole newest lines) so the block fits in `maxBytes`. */
export function shrinkBlock(block: string, maxBytes: number): string {
  const parsed = parseBlocks(block)[0];
  if (!parsed) return "";
  const overhead = encoder.encode(block).length - encoder.encode(parsed.body).length;
  const marker = "[... older records dropped to fit the log cap ...]\n";
  const budget = maxBytes - overhead - marker.length;
  if (budget <= 0) return "";
  const bodyBytes = encoder.encode(parsed.body);
  let tail = decoder.decode(bodyBytes.subarray(Math.max(0, bodyBytes.length - budget)));
  const newline = tail.indexOf("\n");
  tail = newline >= 0 ? tail.slice(newline + 1) : "";
  // The replacement char of a cut UTF-8 sequence may add bytes: re-check.
  while (encoder.encode(tail).length > budget) tail = tail.slice(tail.indexOf("\n") + 1);
  const headerEnd = block.length -
    (parsed.body.length + `${FOOTER_PREFIX}${parsed.id} end\n`.length);
  return block.slice(0, headerEnd) + marker + tail + `${FOOTER_PREFIX}${parsed.id} end\n`;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let rest = bytes;
  while (rest.length > 0) rest = rest.subarray(await file.write(rest));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Reads cdx.log (empty when absent). No lock: appends and trims are atomic enough for readers. */
export async function readLog(codexHome: string): Promise<string> {
  try {
    return await Deno.readTextFile(logFilePath(codexHome));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return "";
    }
    throw error;
  }
}

/** What {@linkcode persistInvocation} needs. */
export interface PersistRequest {
  capture: FeedbackCapture;
  invocationId: string;
  startedAt: number;
  exitCode?: number;
  persist: PersistSettings;
}

/** The current invocation as a block (header, masked argv, tags, captured lines). */
export function invocationBlock(
  ctx: Pick<Context, "argv" | "version">,
  request: Omit<PersistRequest, "persist">,
): string {
  const redactor: Redactor = request.capture.redactor;
  return formatBlock({
    id: request.invocationId,
    startedAt: request.startedAt,
    version: ctx.version,
    exitCode: request.exitCode,
    argv: maskArgv(ctx.argv, redactor),
    tags: request.capture.tags(),
  }, request.capture.text());
}

/**
 * The exit hook body: appends this invocation to cdx.log. Never throws (an
 * exit hook must not change how the process ends).
 */
export async function persistInvocation(ctx: Context, request: PersistRequest): Promise<boolean> {
  try {
    const block = invocationBlock(ctx, request);
    await appendBlock(ctx.globals.codexHome, block, {
      maxBytes: request.persist.maxBytes,
      os: ctx.os,
    });
    return true;
  } catch {
    return false;
  }
}
