/**
 * The token requests after a browser sign-in: the authorization code
 * exchanged for tokens (RFC 6749 §4.1.3 with the PKCE verifier, RFC 7636
 * §4.5; form keys in codex 0.169.0's order), and codex's best-effort
 * exchange of the id token for an API key (codex-interop.md §5).
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError } from "../errors.ts";
import { isCancellation } from "../cancel.ts";
import { postToIssuer, tokenErrorDetail } from "./device_code.ts";
import { normalizeIssuer } from "./endpoints.ts";

/** Tokens from a browser login (`id_token` may be empty for a standard issuer without `openid`). */
export interface BrowserLoginTokens {
  /** The OIDC id token (a JWT), or empty. */
  id_token: string;
  /** The bearer token. */
  access_token: string;
  /** The refresh token, or empty when the issuer sent none. */
  refresh_token: string;
}

/** Where and as whom to exchange. */
export interface ExchangeTarget {
  /** `codex`: `{issuer}/oauth/token`; `oidc`: `tokenEndpoint`. */
  flavour: "codex" | "oidc";
  /** The issuer URL. */
  issuer: string;
  /** The OAuth client id. */
  clientId: string;
  /** The standard issuer's token endpoint (`oidc`). */
  tokenEndpoint?: string;
}

/** A failed exchange (exit 1). */
export class TokenExchangeError extends CdxError {
  /** A failed exchange; the message carries the issuer's detail, secrets masked. */
  constructor(message: string) {
    super(message, { errorCode: "login_failed" });
    this.name = "TokenExchangeError";
  }
}

/**
 * Exchanges the code: codex's `{issuer}/oauth/token`, or the standard
 * issuer's token endpoint. Every token is registered as a secret at once.
 */
export async function exchangeCode(
  ctx: Context,
  options: ExchangeTarget,
  code: string,
  verifier: string,
  redirectUri: string,
): Promise<BrowserLoginTokens> {
  const url = options.flavour === "codex"
    ? `${normalizeIssuer(options.issuer)}/oauth/token`
    : options.tokenEndpoint!;
  const form = new URLSearchParams([
    ["grant_type", "authorization_code"],
    ["client_id", options.clientId],
    ["code", code],
    ["redirect_uri", redirectUri],
    ["code_verifier", verifier],
  ]);
  const res = await postToIssuer(ctx, url, {
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: form.toString(),
  }, "token exchange");
  // The token fields, not the whole answer (issue 10: a large body is no secret to index).
  const str = (k: string) => typeof res.body[k] === "string" ? res.body[k] as string : "";
  const tokens = {
    id_token: str("id_token"),
    access_token: str("access_token"),
    refresh_token: str("refresh_token"),
  };
  for (const t of Object.values(tokens)) if (t) ctx.secrets.register(t);
  if (!res.ok) {
    throw new TokenExchangeError(
      `Token exchange failed: token endpoint returned status ${res.status}: ${
        ctx.secrets.redact(tokenErrorDetail(res))
      }`,
    );
  }
  // codex requires all three; a standard issuer needs to send only an access token.
  const required = options.flavour === "codex" ? Object.keys(tokens) : ["access_token"];
  for (const key of required) {
    if (!tokens[key as keyof typeof tokens]) {
      throw new TokenExchangeError(`Token exchange failed: the response has no ${key}`);
    }
  }
  return tokens;
}

/** codex's API-key token exchange (best effort: null on any failure but Ctrl-C). */
export async function obtainApiKey(
  ctx: Context,
  options: ExchangeTarget,
  idToken: string,
): Promise<string | null> {
  try {
    const form = new URLSearchParams([
      ["grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"],
      ["client_id", options.clientId],
      ["requested_token", "openai-api-key"],
      ["subject_token", idToken],
      ["subject_token_type", "urn:ietf:params:oauth:token-type:id_token"],
    ]);
    const res = await postToIssuer(ctx, `${normalizeIssuer(options.issuer)}/oauth/token`, {
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: form.toString(),
    }, "API key exchange");
    const key = res.ok ? res.body.access_token : undefined;
    if (typeof key === "string" && key) {
      ctx.secrets.register(key);
      return key;
    }
    ctx.logger.getChild("auth").debug("API key exchange answered {status}; no API key saved", {
      status: res.status,
    });
  } catch (error) {
    if (isCancellation(error) && ctx.signal.aborted) throw error;
    ctx.logger.getChild("auth").debug("API key exchange failed: {error}", {
      error: (error as Error).message,
    });
  }
  return null;
}
