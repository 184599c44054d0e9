/**
 * JWT claims as codex reads them: decoded without verification (the tokens
 * come straight from the issuer over TLS; cdx only needs display data and
 * the access token's `exp`).
 *
 * @module
 */

/** Claims cdx uses, from an id_token (and `exp` from an access token). */
export interface IdClaims {
  /** `email`, else `https://api.openai.com/profile`.`email`. */
  email?: string;
  /** `https://api.openai.com/auth`.`chatgpt_account_id` (→ `tokens.account_id`). */
  accountId?: string;
  /** `chatgpt_plan_type`: free, plus, pro, team, ... */
  plan?: string;
  /** `chatgpt_user_id`, else `user_id`. */
  userId?: string;
  /** `sub`: the account at a standard OIDC issuer. */
  subject?: string;
  /** Seconds since the epoch. */
  exp?: number;
}

const AUTH_CLAIM = "https://api.openai.com/auth";
const PROFILE_CLAIM = "https://api.openai.com/profile";

function base64UrlDecode(part: string): Uint8Array {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const bin = atob(padded);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * The payload of a JWT, or undefined when `token` is not one (needs three
 * non-empty dot-separated parts and a JSON object payload). Opaque tokens
 * (e.g. oidc-provider's access tokens) simply give undefined.
 */
export function decodeJwtPayload(token: string | undefined): Record<string, unknown> | undefined {
  if (!token) return undefined;
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => p === "")) return undefined;
  try {
    const json = JSON.parse(new TextDecoder().decode(base64UrlDecode(parts[1])));
    return json && typeof json === "object" && !Array.isArray(json) ? json : undefined;
  } catch {
    return undefined;
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The claims codex reads (codex-interop.md §6).
 *
 * @example
 * ```ts
 * const { email, plan, accountId } = parseIdClaims(auth.tokens.id_token);
 * ```
 */
export function parseIdClaims(token: string | undefined): IdClaims {
  const payload = decodeJwtPayload(token);
  if (!payload) return {};
  const auth = (payload[AUTH_CLAIM] ?? {}) as Record<string, unknown>;
  const profile = (payload[PROFILE_CLAIM] ?? {}) as Record<string, unknown>;
  return {
    email: str(payload.email) ?? str(profile?.email),
    accountId: str(auth?.chatgpt_account_id),
    plan: str(auth?.chatgpt_plan_type),
    userId: str(auth?.chatgpt_user_id) ?? str(auth?.user_id),
    subject: str(payload.sub),
    exp: typeof payload.exp === "number" ? payload.exp : undefined,
  };
}

/** Latest time a JavaScript Date can hold, in ms (an `exp` beyond it is garbage). */
const MAX_DATE_MS = 8.64e15;

/**
 * The access token's expiry in ms since the epoch, when it is a JWT with a
 * usable `exp` (a finite number a date can hold; `1e20` is not one).
 */
export function tokenExpiryMs(accessToken: string | undefined): number | undefined {
  const exp = decodeJwtPayload(accessToken)?.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp)) return undefined;
  const ms = exp * 1000;
  return Math.abs(ms) <= MAX_DATE_MS ? ms : undefined;
}
