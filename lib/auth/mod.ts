/**
 * Public surface of the auth module. A command that uses credentials goes:
 * resolve the store → inspect (read every copy, decide) → repair under the
 * lock when something is pending → decide fresh or refresh → refresh under
 * the lock → save → answer (see credentials.ts).
 *
 * @module
 */
export { STORE_MODES, type StoreMode, writeStoreKeyInConfig } from "./modes.ts";
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
export { type AuthData, resolveAuthMode } from "./auth_json.ts";
export { type AuthStatus, authStatus, isoMs, maskApiKey } from "./status.ts";
export {
  apiKeyLogin,
  type BrowserLoginCommandOptions,
  checkForcedLoginMethod,
  deviceLogin,
  type DeviceLoginOptions,
  loginInBrowser,
  type LoginTarget,
} from "./login.ts";
export type { DeviceCodePrompt } from "./device_code.ts";
export { type AuthorizePrompt, BROWSER_LOGIN_WAIT_MS } from "./browser_login.ts";
export { isRevocable, revokeAuth } from "./revoke.ts";
export { RefreshPermanentError, RefreshTransientError } from "./refresh.ts";
export { parseIdClaims, tokenExpiryMs } from "./jwt.ts";
export { CODEX_CLIENT_ID, ISSUER_ENV } from "./endpoints.ts";
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
