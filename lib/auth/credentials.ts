/**
 * Using the stored credentials, in one breath: resolve the store → inspect
 * (read every copy, decide) → repair under the lock when something is
 * pending → decide fresh or refresh → refresh under the lock → save →
 * answer.
 *
 * - {@linkcode loadAuth}: credentials for use (repairs applied);
 * - {@linkcode getRequestAuth} / {@linkcode recoverUnauthorized}: what `cdx run` needs;
 * - {@linkcode currentToken}: `cdx login token`;
 * - {@linkcode saveLogin}, {@linkcode logoutAuth}: login and logout;
 * - {@linkcode authStatus}: read-only status (also the feedback diagnostics).
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError } from "../errors.ts";
import { isCancellation } from "../cancel.ts";
import { type AuthData, resolveAuthMode } from "./auth_json.ts";
import type { AuthLocation, StoredAuth } from "./backends.ts";
import { recordStoreChoice, type StoreMode } from "./modes.ts";
import { apiKeyFromEnv } from "./env_key.ts";
import {
  type AuthStore,
  inspectAuth,
  type Notice,
  resolveAuthStore,
  storeUnreadable,
} from "./store.ts";
import { checkpoint } from "../steps.ts";
import { needsRefresh, RefreshPermanentError, RefreshTransientError } from "./refresh_policy.ts";
import type { RefreshRequestOptions } from "./refresh.ts";

// What writes is loaded on first need: reading a fresh credential (`login
// token`, `login status`) evaluates neither the lock, repair, save nor
// refresh modules.
const writing = () =>
  Promise.all([import("./lock.ts"), import("./repair.ts"), import("./save.ts")]).then((
    [lock, repair, save],
  ) => ({ ...lock, ...repair, ...save }));
const refreshing = () => import("./refresh.ts");

/** What the credential functions take: the whole Context (they may refresh, save and print). */
export type AuthContext = Context;

/** The credential for one model request. */
export type RequestAuth =
  | { kind: "apikey"; apiKey: string; source: "env" | "stored" }
  | { kind: "chatgpt"; accessToken: string; accountId?: string };

/** Options shared by the functions that use stored credentials. */
export interface UseOptions {
  /** The `--store` mode; undefined uses the environment, config.toml or `auto`. */
  store?: StoreMode;
  /** Refresh retry tuning (tests). */
  refresh?: RefreshRequestOptions;
  /** Where notices go (default: stderr, `warning: …` / `note: …`). */
  onNotice?: (notice: Notice) => void;
}

/** Options of {@linkcode getRequestAuth}. */
export interface RequestAuthOptions extends UseOptions {
  /** Let `CODEX_API_KEY` / `OPENAI_API_KEY` win over stored credentials. */
  allowEnvApiKey?: boolean;
}

const NOT_LOGGED_IN_HINT =
  "run `cdx login` (or `printenv OPENAI_API_KEY | cdx login --with-api-key`)";

function notLoggedIn(): CdxError {
  return new CdxError("not logged in", { hint: NOT_LOGGED_IN_HINT, errorCode: "not_logged_in" });
}

/** Prints notices on stderr (masked), the default `onNotice`. */
export function printNotices(ctx: Pick<Context, "stderr" | "secrets">, notices: Notice[]): void {
  for (const n of notices) {
    ctx.stderr.writeSync(`${n.level}: ${ctx.secrets.redact(n.text)}\n`);
  }
}

function tell(ctx: AuthContext, options: UseOptions, notices: Notice[]): void {
  const fresh = notices.filter((n) => !n.steady);
  if (options.onNotice) { for (const n of fresh) options.onNotice(n); }
  else printNotices(ctx, fresh);
}

function toRequestAuth(auth: AuthData): RequestAuth {
  const mode = resolveAuthMode(auth);
  if (mode === "apikey" && typeof auth.OPENAI_API_KEY === "string" && auth.OPENAI_API_KEY) {
    return { kind: "apikey", apiKey: auth.OPENAI_API_KEY, source: "stored" };
  }
  if (mode === "chatgpt" && auth.tokens?.access_token) {
    const accountId = auth.tokens.account_id ?? undefined;
    return accountId
      ? { kind: "chatgpt", accessToken: auth.tokens.access_token, accountId }
      : { kind: "chatgpt", accessToken: auth.tokens.access_token };
  }
  throw new CdxError(`the stored credentials use auth mode "${mode}", which cdx does not support`, {
    hint: "run `cdx login` to sign in again",
  });
}

