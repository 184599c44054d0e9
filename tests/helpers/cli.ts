/**
 * Runs the real cdx CLI as a subprocess with exactly the permission set the
 * binary gets (`deno.json` → `permissions.cdx`), or a compiled binary when
 * `CDX_BINARY` is set.
 *
 * @module
 */

import { runChild } from "./spawn.ts";

/** Repository root. */
export const ROOT: string = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** The deno.json permission set the binary for this OS is compiled with (see scripts/targets.ts). */
export const PERMISSION_SET: string = Deno.build.os === "windows" ? "cdx-windows" : "cdx";

/** argv that runs cdx from source with the baked permissions. */
export function cdxCommandLine(entry = `${ROOT}/cli.ts`): { cmd: string; args: string[] } {
  const binary = Deno.env.get("CDX_BINARY");
  if (binary && entry === `${ROOT}/cli.ts`) return { cmd: binary, args: [] };
  return {
    cmd: Deno.execPath(),
    args: ["run", "-q", `-P=${PERMISSION_SET}`, "--config", `${ROOT}/deno.json`, entry],
  };
}

/** Options of {@linkcode runCdx}. */
export interface RunCdxOptions {
  /** Environment for the child. By default only PATH, HOME (a bogus dir) and NO_COLOR are kept. */
  env?: Record<string, string>;
  /** Text written to stdin (then closed). */
  stdin?: string;
  /** Another entry point than cli.ts (test-only entries that reuse cli.ts's main). */
  entry?: string;
  cwd?: string;
}

/** What a cdx run printed. */
export interface CdxResult {
  code: number;
  stdout: string;
  stderr: string;
}

let denoDir: string | undefined;
/** Deno's cache dir of this machine (children get it explicitly, since their HOME is fake). */
export function realDenoDir(): string {
  if (denoDir) return denoDir;
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return denoDir = fromEnv;
  const out = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stderr: "null" })
    .outputSync();
  denoDir = JSON.parse(new TextDecoder().decode(out.stdout)).denoDir as string;
  return denoDir;
}

/** Environment every test child starts from: never the real HOME or keyring. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: "/nonexistent-home-for-tests",
    NO_COLOR: "1",
    // Deno's cache stays where it is (the child needs the npm modules).
    DENO_DIR: realDenoDir(),
    DENO_NO_UPDATE_CHECK: "1",
    ...extra,
  };
}

/**
 * Runs cdx to completion.
 *
 * @example
 * ```ts
 * const r = await runCdx(["login", "status"], { env: { CODEX_HOME: dir } });
 * assert.equal(r.code, 1);
 * ```
 */
export function runCdx(args: string[], options: RunCdxOptions = {}): Promise<CdxResult> {
  const { cmd, args: pre } = cdxCommandLine(options.entry);
  return runChild(cmd, [...pre, ...args], {
    env: baseEnv(options.env),
    clearEnv: true,
    cwd: options.cwd,
    stdin: options.stdin,
  });
}

/**
 * Starts cdx and returns the child: stdout and stderr piped, stdin piped
 * (and left to the caller) when `options.stdin` is any string, else
 * /dev/null. `command` replaces the cdx command line (e.g. `script` running
 * cdx in a pseudo-terminal).
 */
export function spawnCdx(
  args: string[],
  options: RunCdxOptions = {},
  command: { cmd: string; args: string[] } = cdxCommandLine(options.entry),
): Deno.ChildProcess {
  const { cmd, args: pre } = command;
  return new Deno.Command(cmd, {
    args: [...pre, ...args],
    env: baseEnv(options.env),
    clearEnv: true,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}
