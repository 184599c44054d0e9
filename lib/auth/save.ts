/**
 * Saving and deleting by the mode's rules, so two copies never diverge
 * silently and nothing is deleted before its replacement reads back:
 *
 * - `file`: auth.json (atomic, 0600, read back).
 * - `keyring` / `auto`: first make sure codex will look in the keychain
 *   (`cli_auth_credentials_store` in config.toml), then the keychain item
 *   (read back), then remove the file copies. When the keychain cannot take
 *   the credentials: `auto` keeps them in auth.json with a warning and
 *   removes the keychain's stale copy; a locked or silent keychain stops a
 *   login instead (`onUnreadableKeyring: "fail"`), because a second copy
 *   could not be reconciled. A refresh (whose old token the issuer has
 *   already rotated) always lands somewhere durable.
 *
 * The caller holds `auth.lock` (lock.ts); each write here takes
 * `auth.json.lock` for the write only.
 *
 * @module
 */
import { CdxError, ExitCode } from "../errors.ts";
import { isCancellation } from "../cancel.ts";
import { KeyringTooLargeError, KeyringUnavailableError } from "../keyring/store.ts";
import { fileError, homePath, removeIfExists } from "../fs.ts";
import { type AuthData, sameAuth } from "./auth_json.ts";
import type { AuthLocation, RescueFile } from "./backends.ts";
import { ensureStoreKeyInConfig, STORE_CONFIG_KEY } from "./modes.ts";
import { withWriteLock } from "./lock.ts";
import { checkpoint } from "../steps.ts";
import { type AuthStore, keyringHint, type Notice, type StoreContext } from "./store.ts";

/** Options of {@linkcode saveToStore}. */
export interface SaveOptions {
  /**
   * `auto` mode, keychain locked or not answering: `"fail"` stops (a login:
   * exit 3, nothing written), `"file"` keeps the credentials in auth.json
   * (a refresh: the issuer already rotated the old token).
   */
  onUnreadableKeyring: "fail" | "file";
  /** A reserved temp file already holding `auth` (a refresh): promoted instead of written again. */
  rescue?: RescueFile;
}

/** Where the credentials went, and what the user should know. */
export interface SaveResult {
  /** Where the record went (auth.json when `auto` mode fell back from the keychain). */
  location: AuthLocation;
  /** Fallbacks and cleanups the user should hear about. */
  notices: Notice[];
}

