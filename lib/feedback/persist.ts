/**
 * The persisted log, `$CODEX_HOME/log/cdx.log`: at exit each cdx process
 * appends its redacted records as one block (lib/feedback/blocks.ts). The
 * file (0600, in a 0700 directory) stays under a size cap by dropping the
 * oldest blocks; an exclusive lock on `cdx.log.lock` serialises append and
 * trim, so concurrent processes never interleave. It is a log, not a
 * credential: no fsync.
 *
 * Deno has no `O_NOFOLLOW`, so no link is ever written through: the log
 * directory must not be a symbolic link (persisting is refused); cdx.log is
 * checked with `lstat`, opened without `create`, and the open handle's
 * device and inode must be the ones `lstat` saw (a link swapped in between is
 * caught). A cdx.log that is a link, has other hard links or has the wrong
 * mode is replaced by a new file (temp file + rename, which replaces the
 * directory entry, never the link's target); the victim of a planted link
 * keeps its content and mode. The lock file's link is replaced by
 * `withFileLock`.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { homePath, writeFileAtomic } from "../fs.ts";
import { withFileLock } from "../file_lock.ts";
import { CdxError } from "../errors.ts";
import { concatBytes } from "../bytes.ts";
import { lstatOrUndefined, openSame, readAll, writeAll, writeNew } from "./nofollow.ts";
import type { PersistSettings } from "./settings.ts";
import { formatBlock, keepNewestBlocks, shrinkBlock } from "./blocks.ts";
import { recordedArgv } from "./argv.ts";
import type { SecretRegistry } from "../secrets.ts";

/** Name of the persisted log inside `$CODEX_HOME/log`. */
const LOG_FILE_NAME = "cdx.log";

/** How long a process waits for another one's append before it gives up persisting. */
const LOCK_WAIT_MS = 5000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `$CODEX_HOME/log`. */
export function logDir(codexHome: string): string {
  return homePath(codexHome, "log");
}

/** `$CODEX_HOME/log/cdx.log`. */
export function logFilePath(codexHome: string): string {
  return homePath(codexHome, "log", LOG_FILE_NAME);
}

/** Options of {@linkcode appendBlock}. */
export interface AppendOptions {
  /** Size cap of the file in bytes. */
  maxBytes: number;
  /** OS (modes are checked only where they exist). */
  os?: typeof Deno.build.os;
  /** Bound on waiting for the lock, ms. */
  lockWaitMs?: number;
  /** Called with a message when cdx.log had to be replaced (a link, a foreign file). */
  onReplace?: (message: string) => void;
}

/** The log directory or file is not something cdx may write through. */
export class UnsafeLogPathError extends CdxError {
  /** A refusal naming the path and what is wrong with it. */
  constructor(readonly path: string, what: string) {
    super(`not keeping logs: ${path} ${what}`, {
      hint: "remove it; cdx recreates it as a private directory on its next run",
    });
    this.name = "UnsafeLogPathError";
  }
}

/** `$CODEX_HOME/log`, created 0700 when missing; a link or a non-directory is refused. */
async function ensureLogDir(dir: string): Promise<void> {
  const info = await lstatOrUndefined(dir);
  if (info?.isSymlink) throw new UnsafeLogPathError(dir, "is a symbolic link");
  if (info && !info.isDirectory) throw new UnsafeLogPathError(dir, "is not a directory");
  if (!info) {
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const created = await Deno.lstat(dir);
    if (!created.isDirectory) throw new UnsafeLogPathError(dir, "is not a directory");
  }
}

/** Why an existing cdx.log cannot be appended to in place (undefined: it can). */
function foreignReason(info: Deno.FileInfo, posix: boolean): string | undefined {
  if (info.isSymlink) return "was a symbolic link";
  if (!info.isFile) return "was not a regular file";
  if (posix && info.nlink !== null && info.nlink > 1) return "had other hard links";
  if (posix && info.mode !== null && (info.mode & 0o777) !== 0o600) return "had a wrong mode";
  return undefined;
}

/**
 * Appends one block to cdx.log under an exclusive lock, trimming the oldest
 * blocks when the cap would be exceeded. A block larger than the cap keeps
 * the tail of its body. The trim rewrites the file atomically (temp file +
 * rename, no fsync), down to three quarters of the cap so it happens rarely.
 * Never writes through a symbolic or hard link (see the module doc).
 */
