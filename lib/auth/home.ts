/**
 * CODEX_HOME itself, checked before anything reads or writes there.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { ensurePrivateDir, fileError, homePath } from "../fs.ts";
import type { Notice } from "./decide.ts";

const HOME_HINT = "set CODEX_HOME (or --codex-home) to a directory of yours";

/**
 * Checks CODEX_HOME before anything reads or writes there: a path that is a
 * file is a usage error (exit 2: a bad `--codex-home` / `CODEX_HOME` value),
 * an unreadable one an error naming it, never "not logged in"; a
 * directory anyone may write to is a warning. A missing one is fine (read
 * commands do not create it). Returns the warning, if any.
 */
export async function checkCodexHome(codexHome: string): Promise<Notice | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(codexHome);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.NotADirectory) {
      throw new UsageError(
        `CODEX_HOME ${codexHome} is not a directory (a part of its path is a file)`,
        { hint: HOME_HINT },
      );
    }
    throw fileError(error, "cannot use CODEX_HOME", codexHome);
  }
  if (!info.isDirectory) {
    throw new UsageError(`CODEX_HOME ${codexHome} is a file, not a directory`, { hint: HOME_HINT });
  }
  if (Deno.build.os !== "windows" && info.mode !== null && (info.mode & 0o002) !== 0) {
    return {
      level: "warning",
      text: `${codexHome} can be written by any user (mode ${
        (info.mode & 0o7777).toString(8).padStart(4, "0")
      }): anyone could replace the credentials there; run \`chmod 700 ${codexHome}\``,
    };
  }
  return undefined;
}

/**
 * Before a login starts: CODEX_HOME must be a directory cdx can create and
 * write (checked by creating and removing a probe file), so a login never
 * runs a whole sign-in flow only to fail at the save.
 */
export async function assertWritableHome(codexHome: string): Promise<void> {
  await checkCodexHome(codexHome);
  const probe = homePath(
    codexHome,
    `.cdx-write-check-${crypto.getRandomValues(new Uint8Array(4)).toHex()}`,
  );
  try {
    await ensurePrivateDir(codexHome);
    const file = await Deno.open(probe, { write: true, createNew: true, mode: 0o600 });
    file.close();
    await Deno.remove(probe);
  } catch (error) {
    await Deno.remove(probe).catch(() => {});
    throw fileError(error, "cannot save credentials in CODEX_HOME", codexHome, { dir: codexHome });
  }
}
