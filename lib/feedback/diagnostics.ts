/**
 * What `cdx feedback` reports about the machine, without a secret: keychain
 * backend health, the *names* of proxy variables that are set, config.toml
 * with secret values masked, auth mode and credential store kind.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { MASK, type Redactor } from "../redact.ts";

/** Proxy variables codex reports (names only). */
export const PROXY_VARIABLES: readonly string[] = [
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "ALL_PROXY",
  "all_proxy",
  "NO_PROXY",
  "no_proxy",
];

/** The proxy variables that are set (names only, never values). */
export function proxyVariablesSet(env: Context["env"]): string[] {
  return PROXY_VARIABLES.filter((name) => (env.get(name) ?? "") !== "");
}

/** The keychain backend, or why there is none. Never throws. */
export function keychainHealth(ctx: Pick<Context, "keyring">): string {
  try {
    return `available: ${ctx.keyring().describe()}`;
  } catch (error) {
    const hint = (error as { hint?: unknown }).hint;
    return `unavailable: ${error instanceof Error ? error.message : String(error)}${
      typeof hint === "string" ? ` (${hint})` : ""
    }`;
  }
}

const SECRET_KEY =
  /(key|token|secret|password|passwd|pwd|dsn|cookie|bearer|authorization|credential|private|session)/i;
/** Keys that look secret by name but hold harmless settings worth seeing. */
const NOT_SECRET_KEYS = new Set(["cli_auth_credentials_store", "preferred_auth_method"]);
const ASSIGNMENT = /^(\s*(?:"([^"]+)"|'([^']+)'|([\w.-]+))\s*=\s*)(["'].*)$/;

/**
 * config.toml with the string values of secret-looking keys masked, then
 * redacted like log text (exact values and patterns). Comments and layout stay.
 */
export function maskConfigToml(text: string, redactor: Redactor): string {
  const lines = text.split("\n").map((line) => {
    const match = ASSIGNMENT.exec(line);
    if (!match) return line;
    const key = (match[2] ?? match[3] ?? match[4]).split(".").pop()!;
    if (NOT_SECRET_KEYS.has(key) || !SECRET_KEY.test(key)) return line;
    return `${match[1]}"${MASK}"`;
  });
  return redactor.redact(lines.join("\n"));
}

/** Auth facts safe to share. */
export interface AuthSummary {
  /** `apikey`, `chatgpt`, `none` (no credentials found) or `unknown`. */
  mode: string;
  /** Credential store kind: `file`, `keyring`, `auto` or `ephemeral`. */
  store: string;
}

/**
 * Auth mode and store kind. The mode comes from a `auth_mode` feedback tag
 * when a command logged one, else from auth.json's `auth_mode` field (every
 * string in the file is registered as a secret before anything else).
 */
export async function authSummary(
  ctx: Pick<Context, "env" | "config" | "globals" | "secrets">,
  tags: Record<string, string>,
): Promise<AuthSummary> {
  const configured = ctx.config.values.cli_auth_credentials_store;
  const store = ctx.env.get("CDX_CREDENTIALS_STORE") ??
    (typeof configured === "string" ? configured : "file");
  if (tags.auth_mode) return { mode: tags.auth_mode, store };
  let text: string;
  try {
    text = await Deno.readTextFile(`${ctx.globals.codexHome.replace(/[\\/]+$/, "")}/auth.json`);
  } catch {
    return { mode: store === "file" ? "none" : "unknown", store };
  }
  try {
    const auth = JSON.parse(text) as Record<string, unknown>;
    registerStrings(auth, ctx.secrets);
    const mode = typeof auth.auth_mode === "string"
      ? auth.auth_mode
      : typeof auth.OPENAI_API_KEY === "string"
      ? "apikey"
      : auth.tokens
      ? "chatgpt"
      : "unknown";
    return { mode, store };
  } catch {
    return { mode: "unknown", store };
  }
}

function registerStrings(value: unknown, secrets: Context["secrets"]): void {
  if (typeof value === "string") secrets.register(value);
  else if (value && typeof value === "object") {
    for (const v of Object.values(value)) registerStrings(v, secrets);
  }
}

/** What {@linkcode diagnosticsText} needs besides the Context. */
export interface DiagnosticsInput {
  redactor: Redactor;
  auth: AuthSummary;
  /** e.g. "on (cap 8 MiB)" or "off (CDX_LOG_PERSIST=0)". */
  persistence: string;
  /** Size of cdx.log and how many invocations it holds. */
  logSummary: string;
  denoVersion: string;
  arch: string;
  osRelease?: string;
}

/** The text of `diagnostics.txt`. */
export function diagnosticsText(
  ctx: Pick<Context, "env" | "config" | "globals" | "keyring" | "version" | "os">,
  input: DiagnosticsInput,
): string {
  const proxies = proxyVariablesSet(ctx.env);
  const config = ctx.config.text === undefined
    ? "  (no config.toml)"
    : indent(maskConfigToml(ctx.config.text, input.redactor));
  return [
    "cdx diagnostics",
    "",
    `cdx version:      ${ctx.version}`,
    `deno:             ${input.denoVersion}`,
    `os:               ${ctx.os} ${input.arch}${input.osRelease ? ` (${input.osRelease})` : ""}`,
    `codex home:       ${ctx.globals.codexHome}`,
    `auth mode:        ${input.auth.mode}`,
    `credential store: ${input.auth.store}`,
    `log persistence:  ${input.persistence}`,
    `cdx.log:          ${input.logSummary}`,
    "",
    "keychain",
    `  ${keychainHealth(ctx)}`,
    "",
    "proxy variables set (names only)",
    proxies.length ? proxies.map((n) => `  ${n}`).join("\n") : "  (none)",
    "",
    `config.toml (${ctx.config.path || "not loaded"}; secret values masked)`,
    config,
    "",
  ].join("\n");
}

function indent(text: string): string {
  return text.replace(/\n$/, "").split("\n").map((l) => `  ${l}`).join("\n");
}
