/**
 * The login flows end to end: decide what kind of issuer it is (codex's, or
 * a standard OpenID Connect issuer found by discovery), run the browser or
 * device flow, and hand the tokens to {@linkcode finishLogin} — the one
 * place a login touches credential storage.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError, UsageError } from "../errors.ts";
import { isCancellation } from "../cancel.ts";
import {
  apiKeyAuth,
  type AuthData,
  chatgptAuth,
  isRevocable,
  type TokenData,
} from "./auth_json.ts";
import { parseIdClaims } from "./jwt.ts";
import {
  CODEX_CLIENT_ID,
  DEFAULT_ISSUER,
  discoverIssuer,
  isDefaultIssuer,
  ISSUER_ENV,
  type IssuerMetadata,
  normalizeIssuer,
} from "./endpoints.ts";
import { codexDeviceLogin, type DeviceCodePrompt, randomLoginOwnerId } from "./device_code.ts";
import { rfc8628Login } from "./rfc8628.ts";
import { type AuthorizePrompt, browserLogin, type BrowserLoginTokens } from "./browser_login.ts";
import type { AuthLocation } from "./backends.ts";
import type { StoreMode } from "./modes.ts";
import { saveLogin } from "./credentials.ts";
import { revokeAuth } from "./revoke.ts";

/** Result of a login. */
export interface LoginResult {
  /** The saved record. */
  auth: AuthData;
  /** Where it was saved. */
  location: AuthLocation;
}

/** Who a login talks to, decided before anything is shown to the user. */
export interface LoginTarget {
  /** `codex`: codex's own endpoints; `oidc`: a standard issuer's discovered endpoints. */
  flavour: "codex" | "oidc";
  /** The issuer URL (no trailing slash). */
  issuer: string;
  /** The OAuth client id (codex's unless `--client-id`). */
  clientId: string;
  /** `--scope` (standard issuers only). */
  scope?: string;
  /** The discovery document (standard issuers). */
  metadata?: IssuerMetadata;
}

/** Options of {@linkcode resolveLoginTarget}. */
export interface LoginTargetOptions {
  /** `--issuer` (default `CDX_ISSUER`, then codex's). */
  issuer?: string;
  /** `--client-id`. */
  clientId?: string;
  /** `--scope`. */
  scope?: string;
  /** Which flow the endpoints must support. */
  flow: "browser" | "device";
}

function issuerUrl(value: string, source: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value.trim());
  } catch { /* below */ }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    throw new UsageError(`${source} must be an http(s) URL, not ${JSON.stringify(value)}`, {
      // A flag's mistake gets the usage line; a variable's needs to be named.
      hint: source.startsWith("--") ? undefined : `unset ${source} or set it to the issuer's URL`,
    });
  }
  if (url.search || url.hash) {
    throw new UsageError(`${source} must be an issuer URL without ?query or #fragment`);
  }
  return normalizeIssuer(url.toString());
}

/**
 * The issuer to log in to and how: codex's issuer (no discovery) or one
 * without OIDC discovery (a codex-compatible stand-in) gets the codex
 * flavour; an issuer whose discovery lists the flow's endpoint is standard
 * and needs `--client-id`. Bad values are usage errors (exit 2); a hung
 * discovery is a timeout naming the host (exit 124).
 */
export async function resolveLoginTarget(
  ctx: Context,
  options: LoginTargetOptions,
): Promise<LoginTarget> {
  const fromEnv = ctx.env.get(ISSUER_ENV) || undefined;
  const issuer = options.issuer !== undefined
    ? issuerUrl(options.issuer, "--issuer")
    : fromEnv !== undefined
    ? issuerUrl(fromEnv, ISSUER_ENV)
    : DEFAULT_ISSUER;
  const codex = (): LoginTarget => {
    if (options.scope !== undefined) {
      throw new UsageError(
        `--scope applies to a standard OpenID Connect issuer; ${issuer} uses codex's fixed scope`,
      );
    }
    return { flavour: "codex", issuer, clientId: options.clientId ?? CODEX_CLIENT_ID };
  };
  if (isDefaultIssuer(issuer)) return codex();
  const metadata = await discoverIssuer(ctx, issuer, { strict: true });
  if (!metadata?.token_endpoint) return codex();
  const endpoint = options.flow === "browser"
    ? metadata.authorization_endpoint
    : metadata.device_authorization_endpoint;
  if (!endpoint) {
    const [what, other] = options.flow === "browser"
      ? ["browser sign-in (no authorization_endpoint)", "cdx login --device-auth"]
      : ["device login (no device_authorization_endpoint)", "cdx login"];
    throw new CdxError(`${issuer} does not offer ${what}`, { hint: `try \`${other}\`` });
  }
  if (!options.clientId) {
    throw new UsageError(
      `${issuer} is a standard OpenID Connect issuer: cdx needs its client id (--client-id)`,
      {
        hint: options.flow === "browser"
          ? "register cdx there as a public (native) client with redirect URI http://127.0.0.1/auth/callback (any port) and pass its id with --client-id"
          : "register cdx there as a public client allowed the device grant and pass its id with --client-id",
      },
    );
  }
  return { flavour: "oidc", issuer, clientId: options.clientId, scope: options.scope, metadata };
}

