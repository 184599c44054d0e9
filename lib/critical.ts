/**
 * Critical sections: short stretches that must not be cut by Ctrl-C or
 * SIGTERM — saving credentials the issuer has already rotated, for one.
 * `cli.ts` defers a signal that arrives inside one and delivers it when the
 * section ends, so the command still ends with 130/143, just a moment later.
 * Every wait inside a section is bounded by its own timeout (a keychain
 * call, a file write), so the deferral is bounded too; a third signal exits
 * at once regardless (the escape hatch for a hung disk).
 *
 * @module
 */

let depth = 0;
let deferred: Array<() => void> = [];
const deferralListeners = new Set<() => void>();

/**
 * Runs `fn` as a critical section.
 *
 * @example
 * ```ts
 * const answer = await requestRefresh(ctx, auth); // Ctrl-C here cancels
 * await critical(() => save(applyRefresh(auth, answer))); // Ctrl-C here waits for the save
 * ```
 */
export async function critical<T>(fn: () => Promise<T>): Promise<T> {
  depth++;
  try {
    return await fn();
  } finally {
    depth--;
    if (depth === 0 && deferred.length) {
      const actions = deferred;
      deferred = [];
      for (const action of actions) action();
    }
  }
}

/** Whether a critical section is running. */
export function inCriticalSection(): boolean {
  return depth > 0;
}

/**
 * Runs `action` now, or when the running critical section ends. Returns
 * true when it was deferred.
 */
export function whenNotCritical(action: () => void): boolean {
  if (depth === 0) {
    action();
    return false;
  }
  deferred.push(action);
  for (const listener of deferralListeners) listener();
  return true;
}

/**
 * Calls `listener` whenever an action is deferred (a signal arrived inside
 * a critical section); returns the unsubscribe function. For test
 * checkpoints that pause inside a section.
 */
export function onDeferral(listener: () => void): () => void {
  deferralListeners.add(listener);
  return () => deferralListeners.delete(listener);
}
