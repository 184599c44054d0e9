/**
 * Public surface of the auth module. A command that uses credentials goes:
 * resolve the store → inspect (read every copy, decide) → repair under the
 * lock when something is pending → decide fresh or refresh → refresh under
 * the lock → save → answer (see credentials.ts).
 *
 * The sign-in flows and the revoke are exported as thin async wrappers that
 * load their modules on first call: `login status` and `login token` (run
 * before every scripted request) evaluate only the store and the status
 * code, never the browser, device or revoke machinery.
 *
 * @module
 */
import type { Context } from "../context.ts";
import type { AuthData } from "./auth_json.ts";

export {
  checkForcedLoginMethod,
  STORE_MODES,
  type StoreMode,
  writeStoreKeyInConfig,
} from "./modes.ts";
export type { AuthLocation, StoredAuth } from "./backends.ts";
export {
  assertWritableHome,
  type AuthSnapshot,
  type AuthStore,
  checkCodexHome,
  inspectAuth,
  type Notice,
  resolveAuthStore,
} from "./store.ts";
export { type AuthData, isRevocable, lastRefreshMs, resolveAuthMode } from "./auth_json.ts";
export { type AuthStatus, authStatus, isoMs, maskApiKey } from "./status.ts";
export type {
  BrowserLoginCommandOptions,
  DeviceLoginOptions,
  LoginResult,
  LoginTarget,
} from "./login.ts";
export type { DeviceCodePrompt } from "./device_code.ts";
export type { AuthorizePrompt } from "./browser_login.ts";
export { RefreshPermanentError, RefreshTransientError } from "./refresh_policy.ts";
export { parseIdClaims, tokenExpiryMs } from "./jwt.ts";
export { BROWSER_LOGIN_WAIT_MS, CODEX_CLIENT_ID, ISSUER_ENV } from "./endpoints.ts";
export {
  currentToken,
  getRequestAuth,
  loadAuth,
  logoutAuth,
  type LogoutResult,
  printNotices,
  recoverUnauthorized,
  type RequestAuth,
  type RequestAuthOptions,
  saveLogin,
  storedForLogout,
  type UseOptions,
} from "./credentials.ts";
export { API_KEY_ENV, apiKeyFromEnv, type EnvApiKey } from "./env_key.ts";

/** login.ts, loaded on first call: the wrappers below take and return what its functions do. */
export type LoginModule = typeof import("./login.ts");

/** Device-code login (codex's flow, or RFC 8628 at a standard issuer); see login.ts. */
export async function deviceLogin(
  ...args: Parameters<LoginModule["deviceLogin"]>
): ReturnType<LoginModule["deviceLogin"]> {
  return await (await import("./login.ts")).deviceLogin(...args);
}

/** Browser login (PKCE + localhost callback, paste-back); see login.ts. */
export async function loginInBrowser(
  ...args: Parameters<LoginModule["loginInBrowser"]>
): ReturnType<LoginModule["loginInBrowser"]> {
  return await (await import("./login.ts")).loginInBrowser(...args);
}

/** Saves an API key as codex's API-key record; see login.ts. */
export async function apiKeyLogin(
  ...args: Parameters<LoginModule["apiKeyLogin"]>
): ReturnType<LoginModule["apiKeyLogin"]> {
  return await (await import("./login.ts")).apiKeyLogin(...args);
}

/**
 * Revokes `auth`'s refresh token (best effort, bounded; see revoke.ts).
 *
 * @example
 * ```ts
 * if (isRevocable(auth)) await revokeAuth(ctx, auth).catch(warn);
 * ```
 */
export async function revokeAuth(
  ctx: Context,
  auth: AuthData,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  return await (await import("./revoke.ts")).revokeAuth(ctx, auth, options);
}
