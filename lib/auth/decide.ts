/**
 * The decision at the heart of credential storage, as a pure function of
 * what was read: which copy is in use, what a write-capable command would
 * repair, and whether the login state is known at all.
 *
 * @module
 */
import type { CdxError } from "../errors.ts";
import type { KeyringUnavailableError } from "../keyring/store.ts";
import { type AuthData, lastRefreshMs, newerCopy, sameAuth, type StoredAuth } from "./auth_json.ts";
import type { Rescue } from "./file_backend.ts";
import type { ResolvedStoreMode } from "./modes.ts";

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
  /** Printed as the `warning:` or `note:` prefix. */
  level: "warning" | "note";
  /** One line, without the prefix; may name paths, never a secret. */
  text: string;
  /** Describes a lasting state rather than something that just happened: `login status` shows it, other commands do not repeat it on every run. */
  steady?: boolean;
}

/** Everything {@linkcode inspectAuth} found. */
export interface AuthSnapshot {
  /** The effective store mode and where it came from. */
  mode: ResolvedStoreMode;
  /** The credentials commands would use; undefined when none (or unknown). */
  active?: StoredAuth;
  /** How the keychain answered (`unused` outside `keyring` and `auto`). */
  keyring: KeyringRead;
  /** auth.json (or the legacy file). */
  file?: StoredAuth;
  /** auth.json could not be used (corrupt, unreadable) while another copy could. */
  fileProblem?: CdxError;
  /** Temp files left by writes that did not finish (none in `ephemeral` mode). */
  rescues: Rescue[];
  /** Whether the login state is unknown (the keychain could not be read and nothing else decides). */
  unknown: boolean;
  /** What a write-capable command would repair, in order; `login status` only reports them. */
  repairs: Repair[];
  /** Messages for the user about what was found. */
  notices: Notice[];
}

/** What {@linkcode decideAuth} decides from. */
export interface AuthReads {
  /** The effective store mode. */
  mode: ResolvedStoreMode;
  /** How the keychain answered. */
  keyring: KeyringRead;
  /** auth.json (or the legacy file), when it holds credentials. */
  file?: StoredAuth;
  /** Why auth.json could not be used (corrupt, unreadable). */
  fileProblem?: CdxError;
  /** Temp files left by writes that did not finish. */
  rescues: Rescue[];
  /** auth.json's mode bits when group/others may read it. */
  looseMode?: number;
  /** false when the file copy does not fit one keychain item codex reads: it stays a file. */
  fileFitsKeyring?: boolean;
  /** This process's copy (only read in `ephemeral` mode). */
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

/** What a status report says about a pending repair ("will … on next use"). */
export function pendingText(snapshot: AuthSnapshot): string[] {
  const out: string[] = [];
  for (const repair of snapshot.repairs) {
    switch (repair.kind) {
      case "fix-mode":
        out.push("auth.json will be set to mode 0600 on next use");
        break;
      case "recover-rescue":
        out.push(`the newer credentials in ${repair.rescue.path} will be recovered on next use`);
        break;
      case "legacy-to-file":
        out.push("the legacy token file will be converted to auth.json on next use");
        break;
      case "move-to-keyring":
        out.push(
          repair.replacesOlder
            ? "the newer auth.json will replace the keychain's older copy on next use"
            : "the credentials will be moved into the keychain on next use",
        );
        break;
      case "remove-file":
        out.push(
          repair.stale
            ? "the older auth.json will be removed on next use"
            : "the duplicate auth.json will be removed on next use",
        );
        break;
      case "remove-rescues":
        break;
    }
  }
  return out;
}
