/**
 * Redaction of text before it is printed or kept anywhere (stderr, logs,
 * feedback bundles): the exact values of every
 * secret the process has handled (from the Context's `SecretRegistry`), then
 * patterns for secrets cdx never saw (JWTs, `Bearer …`, `sk-…` keys,
 * Authorization / Cookie headers, token fields of JSON and form bodies).
 *
 * @module
 */
import type { SecretRegistry } from "./secrets.ts";

/** The mask that replaces a secret. */
export const MASK = "[REDACTED]";

/** Field names whose values are secrets in JSON bodies, form bodies and `NAME=value` text. */
export const SECRET_FIELDS: readonly string[] = [
  "access_token",
  "refresh_token",
  "id_token",
  "device_auth_id",
  "device_code",
  "user_code",
  "code_verifier",
  "authorization_code",
  "OPENAI_API_KEY",
  "CODEX_API_KEY",
  "CODEX_ACCESS_TOKEN",
  "api_key",
  "apikey",
  "client_secret",
  "password",
  "secret",
  "token",
];

/** Header names whose whole value is a secret. */
export const SECRET_HEADERS: readonly string[] = [
  "proxy-authorization",
  "authorization",
  "set-cookie",
  "cookie",
  "x-api-key",
  "api-key",
  "openai-api-key",
  "x-sentry-auth",
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\\/-]/g, "\\$&");
}

const alternatives = (names: readonly string[]) => names.map(escapeRegExp).join("|");

/**
 * One pass over the text for every pattern. Groups `p1`…`p5` capture what
 * is kept (the field name, the header name, the scheme); the rest is masked.
 */
/** An optional quote, possibly escaped (JSON inside a JSON string): `"`, `\"`, `\\\"`. */
const Q = String.raw`(?:\\*["'])?`;
const FIELDS = alternatives(SECRET_FIELDS);

const PATTERN = new RegExp(
  [
    // JWT: three base64url segments, the first one a JSON object ("eyJ").
    String.raw`\beyJ[\w-]{2,}\.[\w-]{2,}\.[\w-]*`,
    // OpenAI-style API keys (sk-…, sk-proj-…).
    String.raw`\bsk-[\w-]{8,}`,
    // Headers: `Authorization: …`, `"cookie":"…"`, `set-cookie=…` up to the end of the value.
    String.raw`(?<p1>\b(?:${alternatives(SECRET_HEADERS)})${Q}\s*[:=]\s*${Q})[^\r\n"'\\]+`,
    // `Bearer <token>` anywhere (a header value logged on its own).
    String.raw`(?<p2>\bbearer\s+)[\w\-.~+/]{8,}=*`,
    // Token fields with a quoted value, masked up to the closing quote: `"access_token": "…"`.
    String.raw`(?<p3>\b(?:${FIELDS})${Q}\s*[:=]\s*\\*")(?!\[REDACTED\])[^"\\\r\n]+`,
    // Token fields with a bare value: `refresh_token=…&`, `OPENAI_API_KEY=…`.
    String.raw`(?<p5>\b(?:${FIELDS})${Q}\s*[:=]\s*'?)` +
    String.raw`(?!null\b|\[REDACTED\])[^"'\s&,;}\]\\]+`,
    // The authorization code of an OAuth exchange: `?code=…`, `&code=…`, `"code": "…"`.
    String.raw`(?<p4>[?&]code=|\bcode\\*"\s*:\s*\\*")[^&\s"'\\]+`,
  ].join("|"),
  "gi",
);

/**
 * Words (any case) of which every pattern match contains at least one. Most
 * log lines contain none, and looking for them is several times cheaper than
 * the full pattern; keep this list in step with {@linkcode PATTERN}.
 */
const TRIGGERS = [
  "eyj",
  "sk-",
  "bearer",
  "authoriz",
  "cookie",
  "api-key",
  "sentry-auth",
  "token",
  "device_auth",
  "code",
  "api_key",
  "apikey",
  "secret",
  "password",
];

/** One scan for any trigger word (no lowercased copy: no garbage per record). */
const TRIGGER = new RegExp(alternatives(TRIGGERS), "i");

/** Masks every pattern-recognised secret in `text`. */
export function redactPatterns(text: string): string {
  if (!TRIGGER.test(text)) return text;
  PATTERN.lastIndex = 0;
  return text.replace(PATTERN, replaceMatch);
}

function replaceMatch(...args: unknown[]): string {
  const groups = args[args.length - 1] as Record<string, string | undefined>;
  const keep = groups.p1 ?? groups.p2 ?? groups.p3 ?? groups.p4 ?? groups.p5 ?? "";
  return keep + MASK;
}

/**
 * Exact-value and pattern redaction. Values registered with the Context's
 * `SecretRegistry` (now or later) are masked wherever they appear.
 *
 * @example
 * ```ts
 * const redactor = new Redactor(ctx.secrets);
 * redactor.redact("Authorization: Bearer abc.def.ghi"); // "Authorization: [REDACTED]"
 * ```
 */
export class Redactor {
  #values: string[] = [];
  /** All values as one alternation, longest first: one scan instead of one per value. */
  #matcher?: RegExp;
  #unsubscribe?: () => void;

  constructor(secrets?: SecretRegistry) {
    this.#unsubscribe = secrets?.subscribe((value) => this.addValue(value));
  }

  /** Adds an exact value to mask (longest values are masked first). */
  addValue(value: string): void {
    if (!value || this.#values.includes(value)) return;
    this.#values.push(value);
    this.#values.sort((a, b) => b.length - a.length);
    this.#matcher = new RegExp(this.#values.map(escapeRegExp).join("|"), "g");
  }

  /** The exact values known, longest first. */
  get values(): readonly string[] {
    return this.#values;
  }

  /** Masks the known exact values only. */
  redactValues(text: string): string {
    const matcher = this.#matcher;
    if (!matcher) return text;
    matcher.lastIndex = 0;
    if (!matcher.test(text)) return text;
    matcher.lastIndex = 0;
    return text.replace(matcher, MASK);
  }

  /** Masks known exact values, then every pattern. */
  redact(text: string): string {
    return redactPatterns(this.redactValues(text));
  }

  /** Stops following the registry. */
  dispose(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}

/** Option names whose next argument (or `=value`) is a secret. */
const SECRET_OPTION =
  /^--?[\w-]*(?:token|secret|password|passwd|api-key|apikey|key|code|verifier|cookie|auth)$/i;
/** Flags that name a secret but take no value (`--with-api-key` reads stdin). */
const VALUELESS_FLAG = /^--?with-/i;

/**
 * The command line with secret-bearing option values masked (`--token X`,
 * `--api-key=X`), then redacted like log text.
 *
 * @example
 * ```ts
 * maskArgv(["login", "--token", "abc123"], redactor); // ["login", "--token", "[REDACTED]"]
 * ```
 */
export function maskArgv(argv: readonly string[], redactor: Redactor): string[] {
  const out: string[] = [];
  let maskNext = false;
  for (const arg of argv) {
    if (maskNext) {
      out.push(MASK);
      maskNext = false;
      continue;
    }
    const eq = arg.indexOf("=");
    if (arg.startsWith("-") && eq > 0 && SECRET_OPTION.test(arg.slice(0, eq))) {
      out.push(`${arg.slice(0, eq)}=${MASK}`);
      continue;
    }
    if (arg.startsWith("-") && eq < 0 && SECRET_OPTION.test(arg) && !VALUELESS_FLAG.test(arg)) {
      maskNext = true;
    }
    out.push(redactor.redact(arg));
  }
  return out;
}
