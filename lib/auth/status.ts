/**
 * What `cdx login status` (and the feedback diagnostics) report: where the
 * active credential comes from — an API key in the environment first, then
 * the store — who and when, where it lives, and what a later command would
 * repair. Read-only: it writes nothing, creates nothing, migrates nothing.
 * A keychain that cannot be read makes the state "unknown", never "not
 * logged in".
 *
 * @module
 */
import type { Context } from "../context.ts";
import { type AuthData, lastRefreshMs, resolveAuthMode } from "./auth_json.ts";
import { parseIdClaims, tokenExpiryMs } from "./jwt.ts";
import type { AuthLocation } from "./backends.ts";
import type { ResolvedStoreMode, StoreMode } from "./modes.ts";
import { apiKeyFromEnv } from "./env_key.ts";
import { inspectAuth, keyringHint, resolveAuthStore, type StoreContext } from "./store.ts";
import { pendingText } from "./decide.ts";

/** codex's API-key mask: ≤13 chars → `***`, else first 8 + `***` + last 5. */
export function maskApiKey(key: string): string {
  if (key.length <= 13) return "***";
  return `${key.slice(0, 8)}***${key.slice(-5)}`;
}

/** RFC 3339 UTC with milliseconds (the one timestamp format of cdx's JSON). */
export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

/** How the keychain answered, for reports. */
export type KeychainState = "unused" | "ok" | "unavailable" | "unreadable";

/** The status report (also the `--json` shape, version 1). */
export interface AuthStatus {
  /** Version of this shape (schemas/status.json); bumped on incompatible changes. */
  version: 1;
  /** `logged_in`, `not_logged_in`, or `unknown` (the keychain could not be read). */
  state: "logged_in" | "not_logged_in" | "unknown";
  /** `state === "logged_in"`, for scripts that only need yes or no. */
  logged_in: boolean;
  /** Where the active credential comes from. */
  source?: "env" | "store";
  /** The environment variable holding it, when `source` is `env`. */
  env_var?: string;
  /** The record's resolved `auth_mode` (`apikey` for a key from the environment). */
  auth_mode?: string;
  /** The API key masked as codex masks it ({@linkcode maskApiKey}); never the key. */
  api_key?: string;
  /** The ID token's email claim (ChatGPT login). */
  email?: string;
  /** The ID token's `sub` claim: the account at a standard OIDC issuer. */
  subject?: string;
  /** The ChatGPT plan (`chatgpt_plan_type`: free, plus, pro, team, ...). */
  plan?: string;
  /** The ChatGPT account id; null when neither the record nor the ID token has one. */
  account_id?: string | null;
  /** The issuer recorded in `oauth_provenance`; absent for records older than codex 0.169.0. */
  issuer?: string;
  /** The OAuth client the tokens were issued to (codex's, or `--client-id` at a standard issuer). */
  client_id?: string;
  /** The access token's `exp` ({@linkcode isoMs}); null when it has none (opaque token). */
  access_token_expires_at?: string | null;
  /** Whether `exp` has passed; absent when there is no `exp`. */
  access_token_expired?: boolean;
  /** The record's `last_refresh` ({@linkcode isoMs}); null when absent or unparsable. */
  last_refresh?: string | null;
  /** The store mode, where the credential lives, and how the keychain answered. */
  store: {
    mode: StoreMode;
    mode_source: ResolvedStoreMode["source"];
    location?: AuthLocation["kind"];
    backend?: string;
    service?: string;
    account?: string;
    path?: string;
    keychain: KeychainState;
    keychain_error?: string;
    /** What to do about it (install, unlock, or use `--store file`). */
    keychain_hint?: string;
  };
  /** What the next command that uses the credentials will repair. */
  pending: string[];
  /** Warnings about the store (e.g. two copies differ) and an overriding environment key. */
  warnings: string[];
}

