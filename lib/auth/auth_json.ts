/**
 * The `auth.json` model, exactly as codex writes and reads it: field order,
 * `auth_mode` resolution, pretty JSON without a trailing newline, unknown
 * fields kept. Plus the legacy `device_code_tokens.json` reader.
 *
 * It is longer than 300 lines because the record's types, its codex-exact
 * serialization and parsing are one data model, read and written together.
 *
 * @module
 */
import { CdxError } from "../errors.ts";

/** `tokens.oauth_provenance` (codex 0.169.0): who issued the tokens. */
export interface OAuthProvenance {
  /** Issuer URL that granted the tokens; refresh and revoke go to its endpoints. */
  issuer: string;
  /** OAuth client id the tokens were issued to (sent with refresh and revoke). */
  client_id: string;
  /** Other keys a newer codex may add; kept when cdx rewrites the record. */
  [key: string]: unknown;
}

/** `tokens` of a ChatGPT login. */
export interface TokenData {
  /** Raw OpenID Connect ID token (JWT) carrying the email, plan and account claims. */
  id_token: string;
  /** Bearer access token (JWT); its `exp` decides when a refresh is due. */
  access_token: string;
  /** Opaque refresh token, exchanged at the issuer for new tokens. */
  refresh_token: string;
  /** ChatGPT account id (ID token claim `chatgpt_account_id`), null if unknown; kept by refresh. */
  account_id?: string | null;
  /** Who issued the tokens; absent in files written before codex 0.169.0. */
  oauth_provenance?: OAuthProvenance;
  /** Opaque 43-char base64url value codex 0.169.0 device login writes; treated as a secret. */
  login_owner_id?: string;
  /** Other token fields a newer codex may add; kept on rewrite. */
  [key: string]: unknown;
}

/** The content of auth.json (and of the keychain item). Unknown keys are kept. */
export interface AuthData {
  /** `"apikey"`, `"chatgpt"` or a newer codex mode; when absent see {@linkcode resolveAuthMode}. */
  auth_mode?: string;
  /** The API key in API-key mode; written as `null` in ChatGPT mode. */
  OPENAI_API_KEY?: string | null;
  /** The OAuth tokens of a ChatGPT login; absent in API-key mode. */
  tokens?: TokenData;
  /** When the tokens were last refreshed, RFC 3339 UTC with nanoseconds; absent in API-key mode. */
  last_refresh?: string;
  /** Other top-level keys (e.g. `agent_identity`); kept on rewrite. */
  [key: string]: unknown;
}

/** Where a credential was found or saved. */
export type AuthLocation =
  | { kind: "keyring"; backend: string; service: string; account: string }
  | { kind: "file"; path: string }
  | { kind: "legacy-file"; path: string }
  | { kind: "memory" };

/** A credential and where it is. */
export interface StoredAuth {
  /** The parsed record. */
  auth: AuthData;
  /** The keychain item or file it was read from (or saved to). */
  location: AuthLocation;
}

/** File names inside CODEX_HOME. */
export const AUTH_FILE = "auth.json";
/** The legacy token file some older tools left in CODEX_HOME. */
export const LEGACY_TOKEN_FILE = "device_code_tokens.json";

const TOP_ORDER = [
  "auth_mode",
  "OPENAI_API_KEY",
  "tokens",
  "last_refresh",
  "agent_identity",
  "personal_access_token",
];
// The order codex 0.169.0 writes (observed: account_id comes last).
const TOKEN_ORDER = [
  "id_token",
  "access_token",
  "refresh_token",
  "oauth_provenance",
  "login_owner_id",
  "account_id",
];

function ordered(value: Record<string, unknown>, order: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of order) if (value[key] !== undefined) out[key] = value[key];
  for (const [key, v] of Object.entries(value)) {
    if (!(key in out) && v !== undefined) out[key] = v;
  }
  return out;
}

/** The object in codex's key order (known keys first, unknown keys after, in their order). */
export function canonicalAuth(auth: AuthData): Record<string, unknown> {
  const top = ordered(auth, TOP_ORDER);
  if (auth.tokens) top.tokens = ordered(auth.tokens, TOKEN_ORDER);
  return top;
}

