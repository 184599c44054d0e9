/**
 * The registry of secret values this process has handled. Every secret cdx
 * reads or receives (API keys, tokens, device codes, verifiers) is registered
 * here at once; error messages, logs and feedback bundles pass through
 * {@linkcode SecretRegistry.redact} so the exact value never leaves the process.
 *
 * @module
 */

import { MASK, Redactor } from "./redact.ts";

export { MASK };

/** Values shorter than this are not registered (too likely to match innocent text). */
export const MIN_SECRET_LENGTH = 6;

/**
 * Exact-value secret masking.
 *
 * @example
 * ```ts
 * const secrets = new SecretRegistry();
 * secrets.register("sk-abc123456");
 * secrets.register("s3cret-value");
 * secrets.redact("got s3cret-value"); // "got [REDACTED]"
 * ```
 */
export class SecretRegistry {
  #values = new Set<string>();
  #sorted: string[] | undefined;
  #listeners = new Set<(value: string) => void>();
  #redactor: Redactor | undefined;

  /** Registers a secret (ignored when empty or too short to mask safely). */
  register(value: string | null | undefined): void {
    if (!value) return;
    const trimmed = value.trim();
    for (const v of new Set([value, trimmed])) {
      if (v.length < MIN_SECRET_LENGTH || this.#values.has(v)) continue;
      this.#values.add(v);
      this.#sorted = undefined;
      for (const listener of this.#listeners) listener(v);
    }
  }

  /** Calls `listener` for every value registered from now on (and those already known). */
  subscribe(listener: (value: string) => void): () => void {
    for (const v of this.#values) listener(v);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The registered values, longest first. */
  values(): readonly string[] {
    this.#sorted ??= [...this.#values].sort((a, b) => b.length - a.length);
    return this.#sorted;
  }

  /**
   * Replaces every registered value in `text` by {@linkcode MASK}, then every
   * secret the patterns of `lib/redact.ts` recognise (JWTs, bearer tokens,
   * `sk-…` keys, credential headers and token fields).
   */
  redact(text: string): string {
    this.#redactor ??= new Redactor(this);
    return this.#redactor.redact(text);
  }
}
