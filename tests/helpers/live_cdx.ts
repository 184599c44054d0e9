/**
 * The real cdx CLI as a live subprocess for edge tests: its stdout and
 * stderr collected as they arrive, a wait for a line (an observable event,
 * never a sleep) and an exit — each with a bound that fails the test instead
 * of hanging it, and kills the child.
 *
 * @module
 */
import { cdxCommandLine, type CdxResult, type RunCdxOptions, spawnCdx } from "./cli.ts";

/** A running cdx. */
export interface LiveCdx extends AsyncDisposable {
  child: Deno.ChildProcess;
  /** Output so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when stderr matches `pattern`; rejects after `ms`. */
  waitForStderr(pattern: RegExp, ms?: number): Promise<void>;
  /** Resolves when stdout matches `pattern`; rejects after `ms`. */
  waitForStdout(pattern: RegExp, ms?: number): Promise<void>;
  /** Waits for the exit (killing the child and failing after `ms`). */
  finish(ms?: number): Promise<CdxResult>;
}

/** Options of {@linkcode startCdx}: stdin is kept open and piped when `stdin` is `"pipe"`. */
export type LiveOptions = Omit<RunCdxOptions, "stdin"> & { stdin?: string | "pipe" };

/**
 * Starts cdx with stdout/stderr piped. `command` replaces the cdx command
 * line (e.g. `script` running cdx in a pseudo-terminal).
 */
export function startCdx(
  args: string[],
  options: LiveOptions = {},
  command: { cmd: string; args: string[] } = cdxCommandLine(options.entry),
): LiveCdx {
  const child = spawnCdx(args, options, command);
  if (typeof options.stdin === "string" && options.stdin !== "pipe") {
    const writer = child.stdin.getWriter();
    writer.write(new TextEncoder().encode(options.stdin)).then(() => writer.close()).catch(
      () => {},
    );
  }
  const text = { stdout: "", stderr: "" };
  const listeners = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text[key] += decoder.decode(chunk, { stream: true });
      for (const l of listeners) l();
    }
  };
  const done = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
  const waitFor = (key: "stdout" | "stderr", pattern: RegExp, ms = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(text[key])) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${pattern} on ${key} within ${ms} ms; got:\n${text[key]}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  const finish = async (ms = 60_000): Promise<CdxResult> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        reject(new Error(`cdx did not exit within ${ms} ms; stderr:\n${text.stderr}`));
      }, ms);
    });
    try {
      const status = await Promise.race([child.status, late]);
      await done;
      return { code: status.code, stdout: text.stdout, stderr: text.stderr };
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    child,
    get stdout() {
      return text.stdout;
    },
    get stderr() {
      return text.stderr;
    },
    waitForStderr: (p, ms) => waitFor("stderr", p, ms),
    waitForStdout: (p, ms) => waitFor("stdout", p, ms),
    finish,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await done.catch(() => {});
    },
  };
}

/** Runs cdx to completion, failing (and killing it) when it takes longer than `ms`. */
export async function runCdxBounded(
  args: string[],
  options: LiveOptions = {},
  ms = 60_000,
): Promise<CdxResult> {
  await using live = startCdx(args, options);
  return await live.finish(ms);
}