/** Options of {@linkcode finishLogin}. */
export interface FinishLoginOptions {
  /** Recorded in `tokens.oauth_provenance.issuer`. */
  issuer: string;
  /** Recorded in `tokens.oauth_provenance.client_id`. */
  clientId: string;
  /** `--store`. */
  store?: StoreMode;
  /** codex's browser login also saves the exchanged API key (else `null`). */
  apiKey?: string | null;
  /** Called once the credentials are saved (before the replaced token is revoked). */
  onSaved?: () => void;
}

/**
 * Saves a finished login as codex's ChatGPT auth record (with
 * `oauth_provenance` and a fresh `login_owner_id`, as codex 0.169.0 writes
 * after both its browser and device logins), then revokes, best effort,
 * the refresh token it replaced. The only storage access of a login.
 */
export async function finishLogin(
  ctx: Context,
  tokens: BrowserLoginTokens,
  options: FinishLoginOptions,
): Promise<LoginResult> {
  const data: TokenData = {
    id_token: tokens.id_token,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    account_id: parseIdClaims(tokens.id_token).accountId ?? null,
    oauth_provenance: { issuer: options.issuer, client_id: options.clientId },
    login_owner_id: randomLoginOwnerId(),
  };
  ctx.secrets.register(data.login_owner_id);
  const auth = chatgptAuth(data, ctx.clock.now());
  if (options.apiKey) {
    ctx.secrets.register(options.apiKey);
    auth.OPENAI_API_KEY = options.apiKey;
  }
  const { location, previous } = await saveLogin(ctx, auth, { store: options.store });
  options.onSaved?.();

  // Best effort, as codex: revoke the refresh token this login replaced.
  if (previous && isRevocable(previous) && previous.tokens!.refresh_token !== data.refresh_token) {
    try {
      await revokeAuth(ctx, previous);
    } catch (error) {
      if (isCancellation(error) && ctx.signal.aborted) throw error;
      ctx.logger.getChild("auth").warn("could not revoke the replaced token: {error}", {
        error: (error as Error).message,
      });
    }
  }
  return { auth, location };
}

/** Options of {@linkcode deviceLogin}. */
export interface DeviceLoginOptions {
  /** `--issuer`. */
  issuer?: string;
  /** `--client-id`. */
  clientId?: string;
  /** `--scope`. */
  scope?: string;
  /** `--store`. */
  store?: StoreMode;
  /** Multiplies every wait and the deadline (tests). */
  pollScale?: number;
  /** Poll wait override (tests). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Shows the code to the user. */
  onCode: (prompt: DeviceCodePrompt & { flow: "codex" | "rfc8628" }) => void | Promise<void>;
}

/**
 * Device-code login: codex's own flow for codex's issuer (and stand-ins
 * without discovery), RFC 8628 for a standard issuer.
 */
export async function deviceLogin(ctx: Context, options: DeviceLoginOptions): Promise<LoginResult> {
  const target = await resolveLoginTarget(ctx, { ...options, flow: "device" });
  const standard = target.flavour === "oidc";
  const onCode = (prompt: DeviceCodePrompt) =>
    options.onCode({ ...prompt, flow: standard ? "rfc8628" : "codex" });
  const common = {
    issuer: target.issuer,
    clientId: target.clientId,
    pollScale: options.pollScale,
    sleep: options.sleep,
    onCode,
  };
  const tokens = standard
    ? await rfc8628Login(ctx, { ...common, scope: target.scope, metadata: target.metadata! })
    : await codexDeviceLogin(ctx, common);
  return await finishLogin(ctx, tokens, { ...target, store: options.store });
}

/** Options of {@linkcode loginInBrowser}. */
export interface BrowserLoginCommandOptions {
  /** `--issuer`. */
  issuer?: string;
  /** `--client-id`. */
  clientId?: string;
  /** `--scope`. */
  scope?: string;
  /** `--store`. */
  store?: StoreMode;
  /** Callback port (0 = any free port); default 1455, then 1457. */
  port?: number;
  /** Wait bound override, ms (tests). */
  waitMs?: number;
  /** Shows the URL; `target` says which issuer and flavour. */
  onAuthorize(prompt: AuthorizePrompt & { target: LoginTarget }): void | Promise<void>;
}

/** Browser login (PKCE + loopback callback) against codex's issuer or a standard one. */
export async function loginInBrowser(
  ctx: Context,
  options: BrowserLoginCommandOptions,
): Promise<LoginResult & { target: LoginTarget }> {
  const target = await resolveLoginTarget(ctx, { ...options, flow: "browser" });
  const result = await browserLogin(ctx, {
    ...target,
    port: options.port,
    waitMs: options.waitMs,
    onAuthorize: (prompt) => options.onAuthorize({ ...prompt, target }),
    save: (tokens, apiKey, saved) =>
      finishLogin(ctx, tokens, { ...target, store: options.store, apiKey, onSaved: saved }),
  });
  return { ...result, target };
}

/** Saves an API key (already trimmed, non-empty) as codex's API-key auth.json. */
export async function apiKeyLogin(
  ctx: Context,
  apiKey: string,
  options: { store?: StoreMode } = {},
): Promise<LoginResult> {
  ctx.secrets.register(apiKey);
  const auth = apiKeyAuth(apiKey);
  return { auth, location: (await saveLogin(ctx, auth, options)).location };
}
