/**
 * The invocation blocks of `cdx.log`: each cdx process's redacted records
 * under a header (id, start time, version, exit code, argv, tags) and a
 * footer, so readers and the size cap work in whole invocations. Pure text
 * functions; the file itself is lib/feedback/persist.ts.
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

const HEADER_PREFIX = "==> cdx invocation ";
const FOOTER_PREFIX = "<== cdx invocation ";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What goes in an invocation header. */
export interface InvocationHeader {
  /** The invocation id. */
  id: string;
  /** Start time, ms since the epoch. */
  startedAt: number;
  /** cdx's version. */
  version: string;
  /** Exit code, or undefined while still running. */
  exitCode?: number;
  /** argv, already masked. */
  argv: readonly string[];
  /** Report tags collected by the invocation (redacted). */
  tags: Record<string, string>;
}

/** One block of cdx.log. */
export interface LogBlock {
  /** The invocation id. */
  id: string;
  /** ISO start time as written. */
  start: string;
  /** cdx's version as written. */
  version: string;
  /** Exit code as written (`"running"` for the current process). */
  exit: string;
  /** The recorded argv (secrets masked, prompts replaced by their length). */
  argv: string[];
  /** Report tags (redacted). */
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
