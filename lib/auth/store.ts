/**
 * The credential store of one CODEX_HOME in one mode — `file`, `keyring`,
 * `auto` (keychain, then auth.json) or `ephemeral` — chosen in one place
 * ({@linkcode resolveAuthStore}), and the one read of it:
 * {@linkcode inspectAuth} looks at every copy *without writing anything*
 * and says which copy is in use, what a write-capable command would repair
 * (migration into the keychain, a stale duplicate, a rescued refresh) and
 * whether the state is known at all (a locked keychain is never "not logged
 * in").
 *
 * The decision itself is the pure {@linkcode decideAuth}.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError, ExitCode } from "../errors.ts";
import { isCancellation } from "../cancel.ts";
import { ensurePrivateDir, fileError, homePath } from "../fs.ts";
import { KeyringError, KeyringUnavailableError } from "../keyring/mod.ts";
import { type AuthData, lastRefreshMs, newerCopy, sameAuth } from "./auth_json.ts";
import {
  type AuthLocation,
  FileBackend,
  KeyringBackend,
  MemoryBackend,
  type Rescue,
  type StoredAuth,
} from "./backends.ts";
import { type ResolvedStoreMode, resolveStoreMode, type StoreMode } from "./modes.ts";

/** The backends of one CODEX_HOME and the mode that composes them. */
export interface AuthStore {
  readonly mode: ResolvedStoreMode;
  readonly codexHome: string;
  readonly file: FileBackend;
  readonly keyring: KeyringBackend;
  readonly memory: MemoryBackend;
  /** Whether this mode reads and writes the keychain. */
  readonly usesKeyring: boolean;
}

/** The Context parts the store needs. */
export type StoreContext = Pick<
  Context,
  "keyring" | "secrets" | "signal" | "env" | "config" | "globals" | "logger" | "stderr"
>;

/**
 * The store for the effective mode (`--store` > `CDX_CREDENTIALS_STORE` >
 * config.toml > `auto`).
 *
 * @example
 * ```ts
 * const store = resolveAuthStore(ctx, { store: options.store });
 * const snapshot = await inspectAuth(ctx, store);
 * ```
 */
export function resolveAuthStore(
  ctx: StoreContext,
  options: { store?: StoreMode } = {},
): AuthStore {
  const mode = resolveStoreMode({ option: options.store, env: ctx.env, config: ctx.config });
  const codexHome = ctx.globals.codexHome;
  return {
    mode,
    codexHome,
    file: new FileBackend(ctx, codexHome),
    keyring: new KeyringBackend(ctx, codexHome),
    memory: new MemoryBackend(ctx, codexHome),
    usesKeyring: mode.mode === "keyring" || mode.mode === "auto",
  };
}

/** How the keychain answered. */
export type KeyringRead =
  | { state: "unused" }
  | { state: "read"; copy?: StoredAuth }
  /** No keychain on this machine (tool or service missing): nothing can be stored there. */
  | { state: "unavailable"; error: KeyringUnavailableError }
  /** Locked, not answering, or failing: what it holds is unknown. */
  | { state: "unreadable"; error: Error };

/** What a write-capable command would do to the store, in this order. */
export type Repair =
  | { kind: "fix-mode"; mode: number }
  | { kind: "recover-rescue"; rescue: Rescue }
  | { kind: "remove-rescues"; paths: string[] }
  | { kind: "legacy-to-file" }
  | { kind: "move-to-keyring"; replacesOlder: boolean }
  | { kind: "remove-file"; stale: boolean };

/** A message for the user; the command decides where it goes. */
export interface Notice {
  level: "warning" | "note";
  text: string;
  /** Describes a lasting state rather than something that just happened: `login status` shows it, other commands do not repeat it on every run. */
  steady?: boolean;
}

/** Everything {@linkcode inspectAuth} found. */
export interface AuthSnapshot {
  mode: ResolvedStoreMode;
  /** The credentials commands would use; undefined when none (or unknown). */
  active?: StoredAuth;
  keyring: KeyringRead;
  /** auth.json (or the legacy file). */
  file?: StoredAuth;
  /** auth.json could not be used (corrupt, unreadable) while another copy could. */
  fileProblem?: CdxError;
  rescues: Rescue[];
  /** Whether the login state is unknown (the keychain could not be read and nothing else decides). */
  unknown: boolean;
  repairs: Repair[];
  notices: Notice[];
}

/** What {@linkcode decideAuth} decides from. */
export interface AuthReads {
  mode: ResolvedStoreMode;
  keyring: KeyringRead;
  file?: StoredAuth;
  fileProblem?: CdxError;
  rescues: Rescue[];
  /** auth.json's mode bits when group/others may read it. */
  looseMode?: number;
  /** false when the file copy does not fit one keychain item codex reads: it stays a file. */
  fileFitsKeyring?: boolean;
  memory?: StoredAuth;
}

function sameAccount(a: AuthData, b: AuthData): boolean {
  return (a.tokens?.account_id ?? null) === (b.tokens?.account_id ?? null);
}

function fileName(copy: StoredAuth): string {
  return copy.location.kind === "file" || copy.location.kind === "legacy-file"
    ? copy.location.path
    : "auth.json";
}