/**
 * The stored credentials for use: read; when a repair is pending (a
 * migration, a stale copy, a rescued refresh) take the lock, read again and
 * repair. Undefined when not logged in; a keychain that cannot be read is an
 * error (exit 3), never "not logged in".
 *
 * @example
 * ```ts
 * const { store, active } = await loadAuth(ctx, { store: "auto" });
 * ```
 */
export async function loadAuth(
  ctx: AuthContext,
  options: UseOptions = {},
): Promise<{ store: AuthStore; active?: StoredAuth }> {
  const store = resolveAuthStore(ctx, options);
  let snapshot = await inspectAuth(ctx, store);
  let active = snapshot.active;
  if (snapshot.repairs.length) {
    const { withAuthLock, applyRepairs } = await writing();
    const repaired = await withAuthLock(ctx, async () => {
      snapshot = await inspectAuth(ctx, store);
      if (snapshot.unknown) return { active: undefined, notices: snapshot.notices };
      return await applyRepairs(ctx, store, snapshot);
    });
    active = repaired.active;
    tell(ctx, options, repaired.notices);
  } else {
    tell(ctx, options, snapshot.notices);
  }
  if (snapshot.unknown) throw storeUnreadable(snapshot);
  return { store, active };
}

async function refreshIfExpired(
  ctx: AuthContext,
  store: AuthStore,
  auth: AuthData,
  options: UseOptions,
): Promise<AuthData> {
  if (!needsRefresh(auth, ctx.clock.now())) return auth;
  const { refreshStored } = await refreshing();
  const result = await refreshStored(ctx, store, auth, "proactive_expiry", options.refresh);
  tell(ctx, options, result.notices);
  return result.auth;
}

/**
 * Credentials for a model request: `CODEX_API_KEY` / `OPENAI_API_KEY` win
 * (when `allowEnvApiKey`), else the stored credentials, refreshed first when
 * expired (once across processes). A transient refresh failure keeps the old
 * token, as codex does (the request's 401 then goes through
 * {@linkcode recoverUnauthorized}). Not logged in → `CdxError`, exit 1.
 *
 * @example
 * ```ts
 * const auth = await getRequestAuth(ctx, { allowEnvApiKey: true });
 * const bearer = auth.kind === "apikey" ? auth.apiKey : auth.accessToken;
 * ```
 */
export async function getRequestAuth(
  ctx: AuthContext,
  options: RequestAuthOptions = {},
): Promise<RequestAuth> {
  if (options.allowEnvApiKey) {
    const key = apiKeyFromEnv(ctx);
    if (key) return { kind: "apikey", apiKey: key.value, source: "env" };
  }
  const { store, active } = await loadAuth(ctx, options);
  if (!active) throw notLoggedIn();
  let auth = active.auth;
  try {
    auth = await refreshIfExpired(ctx, store, auth, options);
  } catch (error) {
    if (!(error instanceof RefreshTransientError)) throw error;
    ctx.logger.getChild("auth").warn("could not refresh the access token: {error}", {
      error: error.message,
    });
  }
  return toRequestAuth(auth);
}

/**
 * After a 401: reload from storage; if the stored tokens differ from
 * `failed`, return them; else refresh (`unauthorized_recovery`) and return
 * the new ones. API keys get no recovery (undefined). A permanent refresh
 * failure is a CdxError with codex's "log in again" message, exit 1.
 */
