/**
 * The two advisory locks cdx shares with codex 0.169.0 (see
 * codex-interop.md §2), owned here and nowhere else:
 *
 * - `$CODEX_HOME/auth.lock`: codex serialises token refreshes with a
 *   blocking exclusive `flock` on it. cdx holds it around every
 *   load-modify-save of the credentials (refresh, login, migration,
 *   logout), so cdx and codex never refresh the same token twice and a
 *   login never races a refresh.
 * - `$CODEX_HOME/auth.json.lock`: codex takes a *non-blocking* `flock` on it
 *   around its own write of the credentials, so cdx holds it only around
 *   the write itself (never across a network call), or codex's write would
 *   fail.
 *
 * Both waits are bounded (2 min and 30 s: then exit 124 naming the lock
 * file) and cancellable. Both files are kept after logout, as codex keeps
 * them.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { homePath } from "../fs.ts";
import { withFileLock } from "../file_lock.ts";

/** codex's refresh lock. */
export const REFRESH_LOCK_FILE = "auth.lock";
/** codex's write lock. */
export const WRITE_LOCK_FILE = "auth.json.lock";

/** Bound on waiting for another process's refresh or login (it holds auth.lock across a request). */
export const AUTH_LOCK_WAIT_MS = 120_000;
/** Bound on waiting for another process's write of the credentials. */
export const WRITE_LOCK_WAIT_MS = 30_000;

const HOLDER = "another cdx or codex process (is one stuck?)";

/**
 * Tests only: both bounds in ms, so a test can see a held lock end in its
 * timeout without waiting two minutes.
 */
export const LOCK_WAIT_TEST_ENV = "CDX_TEST_LOCK_WAIT_MS";

function waitMs(ctx: Pick<Context, "env">, fallback: number): number {
  const raw = Number(ctx.env.get(LOCK_WAIT_TEST_ENV));
  return Number.isFinite(raw) && raw > 0 ? raw : fallback;
}

/**
 * Runs `fn` holding `auth.lock` — the one way to load, decide and save
 * credentials without racing another process.
 *
 * @example
 * ```ts
 * await withAuthLock(ctx, async () => { const current = await load(); await save(next(current)); });
 * ```
 */
export function withAuthLock<T>(
  ctx: Pick<Context, "signal" | "globals" | "env">,
  fn: () => Promise<T>,
): Promise<T> {
  return withFileLock(homePath(ctx.globals.codexHome, REFRESH_LOCK_FILE), fn, {
    signal: ctx.signal,
    waitMs: waitMs(ctx, AUTH_LOCK_WAIT_MS),
    holder: HOLDER,
  });
}

/**
 * Runs `fn` (one write or delete of the credentials) holding
 * `auth.json.lock`. Not cancellable once taken: a write is never left half
 * done by Ctrl-C.
 */
export function withWriteLock<T>(
  ctx: Pick<Context, "signal" | "globals" | "env">,
  fn: () => Promise<T>,
): Promise<T> {
  return withFileLock(homePath(ctx.globals.codexHome, WRITE_LOCK_FILE), fn, {
    signal: ctx.signal,
    waitMs: waitMs(ctx, WRITE_LOCK_WAIT_MS),
    holder: HOLDER,
  });
}
