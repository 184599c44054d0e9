/**
 * The one list of secret values this process has handled. Every secret cdx
 * reads or receives (API keys, tokens, device codes, verifiers) is registered
 * here at once; error messages, logs and feedback bundles pass through
 * {@linkcode SecretRegistry.redact} so the value never leaves the process.
 *
 * Redaction sits on every output path, so it must never throw and its cost
 * must not grow with what was registered: the values are found by hashed
 * windows (lib/secret_index.ts), never by a pattern built from them; every
 * value is masked where it occurs whole, and every run of 24 or more
 * characters of a registered token wherever it appears. Past
 * {@linkcode MAX_VALUES} values or {@linkcode MAX_TOTAL_CHARS} characters
 * the registry fails closed: every text becomes {@linkcode MASK_FAILED},
 * never printed raw.
 *
 * @module
 */
import { MASK, redactPatterns } from "./redact.ts";
import { SecretIndex } from "./secret_index.ts";

export { MASK };

/** Values shorter than this are not registered (too likely to match innocent text). */
export const MIN_SECRET_LENGTH = 6;
/** Most values the registry holds before it fails closed. */
export const MAX_VALUES = 10_000;
/** Most characters (all values together) the registry holds before it fails closed. */
export const MAX_TOTAL_CHARS = 8 * 1024 * 1024;
/** What a text becomes when it cannot be masked safely. */
export const MASK_FAILED = "[REDACTED: cdx could not mask this text safely]";

/**
 * Exact-value secret masking, then pattern masking (lib/redact.ts).
 *
 * @example
 * ```ts
 * const secrets = new SecretRegistry();
 * secrets.register("s3cret-value");
 * secrets.redact("got s3cret-value"); // "got [REDACTED]"
 * secrets.redact("Authorization: Bearer abcdefghijk"); // "Authorization: [REDACTED]"
 * ```
 */
export class SecretRegistry {
  #values = new Set<string>();
  #totalChars = 0;
  #failed = false;
  #index = new SecretIndex();

  /** Registers a secret (ignored when empty or too short to mask safely). */
  register(value: string | null | undefined): void {
    if (!value || typeof value !== "string") return;
    const trimmed = value.trim();
    for (const v of value === trimmed ? [value] : [value, trimmed]) {
      if (v.length < MIN_SECRET_LENGTH || this.#values.has(v)) continue;
      this.#values.add(v);
      this.#totalChars += v.length;
      if (this.#values.size > MAX_VALUES || this.#totalChars > MAX_TOTAL_CHARS) {
        // Forgetting a value would leak it; masking everything cannot.
        this.#failed = true;
        continue;
      }
      try {
        this.#index.add(v);
      } catch {
        this.#failed = true;
      }
    }
  }

  /** How many values are registered. */
  get size(): number {
    return this.#values.size;
  }

  /**
   * Replaces every registered value in `text` (and every run of 24 or more
   * characters of a registered token) by {@linkcode MASK}. Never throws: a
   * failure yields {@linkcode MASK_FAILED}.
   */
  redactValues(text: string): string {
    try {
      if (this.#failed) return failed(text);
      if (this.#index.empty || text.length < MIN_SECRET_LENGTH) return text;
      const ranges = this.#index.find(text);
      return ranges.length === 0 ? text : applyRanges(text, ranges);
    } catch {
      return failed(text);
    }
  }

  /**
   * Masks the registered values, then every secret the patterns of
   * lib/redact.ts recognise (JWTs, bearer tokens, `sk-…` keys, credential
   * headers and token fields). Never throws: a failure yields
   * {@linkcode MASK_FAILED}.
   */
  redact(text: string): string {
    try {
      return redactPatterns(this.redactValues(text));
    } catch {
      return failed(text);
    }
  }
}

/** `text` with the union of `ranges` (flat [start, end, …]) replaced by one mask each. */
function applyRanges(text: string, flat: number[]): string {
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < flat.length; i += 2) ranges.push([flat[i], flat[i + 1]]);
  ranges.sort((a, b) => a[0] - b[0]);
  let out = "";
  let at = 0;
  let i = 0;
  while (i < ranges.length) {
    let [start, end] = ranges[i++];
    while (i < ranges.length && ranges[i][0] <= end) end = Math.max(end, ranges[i++][1]);
    out += text.slice(at, start) + MASK;
    at = end;
  }
  return out + text.slice(at);
}

/** The fail-closed replacement, keeping a final line break so log lines stay lines. */
function failed(text: string): string {
  return text.endsWith("\n") ? `${MASK_FAILED}\n` : MASK_FAILED;
}
