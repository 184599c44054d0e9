/**
 * Every byte cdx writes to disk goes through this module: paths inside
 * CODEX_HOME, private directories, atomic writes (temp file, fsync, rename),
 * size-capped reads (advisory locks live in file_lock.ts), and the mapping of file-system failures (full disk, read-only, permission,
 * a file where a directory should be) to {@linkcode CdxError}s a user can act
 * on — never an "internal error".
 *
 * @module
 */
import { CdxError } from "./errors.ts";
import { isCancellation } from "./cancel.ts";

/**
 * Joins CODEX_HOME (or any directory) and path parts with `/`.
 *
 * @example
 * ```ts
 * homePath("/home/u/.codex/", "log", "cdx.log"); // "/home/u/.codex/log/cdx.log"
 * ```
 */
export function homePath(dir: string, ...parts: string[]): string {
  return [dir.replace(/[\\/]+$/, ""), ...parts].join("/");
}

/**
 * The directory part of a path.
 *
 * @example
 * ```ts
 * dirOf("/home/u/.codex/auth.json"); // "/home/u/.codex"
 * ```
 */
export function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

/**
 * Creates `dir` (and parents) with mode 0700 for the parts it creates.
 *
 * @example
 * ```ts
 * await ensurePrivateDir("/home/u/.codex/log");
 * ```
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
}

/** Options of {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Mode of the final file (default 0600, whatever the umask). */
  mode?: number;
  /** fsync the file and its directory (default true; logs may skip it). */
  sync?: boolean;
}

const encoder = new TextEncoder();

/**
 * Writes `data` to `path` atomically: a temp file in the same directory
 * (created exclusively, so a planted symlink is never followed), written,
 * fsynced, renamed over the target, then the directory fsynced, so a reader
 * sees the old file or the new one, never half of one. On any failure the
 * temp file is removed and the target is untouched.
 *
 * @example
 * ```ts
 * await writeFileAtomic("/home/u/.codex/auth.json", serializeAuthFile(auth));
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  const sync = options.sync ?? true;
  const dir = dirOf(path);
  await ensurePrivateDir(dir);
  const suffix = crypto.getRandomValues(new Uint8Array(6)).toHex();
  const tmp = `${path}.tmp-${Deno.pid}-${suffix}`;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  try {
    let bytes = typeof data === "string" ? encoder.encode(data) : data;
    while (bytes.length > 0) bytes = bytes.subarray(await file.write(bytes));
    if (sync) await file.sync();
    file.close();
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (error) {
    try {
      file.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  if (sync && Deno.build.os !== "windows") {
    // Make the rename itself durable; a failure here is not worth failing the save.
    try {
      using d = await Deno.open(dir, { read: true });
      await d.sync();
    } catch { /* some filesystems cannot fsync a directory */ }
  }
}

/** A file is larger than cdx is willing to read. */
export class FileTooLargeError extends CdxError {
  /** `path` is `size` bytes, above `limit`. */
  constructor(readonly path: string, readonly size: number, readonly limit: number) {
    super(`${path} is too large (${size} bytes; the limit is ${limit} bytes)`, {
      hint: "this is not a file cdx or codex wrote; move it away and try again",
      errorCode: "file",
    });
    this.name = "FileTooLargeError";
  }
}

/** Options of {@linkcode readTextIfExists}. */
export interface ReadOptions {
  /** Refuse (with {@linkcode FileTooLargeError}) a file larger than this many bytes. */
  maxBytes?: number;
}

/** A path that is a FIFO, socket or device where cdx expects a file. */
export class NotAFileError extends CdxError {
  /** `path` exists but is not a regular file (nor a directory). */
  constructor(readonly path: string) {
    super(`${path} is not a regular file`, {
      hint: "move it away; cdx reads only regular files there (a pipe or device would block)",
    });
    this.name = "NotAFileError";
  }
}

/**
 * Reads a text file; undefined when it (or its directory) does not exist.
 * A FIFO, socket or device in its place is a {@linkcode NotAFileError}:
 * opening a FIFO blocks until a writer appears, in a thread no signal can
 * reach, so reading one would hang cdx past Ctrl-C.
 *
 * @example
 * ```ts
 * const text = await readTextIfExists("/home/u/.codex/auth.json", { maxBytes: 1 << 20 });
 * ```
 */
export async function readTextIfExists(
  path: string,
  options: ReadOptions = {},
): Promise<string | undefined> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile && !info.isDirectory) throw new NotAFileError(path);
    if (options.maxBytes !== undefined && info.size > options.maxBytes) {
      throw new FileTooLargeError(path, info.size, options.maxBytes);
    }
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}

/**
 * Removes a file; false when it was not there.
 *
 * @example
 * ```ts
 * await removeIfExists("/home/u/.codex/auth.json"); // true
 * ```
 */
export async function removeIfExists(path: string): Promise<boolean> {
  try {
    await Deno.remove(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

/** The `code` of an OS error (`ENOSPC`, `EACCES`, …), when it has one. */
export function osErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * A file-system failure as a {@linkcode CdxError} naming what cdx was doing
 * and the path, with a hint; cancellations, CdxErrors and bugs
 * (TypeError/RangeError) pass through unchanged.
 *
 * @example
 * ```ts
 * try { await writeFileAtomic(path, text); }
 * catch (error) { throw fileError(error, "could not save the credentials", path); }
 * ```
 */
export function fileError(
  error: unknown,
  what: string,
  path: string,
  options: {
    /** The directory whose owner and mode the permission hint names (default: `path`'s). */
    dir?: string;
  } = {},
): unknown {
  if (error instanceof CdxError || isCancellation(error)) return error;
  if (!(error instanceof Error) || error instanceof TypeError || error instanceof RangeError) {
    return error;
  }
  const code = osErrorCode(error);
  const base = { cause: error, errorCode: "file" as const };
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new CdxError(`${what}: no space left on the device holding ${path}`, {
      ...base,
      hint: "free some disk space and try again",
    });
  }
  if (code === "EROFS") {
    return new CdxError(`${what}: ${path} is on a read-only file system`, {
      ...base,
      hint: "set CODEX_HOME (or --codex-home) to a writable directory",
    });
  }
  if (
    error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable ||
    code === "EACCES" || code === "EPERM"
  ) {
    return new CdxError(`${what}: permission denied on ${path}`, {
      ...base,
      hint: `check the owner and mode of ${
        options.dir ?? dirOf(path)
      } (cdx needs to read and write there)`,
    });
  }
  if (error instanceof Deno.errors.NotADirectory || code === "ENOTDIR") {
    return new CdxError(`${what}: a part of ${path} is a file, not a directory`, {
      ...base,
      hint: "point CODEX_HOME (or --codex-home) at a directory",
    });
  }
  if (error instanceof Deno.errors.IsADirectory || code === "EISDIR") {
    return new CdxError(`${what}: ${path} is a directory`, { ...base, hint: "move it away" });
  }
  return new CdxError(`${what}: ${path}: ${error.message}`, base);
}