function describeCredential(status: AuthStatus, auth: AuthData, nowMs: number): void {
  const authMode = resolveAuthMode(auth);
  status.auth_mode = authMode;
  if (authMode === "apikey" && typeof auth.OPENAI_API_KEY === "string") {
    status.api_key = maskApiKey(auth.OPENAI_API_KEY);
    return;
  }
  if (!auth.tokens) return;
  const claims = parseIdClaims(auth.tokens.id_token);
  status.email = claims.email;
  status.subject = claims.subject;
  status.plan = claims.plan;
  status.account_id = auth.tokens.account_id ?? claims.accountId ?? null;
  const issuer = auth.tokens.oauth_provenance?.issuer;
  if (typeof issuer === "string") status.issuer = issuer;
  const clientId = auth.tokens.oauth_provenance?.client_id;
  if (typeof clientId === "string") status.client_id = clientId;
  const exp = tokenExpiryMs(auth.tokens.access_token);
  status.access_token_expires_at = exp === undefined ? null : isoMs(exp);
  if (exp !== undefined) status.access_token_expired = exp <= nowMs;
  const last = lastRefreshMs(auth);
  status.last_refresh = last === undefined ? null : isoMs(last);
}

/**
 * The status of the credentials cdx would use. Writes nothing.
 *
 * @example
 * ```ts
 * const status = await authStatus(ctx, { store: "auto" });
 * if (status.state === "unknown") console.error(status.store.keychain_error);
 * ```
 */
export async function authStatus(
  ctx: StoreContext & Pick<Context, "clock">,
  options: { store?: StoreMode; env?: boolean } = {},
): Promise<AuthStatus> {
  const store = resolveAuthStore(ctx, options);
  const snapshot = await inspectAuth(ctx, store);
  const keyring = snapshot.keyring;
  const status: AuthStatus = {
    version: 1,
    state: snapshot.active ? "logged_in" : snapshot.unknown ? "unknown" : "not_logged_in",
    logged_in: !!snapshot.active,
    store: {
      mode: store.mode.mode,
      mode_source: store.mode.source,
      keychain: keyring.state === "read" ? "ok" : keyring.state,
    },
    pending: pendingText(snapshot),
    warnings: snapshot.notices.filter((n) => n.level === "warning").map((n) => n.text),
  };
  if (keyring.state === "unavailable" || keyring.state === "unreadable") {
    status.store.keychain_error = keyring.error.message;
    status.store.keychain_hint = keyringHint(keyring.error);
  }
  const now = ctx.clock.now();
  const active = snapshot.active;
  if (active) {
    status.source = "store";
    describeCredential(status, active.auth, now);
    const location = active.location;
    status.store.location = location.kind;
    if (location.kind === "keyring") {
      status.store.backend = location.backend;
      status.store.service = location.service;
      status.store.account = location.account;
    } else if (location.kind === "file" || location.kind === "legacy-file") {
      status.store.path = location.path;
    }
  }
  const fromEnv = options.env === false ? undefined : apiKeyFromEnv(ctx);
  if (fromEnv) {
    if (active) {
      status.warnings.push(
        `${fromEnv.name} is set: cdx run uses it instead of the stored credentials`,
      );
    }
    for (const key of Object.keys(status) as (keyof AuthStatus)[]) {
      if (
        ["email", "subject", "plan", "account_id", "issuer", "client_id", "last_refresh"].includes(
          key,
        )
      ) {
        delete status[key];
      }
    }
    delete status.access_token_expires_at;
    delete status.access_token_expired;
    status.state = "logged_in";
    status.logged_in = true;
    status.source = "env";
    status.env_var = fromEnv.name;
    status.auth_mode = "apikey";
    status.api_key = maskApiKey(fromEnv.value);
  }
  // Who and when first, where and what-else last (JSON key order).
  const { store: where, pending, warnings, ...who } = status;
  return { ...who, store: where, pending, warnings };
}