/**
 * auth.json text as codex writes it: 2-space pretty JSON, no trailing newline.
 *
 * @example
 * ```ts
 * serializeAuthFile({ auth_mode: "apikey", OPENAI_API_KEY: "sk-x" });
 * // '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-x"\n}'
 * ```
 */
export function serializeAuthFile(auth: AuthData): string {
  return JSON.stringify(canonicalAuth(auth), null, 2);
}

/** The keychain value: the same object as compact JSON. */
export function serializeAuthCompact(auth: AuthData): string {
  return JSON.stringify(canonicalAuth(auth));
}

/** auth.json (or keychain value) is not what codex writes. */
export class AuthFormatError extends CdxError {
  /** `message` names the file or keychain item and what is wrong, never its content. */
  constructor(message: string) {
    super(message, {
      hint: "fix or remove the file (or keychain item), then run `cdx login` again",
    });
    this.name = "AuthFormatError";
  }
}

/**
 * Largest credential record (auth.json, keychain value, refresh answer) cdx
 * reads or stores: real ones are a few KiB, a huge one costs seconds and GBs.
 * Above the largest keychain item (1 MiB), so whatever it holds reads back.
 */
export const MAX_AUTH_BYTES = 4 * 1024 * 1024;

/**
 * Where in `text` JSON.parse stopped, as "line L, column C" — never a
 * snippet of the text (V8's message quotes it, and the text holds tokens).
 */
export function jsonErrorPosition(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : "";
  const m = /position (\d+)/.exec(message);
  if (!m) return /end of JSON/i.test(message) ? "it ends too early" : "an unexpected character";
  const position = Math.min(Number(m[1]), text.length);
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  const column = position - before.lastIndexOf("\n");
  return `at line ${line}, column ${column}`;
}

