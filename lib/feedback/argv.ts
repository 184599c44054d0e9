/**
 * The command line as cdx.log records it: what was run, without what was
 * private. Values of secret-bearing options are masked (`--token X`,
 * `--api-key=X`); prompt text is replaced by its length (`run <prompt: 42
 * chars>`), and so is the text of options that carry prose
 * (`--instructions`); every other argument is redacted like log text.
 *
 * @module
 */
import { MASK } from "../redact.ts";
import type { SecretRegistry } from "../secrets.ts";

/** Option names whose next argument (or `=value`) is a secret. */
const SECRET_OPTION =
  /^--?[\w-]*(?:token|secret|password|passwd|api-key|apikey|key|code|verifier|cookie|auth)$/i;
/** Flags that name a secret but take no value (`--with-api-key` reads stdin). */
const VALUELESS_FLAG = /^--?with-/i;
/** Options of any command whose value is private prose: recorded by length only. */
const PROSE_OPTIONS = new Set(["--instructions"]);
/** Options that take a value, everywhere (global) or in `run`; anything else is a flag. */
const GLOBAL_VALUE_OPTIONS = new Set(["--codex-home", "--log-level"]);
const RUN_VALUE_OPTIONS = new Set([
  "-m",
  "--model",
  "--instructions",
  "--base-url",
  "--timeout",
  "--idle-timeout",
  "-o",
  "--output-last-message",
  "--output-schema",
  "--store",
]);
/** Commands whose positional arguments are prompts. */
const PROMPT_COMMANDS = new Set(["run"]);

function lengthOf(kind: string, text: string): string {
  return `<${kind}: ${text.length} chars>`;
}

/**
 * The argv to record: secrets masked, prompts and prose replaced by their
 * length. An option of `run` cdx does not know is assumed to take no value,
 * so a word after it counts as a prompt: the safe side.
 *
 * @example
 * ```ts
 * recordedArgv(["run", "--model", "o4", "fix my code"], secrets);
 * // ["run", "--model", "o4", "<prompt: 11 chars>"]
 * recordedArgv(["login", "--token", "abc"], secrets); // ["login", "--token", "[REDACTED]"]
 * ```
 */
export function recordedArgv(
  argv: readonly string[],
  masker: Pick<SecretRegistry, "redact">,
): string[] {
  const out: string[] = [];
  let command: string | undefined;
  let pending: "secret" | "prose" | "value" | undefined;
  let afterDashes = false;
  for (const arg of argv) {
    if (pending) {
      out.push(
        pending === "secret"
          ? MASK
          : pending === "prose"
          ? lengthOf("text", arg)
          : masker.redact(arg),
      );
      pending = undefined;
      continue;
    }
    const prompts = command !== undefined && PROMPT_COMMANDS.has(command);
    if (afterDashes || !arg.startsWith("-") || arg === "-") {
      if (command === undefined && !afterDashes) {
        command = arg;
        out.push(masker.redact(arg));
      } else out.push(prompts && arg !== "-" ? lengthOf("prompt", arg) : masker.redact(arg));
      continue;
    }
    if (arg === "--") {
      afterDashes = true;
      out.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (eq > 0) {
      const value = arg.slice(eq + 1);
      if (SECRET_OPTION.test(name)) out.push(`${name}=${MASK}`);
      else if (PROSE_OPTIONS.has(name)) out.push(`${name}=${lengthOf("text", value)}`);
      else out.push(masker.redact(arg));
      continue;
    }
    out.push(masker.redact(arg));
    if (SECRET_OPTION.test(name) && !VALUELESS_FLAG.test(name)) pending = "secret";
    else if (PROSE_OPTIONS.has(name)) pending = "prose";
    else if (
      GLOBAL_VALUE_OPTIONS.has(name) || (prompts && RUN_VALUE_OPTIONS.has(name))
    ) pending = "value";
  }
  return out;
}
