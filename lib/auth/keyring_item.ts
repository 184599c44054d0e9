/**
 * codex's keychain item naming: service `Codex Auth`, account `cli|` + the
 * first 16 lowercase hex chars of SHA-256 of the canonical CODEX_HOME path
 * (the raw string when it cannot be canonicalised).
 *
 * @module
 */

/** The keychain service codex uses for CLI auth. */
export const KEYRING_SERVICE = "Codex Auth";

/** Hex SHA-256 of a UTF-8 string. */
async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The account for a given path string, hashed as-is.
 *
 * @example
 * ```ts
 * await keyringAccountForPath("/home/u/.codex"); // "cli|9ba275091964248d"
 * ```
 */
export async function keyringAccountForPath(path: string): Promise<string> {
  return `cli|${(await sha256Hex(path)).slice(0, 16)}`;
}

/** The canonical CODEX_HOME (absolute, symlinks resolved), or the raw string if that fails. */
export async function canonicalHome(codexHome: string): Promise<string> {
  try {
    return await Deno.realPath(codexHome);
  } catch {
    return codexHome;
  }
}

/** The keychain account codex uses for `codexHome`. */
export async function keyringAccount(codexHome: string): Promise<string> {
  return keyringAccountForPath(await canonicalHome(codexHome));
}
