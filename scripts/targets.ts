/**
 * The release targets of cdx and the permission set each is compiled with.
 *
 * @module
 */

/** Targets `deno task compile` builds. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/**
 * Name of the deno.json permission set for a target: `cdx-windows` for
 * Windows when deno.json defines it (the Windows keychain backend needs
 * different rights), else `cdx`.
 */
export function permissionSetFor(target: string, sets: Record<string, unknown>): string {
  return target.includes("windows") && "cdx-windows" in sets ? "cdx-windows" : "cdx";
}

/** True when `deno compile` failed because it could not fetch the runtime binary. */
export function isRuntimeDownloadFailure(stderr: string): boolean {
  return /dl\.deno\.land|denort|Setting up base binary|error sending request|dns error/i.test(
    stderr,
  );
}