export async function appendBlock(
  codexHome: string,
  block: string,
  options: AppendOptions,
): Promise<void> {
  const dir = logDir(codexHome);
  const path = logFilePath(codexHome);
  const posix = (options.os ?? Deno.build.os) !== "windows";
  await ensureLogDir(dir);
  await withFileLock(`${path}.lock`, async () => {
    let bytes = encoder.encode(block);
    if (bytes.length > options.maxBytes) {
      bytes = encoder.encode(shrinkBlock(block, options.maxBytes));
    }
    const seen = await lstatOrUndefined(path);
    const foreign = seen && foreignReason(seen, posix);
    if (!seen) {
      if (await writeNew(path, bytes)) return;
    } else if (!foreign && seen.size + bytes.length <= options.maxBytes) {
      const file = await openSame(path, seen, { append: true });
      if (file) {
        try {
          await writeAll(file, bytes);
          return;
        } finally {
          file.close();
        }
      }
    }
    // Over the cap, foreign, or changed under us: rewrite as a new file. Only a
    // regular, singly linked cdx.log is read back (never a link's target).
    let kept = "";
    if (seen && !seen.isSymlink && seen.isFile && !(posix && (seen.nlink ?? 1) > 1)) {
      const file = await openSame(path, seen, { read: true });
      if (file) {
        try {
          const text = decoder.decode(await readAll(file));
          kept = keepNewestBlocks(
            text,
            Math.max(0, Math.floor(options.maxBytes * 0.75) - bytes.length),
          );
        } finally {
          file.close();
        }
      }
    }
    if (foreign) options.onReplace?.(`replaced ${path}: it ${foreign}`);
    await writeFileAtomic(path, concatBytes([encoder.encode(kept), bytes]), {
      mode: 0o600,
      sync: false,
    });
  }, { waitMs: options.lockWaitMs ?? LOCK_WAIT_MS, holder: "another cdx process" });
}

/**
 * Reads cdx.log (empty when absent). No lock: appends and trims are atomic
 * enough for readers. A link in place of the directory or the file is not
 * followed (it reads as empty).
 */
export async function readLog(codexHome: string): Promise<string> {
  const path = logFilePath(codexHome);
  try {
    const dir = await Deno.lstat(logDir(codexHome));
    const seen = await Deno.lstat(path);
    if (dir.isSymlink || !seen.isFile) return "";
    const file = await openSame(path, seen, { read: true });
    if (!file) return "";
    try {
      return decoder.decode(await readAll(file));
    } finally {
      file.close();
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return "";
    }
    throw error;
  }
}

/** What the persisted block is made of: a feedback capture satisfies it. */
export interface CapturedRecords {
  /** The captured log text (redacted). */
  text(): string;
  /** Report tags collected (redacted). */
  tags(): Record<string, string>;
  /** Masks secrets in the recorded argv. */
  readonly secrets: Pick<SecretRegistry, "redact">;
}

/** What {@linkcode persistInvocation} needs. */
export interface PersistRequest {
  /** The records to persist. */
  capture: CapturedRecords;
  /** This invocation's id. */
  invocationId: string;
  /** When it started, ms since the epoch. */
  startedAt: number;
  /** The exit code (undefined while running). */
  exitCode?: number;
  /** Persistence settings in force (the cap). */
  persist: PersistSettings;
}

/** The current invocation as a block (header, recorded argv, tags, captured lines). */
export function invocationBlock(
  ctx: Pick<Context, "argv" | "version">,
  request: Omit<PersistRequest, "persist">,
): string {
  return formatBlock({
    id: request.invocationId,
    startedAt: request.startedAt,
    version: ctx.version,
    exitCode: request.exitCode,
    argv: recordedArgv(ctx.argv, request.capture.secrets),
    tags: request.capture.tags(),
  }, request.capture.text());
}

/**
 * The exit hook body: appends this invocation to cdx.log. Never throws (an
 * exit hook must not change how the process ends); a refused or failed
 * append is logged at debug, a replaced cdx.log as a warning.
 */
export async function persistInvocation(
  ctx: Pick<Context, "argv" | "version" | "globals" | "os" | "logger">,
  request: PersistRequest,
): Promise<boolean> {
  const log = ctx.logger.getChild("feedback");
  try {
    const block = invocationBlock(ctx, request);
    await appendBlock(ctx.globals.codexHome, block, {
      maxBytes: request.persist.maxBytes,
      os: ctx.os,
      onReplace: (message) => log.warn("{message}", { message }),
    });
    return true;
  } catch (error) {
    if (error instanceof UnsafeLogPathError) log.warn("{message}", { message: error.message });
    else log.debug("could not keep this run's log: {error}", { error: String(error) });
    return false;
  }
}
