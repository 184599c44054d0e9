/**
 * The real codex CLI 0.169.0 as a test peer, run through `npx` offline: tests
 * that need it are skipped (visibly) unless it is already in the npx cache
 * (`npx -y @openai/codex@0.169.0 --version` once). Tests never download it.
 *
 * @module
 */
import { type ChildResult, runChild } from "./spawn.ts";

/** The npm package spec of the peer. */
export const CODEX_PKG = "@openai/codex@0.169.0";

let available: boolean | undefined;

/** Whether `npx` can run codex 0.169.0 without the network (checked once per process). */
export function hasCodexPeer(): boolean {
  if (available !== undefined) return available;
  try {
    const out = new Deno.Command("npx", {
      args: ["-y", CODEX_PKG, "--version"],
      env: { npm_config_offline: "true" },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    available = out.success && new TextDecoder().decode(out.stdout).includes("0.169.0");
  } catch {
    available = false;
  }
  return available;
}

/**
 * Runs `codex args…` with `env` added to the inherited environment. Drops the
 * warning codex prints when CODEX_HOME is under the temp dir.
 *
 * @example
 * ```ts
 * const status = await runCodex(["login", "status"], { ...ss.env, CODEX_HOME: home });
 * ```
 */
export async function runCodex(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<ChildResult> {
  const out = await runChild("npx", ["-y", CODEX_PKG, ...args], {
    env: { npm_config_offline: "true", ...env },
    stdin,
  });
  const stderr = out.stderr.split("\n").filter((l) => !l.startsWith("WARNING: proceeding"))
    .join("\n");
  return { ...out, stderr };
}
