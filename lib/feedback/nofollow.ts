/**
 * Opening files without following links, for the persisted log. Deno has no
 * `O_NOFOLLOW`: a file is `lstat`ed, then opened without `create`, and the
 * open handle must have the device and inode `lstat` saw (a link swapped in
 * between is caught); a new file is created with `createNew` (`O_EXCL`
 * never follows a link).
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";

/** `lstat`, or undefined when nothing is there. */
export async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Opens `path` only if it is still the file `seen` describes (no link swapped in). */
export async function openSame(
  path: string,
  seen: Deno.FileInfo,
  options: Deno.OpenOptions,
): Promise<Deno.FsFile | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, options);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const now = await file.stat().catch(() => undefined);
  if (!now || !now.isFile || now.ino !== seen.ino || now.dev !== seen.dev) {
    file.close();
    return undefined;
  }
  return file;
}

/** Creates `path` exclusively (`O_EXCL` never follows a link); false if it appeared meanwhile. */
export async function writeNew(path: string, bytes: Uint8Array): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
  try {
    await writeAll(file, bytes);
  } finally {
    file.close();
  }
  return true;
}

/** Writes all of `bytes`. */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let rest = bytes;
  while (rest.length > 0) rest = rest.subarray(await file.write(rest));
}

/** Reads the file to its end. */
export async function readAll(file: Deno.FsFile): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    chunks.push(buffer.slice(0, n));
  }
  return concatBytes(chunks);
}
