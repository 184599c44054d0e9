/**
 * Advisory file locks (`flock`) with a bounded, cancellable wait — the
 * mechanism behind codex's `auth.lock` / `auth.json.lock` and cdx.log's lock.
 *
 * @module
 */
import { cancelledFrom, deadline, formatMs } from "./cancel.ts";
import { dirOf, ensurePrivateDir, fileError } from "./fs.ts";

/** Options of {@linkcode withFileLock}. */
export interface LockOptions {
  /** Aborting abandons the wait for the lock (CancelledError). */
  signal?: AbortSignal;
  /** Bound on the wait for the lock, ms (default 120 s). */
  waitMs?: number;
  /** What holds such a lock, for the timeout message (e.g. "another cdx or codex process"). */
  holder?: string;
  /** Mode of a newly created lock file (default 0600). */
  mode?: number;
}

/** Default bound on waiting for a lock. */
export const DEFAULT_LOCK_WAIT_MS = 120_000;

/**
 * Opens a lock file for locking. A symlink in its place (planted, or left
 * dangling by a removed target) is replaced by a regular file: a lock file
 * holds nothing, and following the link could create or truncate a file
 * elsewhere.
 */
async function openLockFile(path: string, mode: number): Promise<Deno.FsFile> {
  try {
    const info = await Deno.lstat(path);
    if (info.isSymlink) await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return await Deno.open(path, { read: true, write: true, create: true, mode });
}

/**
 * Runs `fn` while holding an exclusive advisory lock (`flock`) on `path`,
 * created (0600, in a 0700 directory) when missing and kept afterwards, as
 * codex keeps its lock files. Waiting is bounded and cancellable: on abort or
 * timeout the pending lock request is abandoned and the file closed once it
 * settles.
 *
 * @example
 * ```ts
 * await withFileLock(homePath(codexHome, "auth.json.lock"), () => save(auth), { signal });
 * ```
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  if (options.signal?.aborted) throw cancelledFrom(options.signal);
  let file: Deno.FsFile;
  try {
    await ensurePrivateDir(dirOf(path));
    file = await openLockFile(path, options.mode ?? 0o600);
  } catch (error) {
    // A read-only, full or foreign directory is the user's to fix, not a bug in cdx.
    throw fileError(error, "could not create the lock file", path);
  }
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const locking = file.lock(true);
  try {
    await deadline(locking, waitMs, {
      signal: options.signal,
      message: `could not lock ${path} within ${formatMs(waitMs)}${
        options.holder ? `: ${options.holder} holds it` : ""
      }`,
    });
  } catch (error) {
    locking.then(() => file.close(), () => file.close());
    throw error;
  }
  try {
    return await fn();
  } finally {
    try {
      await file.unlock();
    } catch { /* closing releases it anyway */ }
    file.close();
  }
}