/**
 * Which copy is in use and what to repair — pure. The rules:
 * - a rescue temp file newer than every copy (same account) is recovered;
 *   the others are removed;
 * - keychain and file equal: the file is a leftover of a move (removed);
 * - keychain and file differ: the newer wins ({@linkcode newerCopy}); the
 *   loser is replaced or removed only after the winner is verified where it
 *   belongs;
 * - a file alone, keychain working, config not pinned to `file`: moved in;
 * - a keychain that cannot be read: auto mode uses the file when there is
 *   one (and says so); otherwise the state is unknown, never "not logged in".
 */
export function decideAuth(reads: AuthReads): Omit<AuthSnapshot, "mode" | "keyring" | "rescues"> {
  const { mode, keyring } = reads;
  const repairs: Repair[] = [];
  const notices: Notice[] = [];
  if (mode.mode === "ephemeral") {
    return { active: reads.memory, unknown: false, repairs, notices };
  }
  let file = reads.file;
  const keyCopy = keyring.state === "read" ? keyring.copy : undefined;
  if (reads.looseMode !== undefined && file?.location.kind === "file") {
    repairs.push({ kind: "fix-mode", mode: reads.looseMode });
    notices.push({
      level: "warning",
      text: `${file.location.path} can be read by other users (mode ${
        reads.looseMode.toString(8).padStart(4, "0")
      }); cdx sets it to 0600`,
    });
  }
  // A refresh killed after the issuer answered left the only valid token in a temp file.
  const base = keyCopy && file
    ? (newerCopy(keyCopy.auth, file.auth) === "file" ? file : keyCopy)
    : keyCopy ?? file;
  const baseMs = lastRefreshMs(base?.auth) ?? -Infinity;
  const recoverable = reads.rescues
    .filter((r) =>
      r.auth &&
      (!base || (sameAccount(r.auth, base.auth) && (lastRefreshMs(r.auth) ?? -Infinity) > baseMs))
    )
    .sort((a, b) => (lastRefreshMs(b.auth) ?? 0) - (lastRefreshMs(a.auth) ?? 0));
  const rescue = recoverable[0];
  const others = reads.rescues.filter((r) => r !== rescue).map((r) => r.path);
  if (rescue) {
    repairs.push({ kind: "recover-rescue", rescue });
    notices.push({
      level: "note",
      text:
        `${rescue.path} holds credentials refreshed by a cdx process that stopped; they are recovered`,
    });
    file = { auth: rescue.auth!, location: { kind: "file", path: rescue.path } };
  }
  if (others.length) repairs.push({ kind: "remove-rescues", paths: others });

  if (mode.mode === "file") {
    if (file?.location.kind === "legacy-file") repairs.push({ kind: "legacy-to-file" });
    return { active: file, unknown: false, repairs, notices, fileProblem: reads.fileProblem };
  }
  const pinnedToFile = mode.configured === "file";
  if (keyring.state === "read") {
    if (keyCopy && file) {
      if (sameAuth(keyCopy.auth, file.auth)) {
        if (!pinnedToFile) repairs.push({ kind: "remove-file", stale: false });
        return { active: keyCopy, unknown: false, repairs, notices };
      }
      if (newerCopy(keyCopy.auth, file.auth) === "keychain") {
        notices.push({
          level: "warning",
          text: `${
            fileName(file)
          } holds older credentials than the keychain; the keychain copy is used`,
        });
        if (!pinnedToFile) repairs.push({ kind: "remove-file", stale: true });
        return { active: keyCopy, unknown: false, repairs, notices };
      }
      notices.push({
        level: "warning",
        text: `the keychain holds older credentials than ${
          fileName(file)
        }; the newer file copy is used`,
      });
      if (!pinnedToFile) repairs.push({ kind: "move-to-keyring", replacesOlder: true });
      return { active: file, unknown: false, repairs, notices };
    }
    if (keyCopy) return { active: keyCopy, unknown: false, repairs, notices };
    if (file) {
      if (reads.fileFitsKeyring === false) {
        notices.push({
          level: "note",
          text: `the credentials are too large for one keychain item codex reads; they stay in ${
            fileName(file)
          }`,
          steady: true,
        });
      } else if (pinnedToFile) {
        notices.push({
          level: "warning",
          text: `config.toml sets cli_auth_credentials_store = "file": the credentials stay in ${
            fileName(file)
          }`,
          steady: true,
        });
      } else repairs.push({ kind: "move-to-keyring", replacesOlder: false });
      return { active: file, unknown: false, repairs, notices, fileProblem: reads.fileProblem };
    }
    return { unknown: false, repairs, notices, fileProblem: reads.fileProblem };
  }
  if (mode.mode === "keyring") {
    return { unknown: true, repairs: [], notices, fileProblem: reads.fileProblem };
  }
  // auto, keychain unusable.
  if (file?.location.kind === "legacy-file") repairs.push({ kind: "legacy-to-file" });
  if (keyring.state === "unavailable") {
    return { active: file, unknown: false, repairs, notices, fileProblem: reads.fileProblem };
  }
  if (file) {
    notices.push({
      level: "warning",
      text: `the keychain could not be read (${
        (keyring as { error: Error }).error.message
      }); using ${fileName(file)}`,
    });
    return { active: file, unknown: false, repairs, notices, fileProblem: reads.fileProblem };
  }
  return { unknown: true, repairs: [], notices, fileProblem: reads.fileProblem };
}

