/**
 * Public surface of the auth module: codex-compatible credential storage,
 * the login flows, status, refresh and revoke — and the two calls `cdx run`
 * needs: {@linkcode getRequestAuth} and {@linkcode recoverUnauthorized}.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError } from "../errors.ts";
import { type AuthData, resolveAuthMode } from "./auth_json.ts";
import { type AuthStore, openAuthStore } from "./storage.ts";
import type { StoreMode } from "./modes.ts";
import { apiKeyFromEnv } from "./env_key.ts";
import {
  needsRefresh,
  RefreshPermanentError,
  type RefreshRequestOptions,
  refreshStored,
  RefreshTransientError,
} from "./refresh.ts";

export { STORE_MODES, type StoreMode } from "./modes.ts";
export { type AuthLocation, AuthStore, openAuthStore } from "./storage.ts";
export { type AuthData, resolveAuthMode } from "./auth_json.ts";
export { type AuthStatus, loginStatus, maskApiKey } from "./status.ts";
export {
  apiKeyLogin,
  checkForcedLoginMethod,
  deviceLogin,
  type DeviceLoginOptions,
} from "./login.ts";
export type { DeviceCodePrompt } from "./device_code.ts";
export { isRevocable, revokeAuth } from "./revoke.ts";
export { RefreshPermanentError, RefreshTransientError } from "./refresh.ts";
export { tokenExpiryMs } from "./jwt.ts";
export { ISSUER_ENV } from "./endpoints.ts";
export { API_KEY_ENV, apiKeyFromEnv, type EnvApiKey } from "./env_key.ts";

/** The credential for one model request. */
export type RequestAuth =
  | { kind: "apikey"; apiKey: string; source: "env" | "stored" }
  | { kind: "chatgpt"; accessToken: string; accountId?: string };

/** Options of {@linkcode getRequestAuth}. */
export interface RequestAuthOptions {
  store?: StoreMode;
  /** Let `CODEX_API_KEY` / `OPENAI_API_KEY` win over stored credentials. */
  allowEnvApiKey?: boolean;
  /** Refresh retry tuning (tests). */
  refresh?: RefreshRequestOptions;
}

const NOT_LOGGED_IN_HINT =
  "run `cdx login` (or `printenv OPENAI_API_KEY | cdx login --with-api-key`)";

function notLoggedIn(): CdxError {
  return new CdxError("not logged in", { hint: NOT_LOGGED_IN_HINT });
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
    hint: "run `cdx login` to sign in with a device code or an API key",
  });
}

/**
 * Credentials for a model request: `CODEX_API_KEY` / `OPENAI_API_KEY` win
 * (when `allowEnvApiKey`), else the stored credentials (store mode as
 * `--store` > `CDX_CREDENTIALS_STORE` > config.toml > auto); an expired
 * access token is refreshed first (once across processes). A transient
 * refresh failure keeps the old token, as codex does (the request's 401 then
 * goes through {@linkcode recoverUnauthorized}). Not logged in →
 * `CdxError("not logged in")`, exit 1.
 *
 * @example
 * ```ts
 * const auth = await getRequestAuth(ctx, { allowEnvApiKey: true });
 * const bearer = auth.kind === "apikey" ? auth.apiKey : auth.accessToken;
 * ```
 */
export async function getRequestAuth(
  ctx: Context,
  options: RequestAuthOptions = {},
): Promise<RequestAuth> {
  if (options.allowEnvApiKey) {
    const key = apiKeyFromEnv(ctx);
    if (key) return { kind: "apikey", apiKey: key.value, source: "env" };
  }
  const store = openAuthStore(ctx, { store: options.store });
  const loaded = await store.load();
  if (!loaded) throw notLoggedIn();
  let auth = loaded.auth;
  if (needsRefresh(auth, ctx.clock.now())) {
    try {
      auth = await refreshStored(ctx, store, auth, "proactive_expiry", options.refresh);
    } catch (error) {
      if (!(error instanceof RefreshTransientError)) throw error;
      ctx.logger.getChild("auth").warn("could not refresh the access token: {error}", {
        error: error.message,
      });
    }
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
  ctx: Context,
  options: { store?: StoreMode; refresh?: RefreshRequestOptions },
  failed: RequestAuth,
): Promise<RequestAuth | undefined> {
  if (failed.kind !== "chatgpt") return undefined;
  const store = openAuthStore(ctx, { store: options.store });
  const loaded = await store.load({ migrate: false });
  if (!loaded) throw notLoggedIn();
  const current = loaded.auth;
  if (resolveAuthMode(current) !== "chatgpt") return toRequestAuth(current);
  if (current.tokens?.access_token !== failed.accessToken) return toRequestAuth(current);
  const next = await refreshStored(ctx, store, current, "unauthorized_recovery", options.refresh);
  if (next.tokens?.access_token === failed.accessToken) {
    throw new RefreshPermanentError(
      "Your access token could not be refreshed. Please log out and sign in again.",
    );
  }
  return toRequestAuth(next);
}

/**
 * The bearer credential for `cdx login token`: stored credentials only,
 * refreshed first when expired. Any refresh failure is an error (a script
 * must not get a dead token).
 */
export async function currentToken(
  ctx: Context,
  options: { store?: StoreMode; refresh?: RefreshRequestOptions } = {},
): Promise<{ auth: AuthData; request: RequestAuth; store: AuthStore }> {
  const store = openAuthStore(ctx, { store: options.store });
  const loaded = await store.load();
  if (!loaded) throw notLoggedIn();
  let auth = loaded.auth;
  if (needsRefresh(auth, ctx.clock.now())) {
    auth = await refreshStored(ctx, store, auth, "proactive_expiry", options.refresh);
  }
  return { auth, request: toRequestAuth(auth), store };
}
