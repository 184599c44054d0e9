/**
 * Issuers, client ids and endpoint URLs: codex's fixed ones, the override
 * variables codex honours, and OIDC discovery for standard issuers (browser
 * login with PKCE, RFC 8628 device login).
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CancelledError } from "../cancel.ts";
import { CdxError } from "../errors.ts";
import { fetchText } from "../http.ts";
import type { AuthData } from "./auth_json.ts";

/** How long a browser login waits for the sign-in (as the device flow). */
export const BROWSER_LOGIN_WAIT_MS = 15 * 60 * 1000;
/** codex's default issuer. */
export const DEFAULT_ISSUER = "https://auth.openai.com";
/** codex's OAuth client id. */
export const CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";
/** Refresh endpoint override codex honours. */
export const REFRESH_URL_ENV = "CODEX_REFRESH_TOKEN_URL_OVERRIDE";
/** Revoke endpoint override codex honours. */
export const REVOKE_URL_ENV = "CODEX_REVOKE_TOKEN_URL_OVERRIDE";
/** Issuer override for tests and self-hosted issuers. */
export const ISSUER_ENV = "CDX_ISSUER";

/** An issuer URL without trailing slashes. */
export function normalizeIssuer(issuer: string): string {
  return issuer.trim().replace(/\/+$/, "");
}

/** Whether `issuer` is codex's own. */
export function isDefaultIssuer(issuer: string | undefined): boolean {
  return issuer === undefined || normalizeIssuer(issuer) === DEFAULT_ISSUER;
}

/** OIDC / RFC 8414 metadata fields cdx uses. */
export interface IssuerMetadata {
  /** The issuer identifier the document claims. */
  issuer?: string;
  /** Browser login: where the user signs in (RFC 6749 §3.1). */
  authorization_endpoint?: string;
  /** Code exchange, device polls and refresh (RFC 6749 §3.2). */
  token_endpoint?: string;
  /** RFC 8628 device authorization. */
  device_authorization_endpoint?: string;
  /** RFC 7009 token revocation. */
  revocation_endpoint?: string;
  /** RFC 9207: the issuer adds `iss` to its authorization responses. */
  authorization_response_iss_parameter_supported?: boolean;
}

/** Options of {@linkcode discoverIssuer}. */
export interface DiscoveryOptions {
  /**
   * Login: a timeout or an unreachable issuer is an error (naming the host
   * and the setting), and a document naming another issuer is rejected.
   * Otherwise (refresh, revoke) any failure short of Ctrl-C means "no
   * metadata".
   */
  strict?: boolean;
}

/**
 * OIDC discovery (`/.well-known/openid-configuration`, then
 * `/.well-known/oauth-authorization-server`), each request bounded by
 * {@linkcode fetchText}. Undefined when the issuer publishes neither.
 * Ctrl-C rejects with `CancelledError`.
 *
 * @example
 * ```ts
 * const meta = await discoverIssuer(ctx, "https://id.example.com", { strict: true });
 * if (meta?.authorization_endpoint) startBrowserLogin(meta);
 * ```
 */
export async function discoverIssuer(
  ctx: Context,
  issuer: string,
  options: DiscoveryOptions = {},
): Promise<IssuerMetadata | undefined> {
  const base = normalizeIssuer(issuer);
  for (
    const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
  ) {
    let res;
    try {
      res = await fetchText(ctx, base + path, { headers: { accept: "application/json" } }, {
        what: "OIDC discovery",
        maxBodyBytes: 256 * 1024,
      });
    } catch (error) {
      if (error instanceof CancelledError || options.strict) throw error;
      return undefined;
    }
    if (!res.ok || !res.json || typeof res.json !== "object") continue;
    const meta = res.json as IssuerMetadata;
    if (
      options.strict && typeof meta.issuer === "string" && normalizeIssuer(meta.issuer) !== base
    ) {
      throw new CdxError(
        `the discovery document of ${base} names another issuer (${meta.issuer}); refusing to use it`,
        { hint: `pass the issuer exactly as it names itself: --issuer ${meta.issuer}` },
      );
    }
    return meta;
  }
  return undefined;
}

/** Headers codex sends on refresh and revoke. */
export function codexHeaders(ctx: Context): Record<string, string> {
  return {
    "content-type": "application/json",
    originator: "codex_cli_rs",
    "user-agent": `cdx/${ctx.version} (${ctx.os})`,
  };
}

/** How to talk to the token endpoints of the issuer that minted `auth`'s tokens. */
export interface TokenEndpoints {
  /** `codex`: JSON bodies as codex sends; `oauth`: standard form bodies (RFC 6749 / 7009). */
  style: "codex" | "oauth";
  /** Where refresh tokens are redeemed. */
  refreshUrl: string;
  /** Where refresh tokens are revoked. */
  revokeUrl: string;
  /** The client id the tokens were issued to. */
  clientId: string;
}

/**
 * The refresh / revoke endpoints for stored tokens: the override variables
 * first (as codex), then the issuer recorded in `tokens.oauth_provenance` (a
 * standard issuer found by discovery gets form bodies), else codex's.
 */
export async function tokenEndpoints(ctx: Context, auth: AuthData): Promise<TokenEndpoints> {
  const provenance = auth.tokens?.oauth_provenance;
  const clientId = typeof provenance?.client_id === "string" && provenance.client_id
    ? provenance.client_id
    : CODEX_CLIENT_ID;
  const refreshOverride = ctx.env.get(REFRESH_URL_ENV);
  const revokeOverride = ctx.env.get(REVOKE_URL_ENV);
  const issuer = typeof provenance?.issuer === "string" ? provenance.issuer : undefined;
  let style: "codex" | "oauth" = "codex";
  let refreshUrl = `${DEFAULT_ISSUER}/oauth/token`;
  let revokeUrl = `${DEFAULT_ISSUER}/oauth/revoke`;
  if (!refreshOverride && !revokeOverride && issuer && !isDefaultIssuer(issuer)) {
    const base = normalizeIssuer(issuer);
    const meta = await discoverIssuer(ctx, base);
    // Any issuer publishing a token endpoint is a standard OAuth server (browser or device login).
    if (meta?.token_endpoint) {
      style = "oauth";
      refreshUrl = meta.token_endpoint;
      revokeUrl = meta.revocation_endpoint ?? `${base}/oauth/revoke`;
    } else {
      refreshUrl = `${base}/oauth/token`;
      revokeUrl = `${base}/oauth/revoke`;
    }
  }
  if (refreshOverride) refreshUrl = refreshOverride;
  if (revokeOverride) revokeUrl = revokeOverride;
  else if (refreshOverride) {
    const url = new URL(refreshOverride);
    url.pathname = "/oauth/revoke";
    url.search = "";
    revokeUrl = url.toString();
  }
  return { style, refreshUrl, revokeUrl, clientId };
}
