/**
 * What `cdx feedback` reports about the machine, without a secret: the
 * keychain as a real probe finds it, the store and auth mode as the commands
 * resolve them, the *names* of proxy variables that are set, and config.toml
 * with secret values masked by structure.
 *
 * @module
 */
import { parse, stringify } from "smol-toml";
import type { Context } from "../context.ts";
import { MASK } from "../redact.ts";
import type { SecretRegistry } from "../secrets.ts";
import { authStatus } from "../auth/mod.ts";

/** Proxy variables codex reports (names only). */
const PROXY_VARIABLES: readonly string[] = [
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "ALL_PROXY",
  "all_proxy",
  "NO_PROXY",
  "no_proxy",
];

/**
 * The proxy variables that are set (names only, never values).
 *
 * @example
 * ```ts
 * proxyVariablesSet(mapEnv({ HTTPS_PROXY: "http://u:p@proxy:3128" })); // ["HTTPS_PROXY"]
 * ```
 */
export function proxyVariablesSet(env: Context["env"]): string[] {
  return PROXY_VARIABLES.filter((name) => (env.get(name) ?? "") !== "");
}

/** Keys whose scalar string value is a secret, at any depth. */
const SECRET_KEY =
  /(key|token|secret|password|passwd|passphrase|pwd|dsn|cookie|bearer|authorization|credential|private|session|signature)/i;
