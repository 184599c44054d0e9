/**
 * Issuers, client ids and endpoint URLs: codex's fixed ones, the override
 * variables codex honours, and OIDC discovery for standard (RFC 8628)
 * issuers.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { timeoutSignal } from "../cancel.ts";
import type { AuthData } from "./auth_json.ts";

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
  issuer?: string;
  token_endpoint?: string;
  device_authorization_endpoint?: string;
  revocation_endpoint?: string;
}

/**
 * OIDC discovery (`/.well-known/openid-configuration`, then
 * `/.well-known/oauth-authorization-server`), bounded to 10 s. Undefined when
 * the issuer publishes none.
 */
export async function discoverIssuer(
  ctx: Context,
  issuer: string,
): Promise<IssuerMetadata | undefined> {
  const base = normalizeIssuer(issuer);
  for (
    const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
  ) {
    using bound = timeoutSignal(10_000, ctx.signal, `OIDC discovery at ${base} timed out`);
    let res: Response;
    try {
      res = await ctx.fetch(base + path, {
        headers: { accept: "application/json" },
        signal: bound.signal,
      });
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      continue;
    }
    try {
      const json = await res.json();
      if (json && typeof json === "object") return json as IssuerMetadata;
    } catch { /* not JSON: not an OIDC issuer */ }
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
  refreshUrl: string;
  revokeUrl: string;
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
    if (meta?.token_endpoint && meta.device_authorization_endpoint) {
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
