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
 * The decision itself is the pure `decideAuth` (decide.ts).
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError, ExitCode } from "../errors.ts";
import { isCancellation } from "../cancel.ts";
import { KeyringError, KeyringUnavailableError } from "../keyring/store.ts";
import {
  FileBackend,
  KeyringBackend,
  MemoryBackend,
  type Rescue,
  type StoredAuth,
} from "./backends.ts";
import { type AuthSnapshot, decideAuth, type KeyringRead } from "./decide.ts";
import { checkCodexHome } from "./home.ts";

export type { AuthReads, AuthSnapshot, KeyringRead, Notice, Repair } from "./decide.ts";
export { assertWritableHome, checkCodexHome } from "./home.ts";
import { type ResolvedStoreMode, resolveStoreMode, type StoreMode } from "./modes.ts";

/** The backends of one CODEX_HOME and the mode that composes them. */
export interface AuthStore {
  /** The effective mode and where it came from. */
  readonly mode: ResolvedStoreMode;
  /** The CODEX_HOME directory, absolute (`--codex-home` > `CODEX_HOME` > `~/.codex`). */
  readonly codexHome: string;
  /** auth.json, the legacy token file and the refresh rescue files. */
  readonly file: FileBackend;
  /** The codex keychain item of this CODEX_HOME. */
  readonly keyring: KeyringBackend;
  /** This process's copy (`ephemeral` mode). */
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