/** The keychain's answer as a {@linkcode KeyringRead} (cancellation and bugs still throw). */
export async function readKeyring(store: AuthStore): Promise<KeyringRead> {
  if (!store.usesKeyring) return { state: "unused" };
  try {
    return { state: "read", copy: await store.keyring.load() };
  } catch (error) {
    if (isCancellation(error)) throw error;
    if (error instanceof KeyringUnavailableError) return { state: "unavailable", error };
    if (error instanceof KeyringError || error instanceof CdxError) {
      return { state: "unreadable", error };
    }
    throw error;
  }
}

/**
 * Reads every copy and decides — writes nothing, creates nothing. Throws
 * only for a file that no mode can work around (corrupt auth.json as the
 * only copy) and for cancellation.
 *
 * @example
 * ```ts
 * const snapshot = await inspectAuth(ctx, resolveAuthStore(ctx));
 * if (snapshot.unknown) throw storeUnreadable(snapshot);
 * ```
 */
export async function inspectAuth(ctx: StoreContext, store: AuthStore): Promise<AuthSnapshot> {
  const homeNotice = await checkCodexHome(store.codexHome);
  const keyring = await readKeyring(store);
  let file: StoredAuth | undefined;
  let fileProblem: CdxError | undefined;
  let rescues: Rescue[] = [];
  let memory: StoredAuth | undefined;
  let looseMode: number | undefined;
  if (store.mode.mode === "ephemeral") {
    memory = await store.memory.load();
  } else {
    try {
      file = await store.file.load();
    } catch (error) {
      if (!(error instanceof CdxError)) throw error;
      fileProblem = error;
    }
    rescues = await store.file.rescues().catch(() => []);
    if (file) looseMode = await store.file.looseMode();
  }
  const fileFitsKeyring = file && keyring.state === "read" && !keyring.copy
    ? await store.keyring.fits(file.auth)
    : undefined;
  const decided = decideAuth({
    mode: store.mode,
    keyring,
    file,
    fileProblem,
    rescues,
    looseMode,
    memory,
    fileFitsKeyring,
  });
  if (homeNotice) decided.notices.unshift(homeNotice);
  // A broken auth.json that decides nothing else is the answer itself.
  if (fileProblem && !decided.active && !decided.unknown) throw fileProblem;
  if (fileProblem && decided.active) {
    decided.notices.push({ level: "warning", text: `${fileProblem.message}; it is not used` });
  }
  ctx.logger.getChild("auth").debug(
    "store {mode}: active={active} keyring={keyring} repairs={repairs}",
    {
      mode: store.mode.mode,
      active: decided.active?.location.kind ?? "none",
      keyring: keyring.state,
      repairs: decided.repairs.map((r) => r.kind).join(",") || "none",
    },
  );
  return { mode: store.mode, keyring, file, rescues, ...decided };
}

const HOME_HINT = "set CODEX_HOME (or --codex-home) to a directory of yours";

/**
 * Checks CODEX_HOME before anything reads or writes there: a path that is a
 * file (or unreadable) is an error naming it, never "not logged in"; a
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
      throw new CdxError(
        `CODEX_HOME ${codexHome} is not a directory (a part of its path is a file)`,
        {
          hint: HOME_HINT,
        },
      );
    }
    throw fileError(error, "cannot use CODEX_HOME", codexHome);
  }
  if (!info.isDirectory) {
    throw new CdxError(`CODEX_HOME ${codexHome} is a file, not a directory`, { hint: HOME_HINT });
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
    throw fileError(error, "cannot save credentials in CODEX_HOME", codexHome);
  }
}

/** The hint for a keychain failure. */
export function keyringHint(error: unknown): string {
  if (error instanceof KeyringUnavailableError && error.hint) return error.hint;
  return "unlock the keychain (log in to the desktop session), or use `--store file` (CDX_CREDENTIALS_STORE=file) to keep credentials in auth.json";
}

/** "The store cannot be read": exit 3, never "not logged in". */
export function storeUnreadable(snapshot: Pick<AuthSnapshot, "keyring" | "mode">): CdxError {
  const error = snapshot.keyring.state === "unreadable" || snapshot.keyring.state === "unavailable"
    ? snapshot.keyring.error
    : undefined;
  return new CdxError(
    `cannot tell whether you are logged in: the keychain could not be read${
      error ? ` (${error.message})` : ""
    }`,
    { hint: keyringHint(error), exitCode: ExitCode.STORE_UNAVAILABLE, cause: error },
  );
}

/** What the store would be described as (for messages). */
export function locationText(location: AuthLocation): string {
  switch (location.kind) {
    case "keyring":
      return `the keychain (${location.backend})`;
    case "file":
    case "legacy-file":
      return location.path;
    case "memory":
      return "memory";
  }
}