function problem(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Writes auth.json (promoting a reserved rescue when there is one) and verifies it. */
async function writeFile(ctx: StoreContext, store: AuthStore, auth: AuthData, rescue?: RescueFile) {
  return await withWriteLock(ctx, async () => {
    if (!rescue) return await store.file.save(auth);
    try {
      await rescue.promote(store.file.authPath);
    } catch (error) {
      throw fileError(error, "could not save the credentials", store.file.authPath);
    }
    await store.file.verify(auth);
    await store.file.deleteLegacy().catch(() => {});
    return { kind: "file", path: store.file.authPath } as AuthLocation;
  });
}

/**
 * Makes codex look in the keychain: adds `cli_auth_credentials_store =
 * "auto"` when config.toml has no such key. False when that failed (then
 * the credentials must stay in auth.json).
 */
async function ensureCodexLooksInKeychain(
  store: AuthStore,
  notices: Notice[],
): Promise<boolean> {
  if (store.mode.configured === "file") {
    notices.push({
      level: "warning",
      text:
        `config.toml sets ${STORE_CONFIG_KEY} = "file": codex will not find credentials kept in the keychain`,
    });
    return true;
  }
  if (store.mode.configured !== undefined) return true;
  try {
    const path = await ensureStoreKeyInConfig(store.codexHome, "auto");
    if (path) {
      notices.push({
        level: "note",
        text:
          `added ${STORE_CONFIG_KEY} = "auto" to ${path} so codex finds the credentials in the keychain`,
      });
    }
    return true;
  } catch (error) {
    notices.push({
      level: "warning",
      text: `could not add ${STORE_CONFIG_KEY} = "auto" to config.toml (${
        problem(error)
      }); keeping the credentials in ${store.file.authPath} so codex still finds them`,
    });
    return false;
  }
}

/** Removes the file copies after a verified keychain save (failures only warn: both copies are equal). */
async function removeFileCopies(
  ctx: StoreContext,
  store: AuthStore,
  notices: Notice[],
  rescue?: RescueFile,
): Promise<void> {
  await rescue?.discard();
  try {
    await withWriteLock(ctx, () => store.file.delete());
  } catch (error) {
    if (isCancellation(error)) throw error;
    notices.push({
      level: "warning",
      text:
        `the credentials are in the keychain, but ${store.file.authPath} could not be deleted: ${
          problem(error)
        }`,
    });
  }
}

/**
 * Saves `auth` by the mode's rules. The caller holds `auth.lock`.
 *
 * @example
 * ```ts
 * const { location, notices } = await withAuthLock(ctx, () =>
 *   saveToStore(ctx, store, auth, { onUnreadableKeyring: "fail" }));
 * ```
 */
export async function saveToStore(
  ctx: StoreContext,
  store: AuthStore,
  auth: AuthData,
  options: SaveOptions,
): Promise<SaveResult> {
  const notices: Notice[] = [];
  const mode = store.mode.mode;
  if (mode === "ephemeral") return { location: await store.memory.save(auth), notices };
  if (mode === "file") {
    return { location: await writeFile(ctx, store, auth, options.rescue), notices };
  }
  if (!(await ensureCodexLooksInKeychain(store, notices)) && mode === "auto") {
    return { location: await writeFile(ctx, store, auth, options.rescue), notices };
  }
  await checkpoint(ctx, "save:config-ready", { resume: !!options.rescue });
  try {
    const location = await withWriteLock(ctx, () => store.keyring.save(auth));
    await checkpoint(ctx, "save:keyring-saved", { resume: !!options.rescue });
    await removeFileCopies(ctx, store, notices, options.rescue);
    return { location, notices };
  } catch (error) {
    if (isCancellation(error) || (error instanceof CdxError && !isKeyringFailure(error))) {
      throw error;
    }
    if (await savedAnyway(store, auth, error)) {
      // The keychain took it; only its answer (or the read-back) got lost on the way.
      ctx.logger.getChild("auth").debug("the keychain holds the new credentials after {error}", {
        error: problem(error),
      });
      await removeFileCopies(ctx, store, notices, options.rescue);
      return { location: await store.keyring.location(), notices };
    }
    return await afterKeyringFailure(ctx, store, auth, options, error, notices);
  }
}

/**
 * After a keychain save reported failure: does the item hold `auth` anyway?
 * A store whose reply was lost (a D-Bus timeout after the write) or whose
 * read-back failed leaves the new value in place; treating that as a
 * failure would report a login as failed while both tools already use it,
 * or write a second copy. One more read decides; when it fails too, the
 * save failed.
 */
async function savedAnyway(store: AuthStore, auth: AuthData, error: unknown): Promise<boolean> {
  if (error instanceof KeyringTooLargeError || error instanceof KeyringUnavailableError) {
    return false;
  }
  try {
    return sameAuth((await store.keyring.load())?.auth, auth);
  } catch (again) {
    if (isCancellation(again)) throw again;
    return false;
  }
}

function isKeyringFailure(error: unknown): boolean {
  return error instanceof Error && /^Keyring/.test(error.name);
}

async function afterKeyringFailure(
  ctx: StoreContext,
  store: AuthStore,
  auth: AuthData,
  options: SaveOptions,
  error: unknown,
  notices: Notice[],
): Promise<SaveResult> {
  const mode = store.mode.mode;
  const tooLarge = error instanceof KeyringTooLargeError;
  const absent = error instanceof KeyringUnavailableError;
  const uncertain = !tooLarge && !absent;
  if (
    !options.rescue && (mode === "keyring" || (uncertain && options.onUnreadableKeyring === "fail"))
  ) {
    throw new CdxError(`could not save the credentials in the keychain: ${problem(error)}`, {
      hint: tooLarge
        ? "use `--store file` (or auto) to keep them in auth.json, where codex reads them too"
        : keyringHint(error),
      exitCode: tooLarge ? ExitCode.FAILURE : ExitCode.STORE_UNAVAILABLE,
      cause: error,
    });
  }
  const location = await writeFile(ctx, store, auth, options.rescue);
  await checkpoint(ctx, "save:fallback-written", { resume: !!options.rescue });
  notices.push({
    level: "warning",
    text: tooLarge
      ? `the credentials are too large for one keychain item codex can read (${
        problem(error)
      }); saved to ${store.file.authPath} (mode 0600) instead`
      : `the keychain could not be used (${
        problem(error)
      }); credentials saved to ${store.file.authPath}, a plain file (mode 0600)`,
  });
  if (!absent) {
    // A keychain copy left behind would be older than the file: remove it so no reader uses it.
    try {
      await withWriteLock(ctx, () => store.keyring.delete());
    } catch (deleteError) {
      if (isCancellation(deleteError)) throw deleteError;
      notices.push({
        level: "warning",
        text: `the keychain still holds older credentials (${
          problem(deleteError)
        }); cdx uses the newer ${store.file.authPath}, and moves it into the keychain once it can`,
      });
    }
  }
  return { location, notices };
}

/** What {@linkcode deleteFromStore} removed and what it could not. */
export interface DeleteResult {
  /** Every copy that was deleted (memory, keychain item, files). */
  removed: AuthLocation[];
  /** Copies that may remain (the keychain could not be asked). */
  problems: string[];
  /** Whether a keychain problem leaves the state unknown (exit 3). */
  keyringUnknown: boolean;
}

/**
 * Removes every copy: memory, the keychain item (with its chunks), auth.json,
 * the legacy file and rescue temp files. In `file` mode the keychain is
 * asked too (a copy from an earlier mode must not come back), but its
 * failures are not errors there. The caller holds `auth.lock`.
 */
export async function deleteFromStore(ctx: StoreContext, store: AuthStore): Promise<DeleteResult> {
  const removed: AuthLocation[] = [];
  const problems: string[] = [];
  let keyringUnknown = false;
  if (await store.memory.delete()) removed.push({ kind: "memory" });
  if (store.mode.mode === "ephemeral") return { removed, problems, keyringUnknown };
  try {
    if (await withWriteLock(ctx, () => store.keyring.delete())) {
      removed.push(await store.keyring.location());
    }
    await checkpoint(ctx, "logout:keyring-deleted");
  } catch (error) {
    if (isCancellation(error)) throw error;
    const absent = error instanceof KeyringUnavailableError;
    if (store.mode.mode === "keyring" || (store.usesKeyring && !absent)) {
      problems.push(`the keychain item could not be deleted: ${problem(error)}`);
      keyringUnknown = !absent || store.mode.mode === "keyring";
    }
  }
  try {
    removed.push(...await withWriteLock(ctx, () => store.file.delete()));
    for (const rescue of await store.file.rescues()) {
      await removeIfExists(rescue.path);
    }
  } catch (error) {
    if (isCancellation(error)) throw error;
    problems.push(problem(fileError(error, "could not delete", homePath(store.codexHome))));
  }
  return { removed, problems, keyringUnknown };
}
