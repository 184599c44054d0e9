/**
 * cdx's version, kept in step with deno.json by `tests/version_test.ts`.
 *
 * @module
 */

/** The version of cdx. */
export const VERSION = "0.1.0";

/** `cdx <version> (<target>)`, what `cdx --version` prints. */
export function versionLine(target: string = Deno.build.target): string {
  return `cdx ${VERSION} (${target})`;
}