export async function recoverUnauthorized(
  ctx: AuthContext,
  options: UseOptions,
  failed: RequestAuth,
): Promise<RequestAuth | undefined> {
  if (failed.kind !== "chatgpt") return undefined;
  const { store, active } = await loadAuth(ctx, options);
  if (!active) throw notLoggedIn();
  const current = active.auth;
  if (resolveAuthMode(current) !== "chatgpt") return toRequestAuth(current);
  if (current.tokens?.access_token !== failed.accessToken) return toRequestAuth(current);
  const { refreshStored } = await refreshing();
  const next = await refreshStored(ctx, store, current, "unauthorized_recovery", options.refresh);
  tell(ctx, options, next.notices);
  if (next.auth.tokens?.access_token === failed.accessToken) {
    throw new RefreshPermanentError(
      "Your access token could not be refreshed. Please log out and sign in again.",
    );
  }
  return toRequestAuth(next.auth);
}

/**
 * The bearer credential for `cdx login token`: stored credentials only,
 * refreshed first when expired. Any refresh failure is an error (a script
 * must not get a dead token).
 */
export async function currentToken(
  ctx: AuthContext,
  options: UseOptions = {},
): Promise<{ auth: AuthData; request: RequestAuth }> {
  const { store, active } = await loadAuth(ctx, options);
  if (!active) throw notLoggedIn();
  const auth = await refreshIfExpired(ctx, store, active.auth, options);
  return { auth, request: toRequestAuth(auth) };
}

/**
 * Saves a new login under the lock. Returns where it went and the
 * credentials it replaced (for a best-effort revoke). In `auto` mode a
 * locked or silent keychain stops the login (exit 3, hint `--store file`)
 * rather than leave a second copy behind.
 */
export async function saveLogin(
  ctx: AuthContext,
  auth: AuthData,
  options: { store?: StoreMode; onNotice?: (notice: Notice) => void } = {},
): Promise<{ location: AuthLocation; previous?: AuthData }> {
  const resolved = resolveAuthStore(ctx, options);
  // `cdx login --store MODE` makes the choice stick: config.toml gets that mode after the save,
  // so the save itself neither warns about nor adds another value there.
  const mode = resolved.mode;
  const persist = mode.source === "option" && mode.mode !== "ephemeral" &&
    mode.configured !== mode.mode;
  const store = persist ? { ...resolved, mode: { ...mode, configured: mode.mode } } : resolved;
  const { withAuthLock, saveToStore } = await writing();
  const { location, previous, notices } = await withAuthLock(ctx, async () => {
    await checkpoint(ctx, "login:save");
    const before = await inspectAuth(ctx, store).catch((error) => {
      if (isCancellation(error)) throw error;
      return undefined; // unreadable: nothing to revoke, the save decides the rest
    });
    const saved = await saveToStore(ctx, store, auth, { onUnreadableKeyring: "fail" });
    if (persist) saved.notices.push(await recordStoreChoice(store.codexHome, store.mode.mode));
    return { ...saved, previous: before?.active?.auth };
  });
  tell(ctx, options, notices);
  return { location, previous };
}

/** What {@linkcode logoutAuth} did. */
export interface LogoutResult {
  /** The credentials that were stored (for the revoke), when they could be read. */
  auth?: AuthData;
  /** Every copy that was deleted (memory, keychain item, files). */
  removed: AuthLocation[];
  /** Copies that may remain, and why. */
  problems: string[];
  /** Whether the keychain could not be asked (exit 3). */
  keyringUnknown: boolean;
}

/**
 * Reads what is stored (for the caller's revoke), without repairing.
 * A keychain that cannot be read leaves `auth` undefined and says so.
 */
export async function storedForLogout(
  ctx: AuthContext,
  options: { store?: StoreMode } = {},
): Promise<{ store: AuthStore; auth?: AuthData; unknown: boolean }> {
  const store = resolveAuthStore(ctx, options);
  const snapshot = await inspectAuth(ctx, store);
  const unknown = snapshot.keyring.state === "unreadable" ||
    (store.mode.mode === "keyring" && snapshot.keyring.state === "unavailable");
  return { store, auth: snapshot.active?.auth, unknown };
}

/** Deletes every copy under the lock. */
export async function logoutAuth(ctx: AuthContext, store: AuthStore): Promise<LogoutResult> {
  await checkpoint(ctx, "logout:delete");
  const { withAuthLock, deleteFromStore } = await writing();
  const result = await withAuthLock(ctx, () => deleteFromStore(ctx, store));
  return { ...result };
}
