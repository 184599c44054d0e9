/**
 * The advisory lock on `$CODEX_HOME/auth.json.lock`, compatible with codex's
 * (an exclusive `flock` on the same empty file, kept after logout). Writes
 * and refreshes hold it, so cdx and codex — and several cdx processes —
 * never race on the credentials.
 *
 * @module
 */
import { orCancel } from "../cancel.ts";
import { ensurePrivateDir, homePath as homeFile } from "../fs.ts";

/** The lock file codex uses. */
export const LOCK_FILE = "auth.json.lock";

/**
 * Runs `fn` while holding the exclusive lock. Waiting for the lock is
 * cancellable: on abort the pending lock request is abandoned (and the file
 * closed once it settles).
 *
 * @example
 * ```ts
 * await withAuthLock(codexHome, async () => { await save(auth); }, { signal });
 * ```
 */
export async function withAuthLock<T>(
  codexHome: string,
  fn: () => Promise<T>,
  options: { signal?: AbortSignal } = {},
): Promise<T> {
  await ensurePrivateDir(codexHome);
  const file = await Deno.open(homeFile(codexHome, LOCK_FILE), {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  const locking = file.lock(true);
  try {
    await orCancel(locking, options.signal);
  } catch (error) {
    locking.then(() => file.close(), () => file.close());
    throw error;
  }
  try {
    return await fn();
  } finally {
    try {
      await file.unlock();
    } finally {
      file.close();
    }
  }
}