/** Parses auth.json text (pretty or compact, with or without trailing newline). */
export function parseAuth(text: string, where: string): AuthData {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AuthFormatError(`${where} is not valid JSON (${jsonErrorPosition(error, text)})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new AuthFormatError(`${where} does not hold a JSON object`);
  }
  const auth = value as AuthData;
  if (auth.tokens !== undefined && auth.tokens !== null) {
    const t = auth.tokens;
    for (const key of ["id_token", "access_token", "refresh_token"] as const) {
      if (typeof t[key] !== "string") {
        throw new AuthFormatError(`${where}: tokens.${key} is missing`);
      }
    }
  } else if (auth.tokens === null) {
    delete auth.tokens;
  }
  return auth;
}

/**
 * codex's `auth_mode` resolution: the field when present, else API key when
 * the file holds a key (a legacy file with both resolves to API key), else
 * ChatGPT. Unknown newer modes come back as they are.
 */
export function resolveAuthMode(auth: AuthData): string {
  if (typeof auth.auth_mode === "string") return auth.auth_mode;
  if (typeof auth.OPENAI_API_KEY === "string" && auth.OPENAI_API_KEY !== "") return "apikey";
  return "chatgpt";
}

/** Whether `auth` is a managed ChatGPT token that logout revokes. */
export function isRevocable(auth: AuthData): boolean {
  return resolveAuthMode(auth) === "chatgpt" && auth.tokens !== undefined;
}

/** Whether `auth` holds anything usable (an API key or tokens). */
export function hasCredentials(auth: AuthData | undefined): auth is AuthData {
  if (!auth) return false;
  return (typeof auth.OPENAI_API_KEY === "string" && auth.OPENAI_API_KEY !== "") ||
    auth.tokens !== undefined;
}

/** The API-key auth.json codex writes: `{"auth_mode":"apikey","OPENAI_API_KEY":"<key>"}`. */
export function apiKeyAuth(apiKey: string): AuthData {
  return { auth_mode: "apikey", OPENAI_API_KEY: apiKey };
}

/** RFC 3339 UTC with nanoseconds, as codex writes `last_refresh`. */
export function formatLastRefresh(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-26T06:52:42.960Z
  return iso.replace(/\.(\d{3})Z$/, ".$1000000Z");
}

/** A ChatGPT auth record as codex's device login saves it. */
export function chatgptAuth(tokens: TokenData, nowMs: number): AuthData {
  return {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens,
    last_refresh: formatLastRefresh(nowMs),
  };
}

/** Every secret string inside `auth` (to register with the SecretRegistry). */
export function authSecrets(auth: AuthData | undefined): string[] {
  if (!auth) return [];
  const out: string[] = [];
  if (typeof auth.OPENAI_API_KEY === "string") out.push(auth.OPENAI_API_KEY);
  if (auth.tokens) {
    out.push(auth.tokens.id_token, auth.tokens.access_token, auth.tokens.refresh_token);
    if (typeof auth.tokens.login_owner_id === "string") out.push(auth.tokens.login_owner_id);
  }
  for (const key of ["agent_identity", "personal_access_token"]) {
    if (typeof auth[key] === "string") out.push(auth[key] as string);
  }
  return out.filter((s) => typeof s === "string" && s !== "");
}

/** `last_refresh` in ms, when present and parsable. */
export function lastRefreshMs(auth: AuthData | undefined): number | undefined {
  if (typeof auth?.last_refresh !== "string") return undefined;
  const ms = Date.parse(auth.last_refresh);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Of two differing copies (the keychain's and auth.json's), the one to keep:
 * the keychain copy only when its `last_refresh` is strictly newer; otherwise
 * the file. A file next to a keychain item is almost always the newer copy —
 * a keychain that failed on save, or codex falling back to the file — so the
 * file wins ties and records without a date (API keys).
 *
 * @example
 * ```ts
 * newerCopy(keychainAuth, fileAuth); // "file" unless the keychain copy was refreshed later
 * ```
 */
export function newerCopy(keychain: AuthData, file: AuthData): "keychain" | "file" {
  const k = lastRefreshMs(keychain);
  const f = lastRefreshMs(file);
  return k !== undefined && (f === undefined || k > f) ? "keychain" : "file";
}

/** Registers every secret inside `auth` for masking. */
export function registerAuth(
  secrets: { register(value: string): void },
  auth: AuthData | undefined,
): void {
  for (const secret of authSecrets(auth)) secrets.register(secret);
}

/** Whether two records hold the same credentials (what a read-back must confirm). */
export function sameAuth(a: AuthData | undefined, b: AuthData | undefined): boolean {
  if (!a || !b) return a === b;
  return serializeAuthCompact(a) === serializeAuthCompact(b);
}

/**
 * Converts the legacy `device_code_tokens.json` (token fields such as
 * `id_token`, `access_token`, `refresh_token`, `account_id`, `expiry`; some
 * nest them under `tokens`) into an auth.json record. Undefined when the file
 * holds no usable token.
 */
export function parseLegacyTokens(text: string, where: string): AuthData | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AuthFormatError(`${where} is not valid JSON (${jsonErrorPosition(error, text)})`);
  }
  if (value === null || typeof value !== "object") return undefined;
  let record = value as Record<string, unknown>;
  if (record.tokens && typeof record.tokens === "object") {
    record = { ...record, ...(record.tokens as Record<string, unknown>) };
  }
  const str = (key: string) => typeof record[key] === "string" ? record[key] as string : undefined;
  const access = str("access_token");
  const refresh = str("refresh_token");
  const id = str("id_token");
  const apiKey = str("OPENAI_API_KEY") ?? str("api_key");
  if (!access && !refresh) return apiKey ? apiKeyAuth(apiKey) : undefined;
  const tokens: TokenData = {
    id_token: id ?? "",
    access_token: access ?? "",
    refresh_token: refresh ?? "",
    account_id: str("account_id") ?? null,
  };
  const auth: AuthData = { auth_mode: "chatgpt", OPENAI_API_KEY: null, tokens };
  const lastRefresh = str("last_refresh");
  if (lastRefresh) auth.last_refresh = lastRefresh;
  return auth;
}
