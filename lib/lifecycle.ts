/**
 * Work to do when a cdx process ends — normally, with an error, or after
 * Ctrl-C (e.g. persisting the captured log records). `cli.ts` runs the hooks
 * once, bounded in time, before it exits.
 *
 * @module
 */

/** What an exit hook learns about the ending process. */
export interface ExitInfo {
  /** The exit code cdx is about to return. */
  code: number;
}

/** An exit hook. */
export type ExitHook = (info: ExitInfo) => void | Promise<void>;

/** A set of exit hooks. One lives in each Context-building entry point. */
export class ExitHooks {
  #hooks: ExitHook[] = [];

  /** Adds a hook; returns a function that removes it. */
  add(hook: ExitHook): () => void {
    this.#hooks.push(hook);
    return () => {
      this.#hooks = this.#hooks.filter((h) => h !== hook);
    };
  }

  /** Runs every hook once (in the order added); a failing hook does not stop the others. */
  async run(info: ExitInfo): Promise<void> {
    const hooks = this.#hooks;
    this.#hooks = [];
    for (const hook of hooks) {
      try {
        await hook(info);
      } catch {
        // An exit hook must never change how the process ends.
      }
    }
  }
}
