/**
 * auth.json, the legacy `device_code_tokens.json`, and the rescue temp files
 * a refresh reserves next to auth.json before it asks the issuer.
 *
 * @module
 */
import type { Context } from "../context.ts";
import {
  dirOf,
  ensurePrivateDir,
  fileError,
  homePath,
  readTextIfExists,
  removeIfExists,
  writeFileAtomic,
} from "../fs.ts";
import { CdxError } from "../errors.ts";
import {
  AUTH_FILE,
  type AuthData,
  type AuthLocation,
  hasCredentials,
  LEGACY_TOKEN_FILE,
  MAX_AUTH_BYTES,
  parseAuth,
  parseLegacyTokens,
  registerAuth,
  sameAuth,
  serializeAuthFile,
  type StoredAuth,
} from "./auth_json.ts";

/** What a file backend needs: the secret registry (what it reads is masked) and the signal. */
export type Ctx = Pick<Context, "secrets" | "signal">;

/** Prefix of the temp files auth.json is written through (`auth.json.tmp-<pid>-<hex>`). */
export const RESCUE_PREFIX = `${AUTH_FILE}.tmp-`;

/** A temp file left by a process that died while writing auth.json. */
export interface Rescue {
  /** Absolute path of the temp file (`auth.json.tmp-<pid>-<hex>`). */
  path: string;
  /** Its credentials, when it holds a complete record. */
  auth?: AuthData;
}

/** auth.json and the legacy token file of one CODEX_HOME. */
export class FileBackend {
  /** `<codexHome>/auth.json`. */
  readonly authPath: string;
  /** `<codexHome>/device_code_tokens.json`, read (and removed) but never written. */
  readonly legacyPath: string;

  /** The files of `codexHome` (an absolute path); nothing is read until asked. */
  constructor(readonly ctx: Ctx, readonly codexHome: string) {
    this.authPath = homePath(codexHome, AUTH_FILE);
    this.legacyPath = homePath(codexHome, LEGACY_TOKEN_FILE);
  }

