/**
 * Pattern redaction: secrets cdx never saw, recognised by their shape (JWTs,
 * `Bearer …`, `sk-…` keys, credential headers, token fields of JSON and form
 * bodies and `NAME=value` text). A leaf module: the exact values the process
 * handled are masked by `SecretRegistry` (lib/secrets.ts), which calls
 * {@linkcode redactPatterns} after its own pass.
 *
 * Every rule carries the words of which each of its matches contains at
 * least one; the cheap prefilter is built from them, so a field added to
 * {@linkcode SECRET_FIELDS} is covered by the prefilter with no second list
 * to keep in step.
 *
 * @module
 */

/** The mask that replaces a secret. */
export const MASK = "[REDACTED]";

/**
 * Field names whose values are secrets in JSON bodies, form bodies, header
 * lines and `NAME=value` text. A name also matches after `_` or `-`
 * (`STRIPE_SECRET_KEY`, `GITHUB_TOKEN`), in any case.
 */
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
  "secret_key",
  "private_key",
  "password",
  "passwd",
  "passphrase",
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

/** One alternative of the pattern and the words every one of its matches contains. */
interface Rule {
  source: string;
  triggers: readonly string[];
}

/** An optional quote, possibly escaped (JSON inside a JSON string): `"`, `\"`, `\\\"`. */
const Q = String.raw`(?:\\*["'])?`;
/** A field name, also after `_` or `-` (`MY_API_KEY`), so env dumps are covered too. */
const FIELD = String.raw`(?<![A-Za-z0-9])(?:${alternatives(SECRET_FIELDS)})`;

/**
 * Groups `p1`…`p5` capture what is kept (the field name, the header name,
 * the scheme); the rest of a match is masked.
 */
const RULES: readonly Rule[] = [
  // JWT: three base64url segments, the first one a JSON object ("eyJ").
  { source: String.raw`\beyJ[\w-]{2,}\.[\w-]{2,}\.[\w-]*`, triggers: ["eyJ"] },
  // OpenAI-style API keys (sk-…, sk-proj-…).
  { source: String.raw`\bsk-[\w-]{8,}`, triggers: ["sk-"] },
  // Headers: `Authorization: …`, `"cookie":"…"`, `set-cookie=…` up to the end of the value.
  {
    source: String.raw`(?<p1>(?<![A-Za-z0-9])(?:${
      alternatives(SECRET_HEADERS)
    })${Q}\s*[:=]\s*${Q})[^\r\n"'\\]+`,
    triggers: SECRET_HEADERS,
  },
  // `Bearer <token>` anywhere (a header value logged on its own).
  { source: String.raw`(?<p2>\bbearer\s+)[\w\-.~+/]{8,}=*`, triggers: ["bearer"] },
  // Token fields with a quoted value, masked up to the closing quote: `"access_token": "…"`.
  {
    source: String.raw`(?<p3>${FIELD}${Q}\s*[:=]\s*\\*")(?!\[REDACTED\])[^"\\\r\n]+`,
    triggers: SECRET_FIELDS,
  },
  // Token fields with a bare value: `refresh_token=…&`, `OPENAI_API_KEY=…`, `password: …`.
  {
    source: String.raw`(?<p5>${FIELD}${Q}\s*[:=]\s*'?)` +
      String.raw`(?!null\b|\[REDACTED\])[^"'\s&,;}\]\\]+`,
    triggers: SECRET_FIELDS,
  },
  // The authorization code of an OAuth exchange: `?code=…`, `&code=…`, `"code": "…"`.
  {
    source: String.raw`(?<p4>[?&]code=|\bcode\\*"\s*:\s*\\*")[^&\s"'\\]+`,
    // Not bare "code": every `codex_home=` log line would run the whole pattern.
    triggers: ["code=", 'code"', "code\\"],
  },
];

const PATTERN = new RegExp(RULES.map((r) => r.source).join("|"), "gi");

/**
 * The prefilter's words: every rule's triggers, lowercased, without those
 * that contain a shorter one (`access_token` is covered by `token`).
 */
export const TRIGGER_WORDS: readonly string[] = (() => {
  const words = [...new Set(RULES.flatMap((r) => r.triggers.map((t) => t.toLowerCase())))];
  return words.filter((w) => !words.some((other) => other !== w && w.includes(other))).sort();
})();

/** One scan for any trigger word (no lowercased copy: no garbage per record). */
const TRIGGER = new RegExp(alternatives(TRIGGER_WORDS), "i");

/**
 * Masks every pattern-recognised secret in `text`, keeping the field or
 * header name visible.
 *
 * @example
 * ```ts
 * redactPatterns("Authorization: Bearer abcdefghijklmnop"); // "Authorization: [REDACTED]"
 * redactPatterns("passphrase=hunter2hunter2"); // "passphrase=[REDACTED]"
 * ```
 */
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