/** Keys that look secret by name but hold harmless settings worth seeing. */
const NOT_SECRET_KEYS = new Set(["cli_auth_credentials_store", "preferred_auth_method"]);
/** Tables and arrays whose every value is masked: environments, headers, arguments. */
const SECRET_CONTAINER = /(?:^|_)(?:env|environment|headers?|args|argv|arguments|params|set)$/i;
/** `scheme://user:password@` anywhere in a string. */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
/** A query parameter whose value is a secret by its name. */
const SECRET_QUERY =
  /([?&][^=&#\s]*(?:key|token|secret|sig|signature|auth|code|password)[^=&#\s]*=)[^&#\s"']*/gi;

function isSecretKey(key: string): boolean {
  return !NOT_SECRET_KEYS.has(key) && SECRET_KEY.test(key);
}

/** URL user information and secret-named query values masked, wherever they occur in `text`. */
function maskUrls(text: string): string {
  return text.replace(USERINFO, `$1${MASK}@`).replace(SECRET_QUERY, `$1${MASK}`);
}

/** The parsed config with every secret-bearing value masked (see {@linkcode maskConfigToml}). */
function maskValue(value: unknown, key: string, inContainer: boolean): unknown {
  if (typeof value === "string") {
    return inContainer || isSecretKey(key) ? MASK : maskUrls(value);
  }
  if (Array.isArray(value)) return value.map((v) => maskValue(v, key, inContainer));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const inside = inContainer || SECRET_CONTAINER.test(key);
    return Object.fromEntries(
      Object.entries(value).map((
        [k, v],
      ) => [k, maskValue(v, k, inside || SECRET_CONTAINER.test(k))]),
    );
  }
  return value;
}

/** Unparsable TOML: table headers and numbers/booleans stay; every other value and comment goes. */
function maskUnparsed(text: string): string {
  return text.split("\n").map((line) => {
    const trimmed = line.trim();
    if (trimmed === "" || /^\[\[?[\w.\-"' ]+\]\]?$/.test(trimmed)) return line;
    if (trimmed.startsWith("#")) return "# (comment left out)";
    const assignment = /^(\s*[\w.\-"' ]+?\s*=\s*)(.*)$/.exec(line);
    if (!assignment) return MASK;
    return /^(true|false|[+-]?\d[\d_.eE+-]*)$/.test(assignment[2].trim())
      ? line
      : `${assignment[1]}"${MASK}"`;
  }).join("\n");
}

/**
 * config.toml as diagnostics show it, masked by structure, not by key name
 * alone: every value under an env/headers/args-like table or array
 * (`env = { STRIPE_SECRET_KEY = … }`, `args = ["--api-key", …]`), every URL's
 * user information, every string whose key looks secret at any depth; then
 * the exact values and patterns of `secrets`. The TOML is re-serialised
 * (comments are left out: they can hold anything). Text that does not parse
 * keeps only its table headers, keys, numbers and booleans.
 *
 * @example
 * ```ts
 * maskConfigToml('[mcp_servers.x]\nenv = { TOKEN = "abc" }\n', secrets);
 * // '[mcp_servers.x]\nenv = { TOKEN = "[REDACTED]" }\n'
 * ```
 */
export function maskConfigToml(text: string, secrets: Pick<SecretRegistry, "redact">): string {
  let values: Record<string, unknown>;
  try {
    values = parse(text) as Record<string, unknown>;
  } catch {
    return secrets.redact(maskUrls(maskUnparsed(text)));
  }
  let out: string;
  try {
    out = stringify(maskValue(values, "", false));
  } catch {
    out = maskUnparsed(text);
  }
  return secrets.redact(maskUrls(out));
}

/** Auth facts safe to share: what `cdx login status` says, from the same function. */
export interface AuthSummary {
  /**
   * `apikey` or `chatgpt` (logged in), `none` (nothing stored), or `unknown`
   * (the keychain could not be read).
   */
  mode: string;
  /** Where the active credential comes from: `env` (an API-key variable) or `store`. */
  source?: string;
  /** The variable holding it, when `source` is `env` (its name, never its value). */
  envVar?: string;
  /** The effective store mode: `file`, `keyring`, `auto` or `ephemeral`. */
  store: string;
  /** Where the mode came from: `option`, `env`, `config` or `default`. */
  storeSource: string;
  /** Where the stored credentials were found (`keyring`, `file`, …). */
  location?: string;
  /**
   * What reading the keychain answered: `ok: <backend>`, `unused` (the
   * mode does not use it), `unavailable: …` or `unreadable: …` (locked, not
   * answering).
   */
  keychain: string;
}

/**
 * The auth facts of the report, from lib/auth's read-only `authStatus` —
 * the function behind `cdx login status` — so the two never disagree: the
 * store mode of the commands' resolver, the stored credentials (or the
 * API-key variable `cdx run` would use), and what a real keychain read
 * answered. Writes nothing; every value read is registered as a secret by
 * lib/auth.
 *
 * @example
 * ```ts
 * const auth = await describeAuthForReport(ctx); // { mode: "chatgpt", store: "auto", … }
 * ```
 */
export async function describeAuthForReport(ctx: Context): Promise<AuthSummary> {
  const status = await authStatus(ctx);
  const keychain = status.store.keychain === "ok"
    ? `ok${status.store.backend ? `: ${status.store.backend}` : ""}`
    : status.store.keychain_error
    ? `${status.store.keychain}: ${status.store.keychain_error}${
      status.store.keychain_hint ? ` (${status.store.keychain_hint})` : ""
    }`
    : status.store.keychain;
  return {
    mode: status.state === "unknown"
      ? "unknown"
      : status.logged_in
      ? status.auth_mode ?? "unknown"
      : "none",
    source: status.source,
    envVar: status.env_var,
    store: status.store.mode,
    storeSource: status.store.mode_source,
    location: status.store.location,
    keychain,
  };
}

/** What {@linkcode diagnosticsText} needs besides the Context. */
export interface DiagnosticsInput {
  /** Masks every text of the report. */
  secrets: Pick<SecretRegistry, "redact">;
  /** Auth facts (see {@linkcode describeAuthForReport}). */
  auth: AuthSummary;
  /** e.g. "on (cap 8 MiB)" or "off (CDX_LOG_PERSIST=0)". */
  persistence: string;
  /** Size of cdx.log and how many invocations it holds. */
  logSummary: string;
  /** Deno's version. */
  denoVersion: string;
  /** CPU architecture. */
  arch: string;
  /** The OS release, when the permission allows reading it. */
  osRelease?: string;
}

/** The text of `diagnostics.txt` (redacted). */
export function diagnosticsText(
  ctx: Pick<Context, "env" | "config" | "globals" | "version" | "os">,
  input: DiagnosticsInput,
): string {
  const proxies = proxyVariablesSet(ctx.env);
  const { auth } = input;
  const config = ctx.config.text === undefined
    ? "  (no config.toml)"
    : indent(maskConfigToml(ctx.config.text, input.secrets));
  const text = [
    "cdx diagnostics",
    "",
    `cdx version:      ${ctx.version}`,
    `deno:             ${input.denoVersion}`,
    `os:               ${ctx.os} ${input.arch}${input.osRelease ? ` (${input.osRelease})` : ""}`,
    `codex home:       ${ctx.globals.codexHome}`,
    `auth mode:        ${auth.mode}${
      auth.source === "env"
        ? ` (from ${auth.envVar})`
        : auth.location
        ? ` (in ${auth.location})`
        : ""
    }`,
    `credential store: ${auth.store} (from ${auth.storeSource})`,
    `log persistence:  ${input.persistence}`,
    `cdx.log:          ${input.logSummary}`,
    "",
    "keychain",
    `  ${auth.keychain}`,
    "",
    "proxy variables set (names only)",
    proxies.length ? proxies.map((n) => `  ${n}`).join("\n") : "  (none)",
    "",
    `config.toml (${ctx.config.path || "not loaded"}; values under env, headers and args, ` +
    "URL passwords and secret-looking keys masked; comments left out)",
    config,
    "",
  ].join("\n");
  return input.secrets.redact(text);
}

function indent(text: string): string {
  return text.replace(/\n$/, "").split("\n").map((l) => l ? `  ${l}` : l).join("\n");
}
