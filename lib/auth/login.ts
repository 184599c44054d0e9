/**
 * The login flows end to end: pick codex's device flow or RFC 8628 for the
 * issuer, run it, turn the tokens into codex's auth.json record, save it,
 * and revoke the refresh token it replaced.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError } from "../errors.ts";
import { isCancellation } from "../cancel.ts";
import { apiKeyAuth, type AuthData, chatgptAuth, type TokenData } from "./auth_json.ts";
import { parseIdClaims } from "./jwt.ts";
import {
  CODEX_CLIENT_ID,
  DEFAULT_ISSUER,
  discoverIssuer,
  isDefaultIssuer,
  normalizeIssuer,
} from "./endpoints.ts";
import { codexDeviceLogin, type DeviceCodePrompt, randomLoginOwnerId } from "./device_code.ts";
import { rfc8628Login } from "./rfc8628.ts";
import type { AuthLocation } from "./backends.ts";
import type { StoreMode } from "./modes.ts";
import { saveLogin } from "./credentials.ts";
import { isRevocable, revokeAuth } from "./revoke.ts";

/** Options of {@linkcode deviceLogin}. */
export interface DeviceLoginOptions {
  issuer?: string;
  clientId?: string;
  scope?: string;
  store?: StoreMode;
  pollScale?: number;
  /** Poll wait override (tests). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  onCode: (prompt: DeviceCodePrompt & { flow: "codex" | "rfc8628" }) => void | Promise<void>;
}

/** Result of a login. */
export interface LoginResult {
  auth: AuthData;
  location: AuthLocation;
}

/**
 * Device-code login. codex's issuer uses codex's flow; any other issuer is
 * asked for OIDC discovery first: with a `device_authorization_endpoint` it
 * gets RFC 8628, else codex's flow (the local stand-in servers).
 */
export async function deviceLogin(ctx: Context, options: DeviceLoginOptions): Promise<LoginResult> {
  const issuer = normalizeIssuer(options.issuer ?? DEFAULT_ISSUER);
  const metadata = isDefaultIssuer(issuer) ? undefined : await discoverIssuer(ctx, issuer);
  const standard = !!metadata?.device_authorization_endpoint && !!metadata.token_endpoint;
  const clientId = options.clientId ?? CODEX_CLIENT_ID;
  const flow = standard ? "rfc8628" as const : "codex" as const;
  const onCode = (prompt: DeviceCodePrompt) => options.onCode({ ...prompt, flow });
  const tokens = standard
    ? await rfc8628Login(ctx, {
      issuer,
      clientId,
      scope: options.scope,
      metadata: metadata!,
      pollScale: options.pollScale,
      sleep: options.sleep,
      onCode,
    })
    : await codexDeviceLogin(ctx, {
      issuer,
      clientId,
      pollScale: options.pollScale,
      sleep: options.sleep,
      onCode,
    });

  const data: TokenData = {
    id_token: tokens.id_token,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    account_id: parseIdClaims(tokens.id_token).accountId ?? null,
    oauth_provenance: { issuer, client_id: clientId },
    login_owner_id: randomLoginOwnerId(),
  };
  ctx.secrets.register(data.login_owner_id);
  const auth = chatgptAuth(data, ctx.clock.now());
  const { location, previous } = await saveLogin(ctx, auth, { store: options.store });

  // Best effort, as codex: revoke the refresh token this login replaced.
  const old = previous;
  if (old && isRevocable(old) && old.tokens!.refresh_token !== data.refresh_token) {
    try {
      await revokeAuth(ctx, old);
    } catch (error) {
      if (!isCancellation(error)) {
        ctx.logger.getChild("auth").warn("could not revoke the replaced token: {error}", {
          error: (error as Error).message,
        });
      }
    }
  }
  return { auth, location };
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

/** `forced_login_method` from config.toml ("chatgpt" | "api"), as codex enforces it. */
export function checkForcedLoginMethod(ctx: Context, method: "chatgpt" | "api"): void {
  const forced = ctx.config.values.forced_login_method;
  if (forced === "chatgpt" && method === "api") {
    throw new CdxError("API key login is disabled. Use ChatGPT login instead.");
  }
  if (forced === "api" && method === "chatgpt") {
    throw new CdxError("ChatGPT login is disabled. Use API key login instead.");
  }
}
