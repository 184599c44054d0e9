/**
 * An API key from the environment: `CODEX_API_KEY`, then `OPENAI_API_KEY`
 * (the order codex exec reads them). The one place cdx looks at them.
 *
 * @module
 */
import type { Context } from "../context.ts";

/** Environment variables holding an API key, in the order they win. */
export const API_KEY_ENV = ["CODEX_API_KEY", "OPENAI_API_KEY"] as const;

/** An API key found in the environment, and the variable it came from. */
export interface EnvApiKey {
  /** The variable that held it (for messages; the value is never printed). */
  name: typeof API_KEY_ENV[number];
  /** The key, trimmed and non-empty; registered as a secret. */
  value: string;
}

/**
 * The first non-empty API key variable (trimmed), registered as a secret.
 *
 * @example
 * ```ts
 * const key = apiKeyFromEnv(ctx); // { name: "OPENAI_API_KEY", value: "sk-…" } or undefined
 * ```
 */
export function apiKeyFromEnv(ctx: Pick<Context, "env" | "secrets">): EnvApiKey | undefined {
  for (const name of API_KEY_ENV) {
    const value = ctx.env.get(name)?.trim();
    if (value) {
      ctx.secrets.register(value);
      return { name, value };
    }
  }
  return undefined;
}
