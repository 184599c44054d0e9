/**
 * Runs a child process to completion with optional stdin text, for tests and
 * scripts (the product itself spawns only through lib/process.ts).
 *
 * @module
 */

/** Options of {@linkcode runChild}. */
export interface RunChildOptions {
  env?: Record<string, string>;
  clearEnv?: boolean;
  cwd?: string;
  /** Written to the child's stdin, which is then closed; stdin is /dev/null when absent. */
  stdin?: string;
}

/** What the child printed and how it ended. */
export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

/**
 * Runs `cmd args` and collects its output.
 *
 * @example
 * ```ts
 * const r = await runChild("secret-tool", ["lookup", "k", "v"], { env: ss.env });
 * ```
 */
export async function runChild(
  cmd: string,
  args: readonly string[],
  options: RunChildOptions = {},
): Promise<ChildResult> {
  const child = await spawnChild(cmd, args, options);
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/**
 * Starts `cmd args` with stdout and stderr piped; resolves once the `stdin`
 * text (if any) is written and stdin closed.
 *
 * @example
 * ```ts
 * const child = await spawnChild("cat", [], { stdin: "hello" });
 * ```
 */
export async function spawnChild(
  cmd: string,
  args: readonly string[],
  options: RunChildOptions = {},
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(cmd, {
    args: [...args],
    env: options.env,
    clearEnv: options.clearEnv,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  return child;
}