  async #readText(path: string): Promise<string | undefined> {
    try {
      return await readTextIfExists(path, { maxBytes: MAX_AUTH_BYTES });
    } catch (error) {
      throw fileError(error, "could not read the credentials", path);
    }
  }

  /** auth.json, else the legacy file; undefined when neither holds credentials. */
  async load(): Promise<StoredAuth | undefined> {
    const text = await this.#readText(this.authPath);
    if (text !== undefined) {
      // The secret fields only (parse errors never quote the text), not the whole file.
      const auth = parseAuth(text, this.authPath);
      registerAuth(this.ctx.secrets, auth);
      if (hasCredentials(auth)) return { auth, location: { kind: "file", path: this.authPath } };
    }
    const legacy = await this.#readText(this.legacyPath);
    if (legacy === undefined) return undefined;
    const auth = parseLegacyTokens(legacy, this.legacyPath);
    registerAuth(this.ctx.secrets, auth);
    return hasCredentials(auth)
      ? { auth, location: { kind: "legacy-file", path: this.legacyPath } }
      : undefined;
  }

  /** Writes auth.json atomically (0600), reads it back, then removes the legacy file. */
  async save(auth: AuthData): Promise<AuthLocation> {
    registerAuth(this.ctx.secrets, auth);
    try {
      await writeFileAtomic(this.authPath, serializeAuthFile(auth));
    } catch (error) {
      throw fileError(error, "could not save the credentials", this.authPath);
    }
    await this.verify(auth);
    await removeIfExists(this.legacyPath).catch(() => {});
    return { kind: "file", path: this.authPath };
  }

  /** Throws unless auth.json holds exactly `auth`. */
  async verify(auth: AuthData): Promise<void> {
    const back = await this.#readText(this.authPath);
    if (back === undefined || !sameAuth(parseAuth(back, this.authPath), auth)) {
      throw new CdxError(`${this.authPath} did not read back as written`);
    }
  }

  /** Removes auth.json and the legacy file; returns what was there. */
  async delete(): Promise<AuthLocation[]> {
    const removed: AuthLocation[] = [];
    for (
      const [path, kind] of [[this.authPath, "file"], [this.legacyPath, "legacy-file"]] as const
    ) {
      try {
        if (await removeIfExists(path)) removed.push({ kind, path });
      } catch (error) {
        throw fileError(error, "could not delete the credentials", path);
      }
    }
    return removed;
  }

  /** Removes the legacy file only. */
  async deleteLegacy(): Promise<void> {
    try {
      await removeIfExists(this.legacyPath);
    } catch (error) {
      throw fileError(error, "could not delete the legacy token file", this.legacyPath);
    }
  }

  /** The temp files of writers that died (only meaningful while holding the auth lock). */
  async rescues(): Promise<Rescue[]> {
    const out: Rescue[] = [];
    try {
      for await (const entry of Deno.readDir(this.codexHome)) {
        if (!entry.isFile || !entry.name.startsWith(RESCUE_PREFIX)) continue;
        const path = homePath(this.codexHome, entry.name);
        let auth: AuthData | undefined;
        try {
          const text = await readTextIfExists(path, { maxBytes: MAX_AUTH_BYTES * 2 });
          if (text !== undefined) {
            auth = parseAuth(text, path);
            registerAuth(this.ctx.secrets, auth);
          }
        } catch {
          auth = undefined; // incomplete or foreign: removed, never used
        }
        out.push({ path, auth: hasCredentials(auth) ? auth : undefined });
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return out;
      }
      throw fileError(error, "could not list", this.codexHome);
    }
    return out;
  }

  /** The mode bits of auth.json when group or others may read it (0644); else undefined. */
  async looseMode(): Promise<number | undefined> {
    if (Deno.build.os === "windows") return undefined;
    try {
      const mode = (await Deno.stat(this.authPath)).mode;
      return mode !== null && (mode & 0o077) !== 0 ? mode & 0o777 : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Reserves a durable place for the result of a refresh *before* the
   * issuer is asked: a temp file next to auth.json, holding `current` padded
   * to twice its size and fsynced. A full disk or a read-only directory thus
   * fails before the issuer rotates the token, and afterwards the new tokens
   * are written over blocks already allocated.
   */
  async reserveRescue(current: AuthData): Promise<RescueFile> {
    const path = `${this.authPath}.tmp-${Deno.pid}-${
      crypto.getRandomValues(new Uint8Array(6)).toHex()
    }`;
    try {
      await ensurePrivateDir(dirOf(path));
      const text = serializeAuthFile(current);
      const size = Math.max(4096, new TextEncoder().encode(text).length * 2);
      const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
      try {
        await writePadded(file, text, size);
      } finally {
        file.close();
      }
      return new RescueFile(path, size);
    } catch (error) {
      await Deno.remove(path).catch(() => {});
      throw fileError(error, "cannot prepare to save refreshed credentials", this.authPath);
    }
  }
}

async function writePadded(file: Deno.FsFile, text: string, size: number): Promise<void> {
  const bytes = new Uint8Array(size).fill(0x20); // JSON allows trailing whitespace
  const encoded = new TextEncoder().encode(text);
  if (encoded.length > size) throw new RangeError("rescue record larger than its reservation");
  bytes.set(encoded);
  await file.seek(0, Deno.SeekMode.Start);
  let rest: Uint8Array = bytes;
  while (rest.length) rest = rest.subarray(await file.write(rest));
  await file.sync();
}

/** A reserved temp file (see {@linkcode FileBackend.reserveRescue}). */
export class RescueFile {
  /** A reservation of `size` bytes at `path`, made by `reserveRescue`. */
  constructor(readonly path: string, readonly size: number) {}

  /** Overwrites the reservation with `auth` (in place, fsynced). */
  async write(auth: AuthData): Promise<void> {
    const text = serializeAuthFile(auth);
    const file = await Deno.open(this.path, { write: true });
    try {
      if (new TextEncoder().encode(text).length <= this.size) {
        await writePadded(file, text, this.size);
      } else {
        await writePadded(file, text, new TextEncoder().encode(text).length);
      }
    } finally {
      file.close();
    }
  }

  /** Moves the record into place as auth.json (atomic rename; chmod 0600). */
  async promote(authPath: string): Promise<void> {
    if (Deno.build.os !== "windows") await Deno.chmod(this.path, 0o600);
    await Deno.rename(this.path, authPath);
  }

  /** Removes the reservation (the credentials went elsewhere, or nothing changed). */
  async discard(): Promise<void> {
    await removeIfExists(this.path).catch(() => {});
  }
}
