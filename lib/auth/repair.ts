/**
 * Carrying out what {@linkcode inspectAuth} found to repair — the one step
 * that moves credentials between places (migration into the keychain, the
 * newer of two diverging copies replacing the older, a rescued refresh
 * recovered, the legacy token file converted). It runs under `auth.lock`,
 * re-reads before it writes, and never deletes a copy before the copy it
 * keeps has read back. It returns notices; the command decides what to
 * print.
 *
 * Every prefix of a migration leaves codex able to find the credentials:
 * config.toml first (codex then looks in the keychain *and* auth.json),
 * then the keychain item, then the file is removed.
 *
 * @module
 */
import { isCancellation } from "../cancel.ts";
import { checkpoint } from "../steps.ts";
import type { Context } from "../context.ts";
import { removeIfExists } from "../fs.ts";
import type { StoredAuth } from "./backends.ts";
import { withWriteLock } from "./lock.ts";
import { saveToStore } from "./save.ts";
import { type AuthSnapshot, type AuthStore, type Notice, type StoreContext } from "./store.ts";

/** The Context parts {@linkcode applyRepairs} needs: the store's (stderr serves checkpoints). */
export type RepairContext = StoreContext & Pick<Context, "stderr">;

function problem(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Applies `snapshot.repairs` (taken under `auth.lock`, just read). Returns
 * the credentials in use afterwards and the notices. A repair that fails is
 * a warning: the command goes on with the copy that is in use.
 */
export async function applyRepairs(
  ctx: RepairContext,
  store: AuthStore,
  snapshot: AuthSnapshot,
): Promise<{ active?: StoredAuth; notices: Notice[] }> {
  const notices: Notice[] = [...snapshot.notices];
  let active = snapshot.active;
  for (const repair of snapshot.repairs) {
    try {
      switch (repair.kind) {
        case "fix-mode":
          if (Deno.build.os !== "windows") await Deno.chmod(store.file.authPath, 0o600);
          break;
        case "recover-rescue": {
          const auth = repair.rescue.auth!;
          const location = await withWriteLock(ctx, () => store.file.save(auth));
          await removeIfExists(repair.rescue.path);
          if (active?.location.kind === "file" && active.location.path === repair.rescue.path) {
            active = { auth, location };
          }
          break;
        }
        case "remove-rescues":
          for (const path of repair.paths) await removeIfExists(path);
          break;
        case "legacy-to-file":
          if (active) {
            active = {
              auth: active.auth,
              location: await withWriteLock(ctx, () => store.file.save(active!.auth)),
            };
          }
          break;
        case "move-to-keyring": {
          if (!active) break;
          await checkpoint(ctx, "migrate:start");
          const saved = await saveToStore(ctx, store, active.auth, { onUnreadableKeyring: "file" });
          notices.push(...saved.notices);
          if (saved.location.kind === "keyring") {
            notices.push({
              level: "note",
              text: repair.replacesOlder
                ? "the keychain's older copy was replaced by the newer credentials from auth.json"
                : `moved the credentials from ${
                  active.location.kind === "keyring"
                    ? "auth.json"
                    : (active.location as { path: string }).path
                } into the keychain`,
            });
          }
          active = { auth: active.auth, location: saved.location };
          await checkpoint(ctx, "migrate:done");
          break;
        }
        case "remove-file":
          await withWriteLock(ctx, () => store.file.delete());
          break;
      }
    } catch (error) {
      if (isCancellation(error)) throw error;
      notices.push({
        level: "warning",
        text: `could not ${describe(repair.kind)}: ${problem(error)}`,
      });
    }
  }
  return { active, notices };
}

function describe(kind: AuthSnapshot["repairs"][number]["kind"]): string {
  switch (kind) {
    case "fix-mode":
      return "set auth.json to mode 0600";
    case "recover-rescue":
      return "recover the credentials of an interrupted refresh";
    case "remove-rescues":
      return "remove temp files of an interrupted write";
    case "legacy-to-file":
      return "convert the legacy token file to auth.json";
    case "move-to-keyring":
      return "move the credentials into the keychain";
    case "remove-file":
      return "remove the duplicate auth.json";
  }
}
