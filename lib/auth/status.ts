/**
 * What `cdx login status` reports: how you are logged in, where the
 * credentials live, when the token expires — as data, printed by the command.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { type AuthData, resolveAuthMode } from "./auth_json.ts";
import { parseIdClaims, tokenExpiryMs } from "./jwt.ts";
import { type AuthLocation, openAuthStore } from "./storage.ts";
import type { ResolvedStoreMode, StoreMode } from "./modes.ts";

/** codex's API-key mask: ≤13 chars → `***`, else first 8 + `***` + last 5. */
export function maskApiKey(key: string): string {
  if (key.length <= 13) return "***";
  return `${key.slice(0, 8)}***${key.slice(-5)}`;
}

/** The status report (also the `--json` shape, version 1). */
export interface AuthStatus {
  version: 1;
  logged_in: boolean;
  auth_mode?: string;
  api_key?: string;
  email?: string;
  plan?: string;
  account_id?: string | null;
  access_token_expires_at?: string | null;
  access_token_expired?: boolean;
  last_refresh?: string;
  issuer?: string;
  store: {
    mode: StoreMode;
    mode_source: ResolvedStoreMode["source"];
    location?: AuthLocation["kind"];
    backend?: string;
    service?: string;
    account?: string;
    path?: string;
  };
  warnings: string[];
}

/** Builds the status from a stored record. */
export function statusOf(
  auth: AuthData,
  location: AuthLocation,
  mode: ResolvedStoreMode,
  nowMs: number,
): AuthStatus {
  const authMode = resolveAuthMode(auth);
  const status: AuthStatus = {
    version: 1,
    logged_in: true,
    auth_mode: authMode,
    store: { mode: mode.mode, mode_source: mode.source, location: location.kind },
    warnings: [],
  };
  if (location.kind === "keyring") {
    status.store.backend = location.backend;
    status.store.service = location.service;
    status.store.account = location.account;
  } else if (location.kind === "file" || location.kind === "legacy-file") {
    status.store.path = location.path;
  }
  if (authMode === "apikey" && typeof auth.OPENAI_API_KEY === "string") {
    status.api_key = maskApiKey(auth.OPENAI_API_KEY);
  } else if (auth.tokens) {
    const claims = parseIdClaims(auth.tokens.id_token);
    status.email = claims.email;
    status.plan = claims.plan;
    status.account_id = auth.tokens.account_id ?? claims.accountId ?? null;
    const exp = tokenExpiryMs(auth.tokens.access_token);
    status.access_token_expires_at = exp === undefined ? null : new Date(exp).toISOString();
    if (exp !== undefined) status.access_token_expired = exp <= nowMs;
    status.last_refresh = auth.last_refresh;
    const issuer = auth.tokens.oauth_provenance?.issuer;
    if (typeof issuer === "string") status.issuer = issuer;
  }
  // Where and what-else last, after who and when (JSON key order).
  const { store, warnings, ...who } = status;
  return { ...who, store, warnings };
}

/**
 * Loads the credentials (migrating like any load) and describes them.
 * Warns when they sit in a plain file while a keychain works.
 */
export async function loginStatus(
  ctx: Context,
  options: { store?: StoreMode } = {},
): Promise<AuthStatus> {
  const store = openAuthStore(ctx, options);
  const loaded = await store.load();
  if (!loaded) {
    return {
      version: 1,
      logged_in: false,
      store: { mode: store.mode.mode, mode_source: store.mode.source },
      warnings: [],
    };
  }
  const status = statusOf(loaded.auth, loaded.location, store.mode, ctx.clock.now());
  if (loaded.staleFile) {
    status.warnings.push(
      `${loaded.staleFile} holds other credentials than the keychain; the keychain copy is used`,
    );
  }
  const inFile = loaded.location.kind === "file" || loaded.location.kind === "legacy-file";
  if (inFile && store.mode.mode !== "ephemeral") {
    const path = (loaded.location as { path: string }).path;
    if (store.mode.mode === "file") {
      if (await store.keyringWorks()) {
        status.warnings.push(
          `credentials are in a plain file (${path}) although a keychain works; ` +
            "`cdx login status --store auto` moves them there " +
            '(set cli_auth_credentials_store = "auto" in config.toml to keep them there)',
        );
      }
    } else {
      status.warnings.push(
        `credentials are in a plain file (${path}): the keychain could not be used`,
      );
    }
  }
  return status;
}
