/**
 * When a token needs refreshing, and what a refusal means: codex's
 * permanent failures (with its messages) versus transient ones. Light on
 * purpose: `login token` with a fresh token loads this, not the refresh.
 *
 * @module
 */
import { CdxError } from "../errors.ts";
import { type AuthData, resolveAuthMode } from "./auth_json.ts";
import { tokenExpiryMs } from "./jwt.ts";

/** Age after which a token without a parsable `exp` is refreshed. */
export const MAX_TOKEN_AGE_MS = 8 * 24 * 3600 * 1000;

const PERMANENT_MESSAGES: Record<string, string> = {
  refresh_token_expired:
    "Your access token could not be refreshed because your refresh token has expired. Please log out and sign in again.",
  refresh_token_reused:
    "Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again.",
  refresh_token_invalidated:
    "Your access token could not be refreshed because your refresh token was revoked. Please log out and sign in again.",
};
/** codex's generic permanent refresh failure. */
export const GENERIC_REFRESH_FAILURE =
  "Your access token could not be refreshed. Please log out and sign in again.";
/** The refresh found another account stored than the one it started with. */
export const ACCOUNT_CHANGED =
  "Your access token could not be refreshed because you have since logged out or signed in to another account. Please sign in again.";
/** The hint of every permanent refresh failure. */
export const LOGIN_HINT = "run `cdx login` to sign in again";
/** The error options of "not logged in". */
export const NOT_LOGGED_IN = { hint: LOGIN_HINT, errorCode: "not_logged_in" } as const;

/** A refresh failure that retrying cannot fix (exit 1, "log in again"). */
export class RefreshPermanentError extends CdxError {
  /** `code` is the issuer's error code (e.g. `refresh_token_reused`), when it gave one. */
  constructor(message: string, readonly code?: string) {
    super(message, { hint: LOGIN_HINT, errorCode: "login_expired" });
    this.name = "RefreshPermanentError";
  }
}

/** A refresh failure that may pass (network, 5xx, 429). */
export class RefreshTransientError extends CdxError {
  /** `message` says what failed (never a token); `cause` is the network error, if any. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, hint: "check the network and try again", errorCode: "network" });
    this.name = "RefreshTransientError";
  }
}

/**
 * Whether a managed ChatGPT credential needs a proactive refresh: its access
 * token's `exp` has passed, or (no parsable `exp`) `last_refresh` is older
 * than 8 days.
 */
export function needsRefresh(auth: AuthData, nowMs: number): boolean {
  if (resolveAuthMode(auth) !== "chatgpt" || !auth.tokens) return false;
  const exp = tokenExpiryMs(auth.tokens.access_token);
  if (exp !== undefined) return exp <= nowMs;
  const last = auth.last_refresh ? Date.parse(auth.last_refresh) : NaN;
  return Number.isNaN(last) || nowMs - last > MAX_TOKEN_AGE_MS;
}

/** Error code of a refresh error body: `error.code`, else `error` (string), else `code`. */
export function refreshErrorCode(body: unknown): string | undefined {
  if (!body || typeof body !== "object") return undefined;
  const b = body as Record<string, unknown>;
  const error = b.error;
  if (error && typeof error === "object") {
    const code = (error as Record<string, unknown>).code;
    if (typeof code === "string") return code;
  }
  if (typeof error === "string") return error;
  return typeof b.code === "string" ? b.code : undefined;
}

/** Classifies a non-2xx refresh answer. */
export function classifyRefreshFailure(
  status: number,
  body: unknown,
): RefreshPermanentError | RefreshTransientError {
  const code = refreshErrorCode(body);
  if (code && PERMANENT_MESSAGES[code]) {
    return new RefreshPermanentError(PERMANENT_MESSAGES[code], code);
  }
  if (status === 401 || code === "invalid_grant") {
    return new RefreshPermanentError(GENERIC_REFRESH_FAILURE, code);
  }
  if (status >= 500 || status === 429 || status === 408) {
    return new RefreshTransientError(`the token endpoint answered HTTP ${status}`);
  }
  return new RefreshPermanentError(GENERIC_REFRESH_FAILURE, code);
}
