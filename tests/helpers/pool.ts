/**
 * Runs the rows of a table test a few at a time, started on first use, so
 * each row can still be its own `Deno.test` (one name, one failure) while
 * the file costs about the time of its slowest rows, not their sum: most of
 * a CLI run is waiting (a bound, a fake, a child's start). Tests reading a
 * pooled result must turn off the op and resource sanitizers, since the
 * work spans tests.
 *
 * @module
 */

/**
 * A lazily started pool over `items`: `get(key)` resolves with `run(item)`.
 *
 * @example
 * ```ts
 * const rows = pooled(CASES, (c) => c.name, 4, (c) => runCdx(c.args));
 * Deno.test({ name: c.name, sanitizeOps: false, sanitizeResources: false,
 *   fn: async () => check(await rows.get(c.name)) });
 * ```
 */
export function pooled<T, R>(
  items: readonly T[],
  keyOf: (item: T) => string,
  concurrency: number,
  run: (item: T) => Promise<R>,
): { get(key: string): Promise<R> } {
  let results: Map<string, Promise<R>> | undefined;
  const start = () => {
    const map = new Map<string, Promise<R>>();
    const settle = new Map<string, (result: Promise<R>) => void>();
    for (const item of items) {
      map.set(keyOf(item), new Promise((resolve) => settle.set(keyOf(item), resolve)));
    }
    const queue = [...items];
    const worker = async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        const result = run(item);
        settle.get(keyOf(item))!(result);
        await result.catch(() => {});
      }
    };
    for (let i = 0; i < concurrency; i++) worker();
    return map;
  };
  return {
    get(key) {
      results ??= start();
      const result = results.get(key);
      if (!result) throw new Error(`no such row: ${key}`);
      return result;
    },
  };
}
