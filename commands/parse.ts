/**
 * The command-line parser, driven by the grammar in commands/grammar.ts.
 *
 * Rules (those of gh and most CLIs):
 * - the command is the leading words that name one (`login status`); options
 *   may come before, between or after them, global ones included;
 * - `--name value` and `--name=value`; a flag takes no value; an option
 *   taking a value takes the next word whatever it looks like
 *   (`--instructions -x`);
 * - `--` ends the options: what follows is the prompt, even `--help`;
 * - each option at most once, unless it is repeatable (`-i a.png -i b.png`:
 *   the values are collected in order); a value must fit its kind (a choice,
 *   a number not below its minimum);
 * - `-h`/`--help` (anywhere before `--`, not as a value), `cdx help COMMAND`
 *   or `cdx` alone asks for help, `--version` for the version,
 *   `completions` hands the command line to the shell-completion engine.
 *
 * Every mistake is a {@linkcode CommandLineError} (exit 2) that says what was
 * wrong, suggests the nearest name when there is one, and carries the
 * command's usage line.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import {
  BUILTINS,
  COMMANDS,
  type CommandSpec,
  GLOBAL_OPTIONS,
  type OptionSpec,
  type ParsedArgs,
  PROGRAM,
} from "./grammar.ts";

/** What a command line asks for. */
export type CommandLine =
  | { readonly kind: "command"; readonly args: ParsedArgs; readonly spec: CommandSpec }
  | { readonly kind: "help"; readonly path: readonly string[] }
  | { readonly kind: "version" }
  | { readonly kind: "completions" };

/** A usage error: exit 2, with the usage line of the command it concerns. */
export class CommandLineError extends UsageError {
  /** `usage: cdx logout [--no-revoke] [--store STORE]` and where to read more. */
  readonly usage: string;
  /** The words of the command the mistake concerns (`[]`: none recognised yet). */
  readonly path: readonly string[];
  /** `path`: the command the mistake concerns (its usage line is shown). */
  constructor(message: string, options: { hint?: string; path?: readonly string[] } = {}) {
    super(message, { hint: options.hint });
    this.name = "CommandLineError";
    this.path = [...(options.path ?? [])];
    this.usage = usageLine(this.path);
  }
}

interface Occurrence {
  key: string;
  spec: OptionSpec;
  name: string;
  value?: string;
}

const globalKeys = new Map<string, [string, OptionSpec]>();
for (const [key, spec] of Object.entries(GLOBAL_OPTIONS)) {
  for (const name of spec.names) globalKeys.set(name, [key, spec]);
}

/** Every option name of the grammar (an option name takes a value everywhere or nowhere). */
const anyOption = new Map<string, OptionSpec>();
for (const [name, [, spec]] of globalKeys) anyOption.set(name, spec);
for (const command of COMMANDS) {
  for (const spec of Object.values(command.options) as OptionSpec[]) {
    for (const name of spec.names) anyOption.set(name, spec);
  }
}

/** The options that ask for help. */
const HELP_WORDS: readonly string[] = ["-h", "--help"];

const COMPLETION_WORDS: readonly string[] = [
  BUILTINS.completions.path[0],
  ...BUILTINS.completions.aliases,
];

const commandsByPath = new Map<string, CommandSpec>(COMMANDS.map((c) => [c.path.join(" "), c]));

/** The words that may follow `path` (its subcommands). */
export function subcommandsOf(path: readonly string[]): string[] {
  const words: string[] = [];
  for (const c of COMMANDS) {
    if (
      c.path.length === path.length + 1 && path.every((w, i) => c.path[i] === w) &&
      !words.includes(c.path[path.length])
    ) words.push(c.path[path.length]);
  }
  return words;
}

/** The command at `path`, if it is one. */
export function commandAt(path: readonly string[]): CommandSpec | undefined {
  return commandsByPath.get(path.join(" "));
}

/** `usage: cdx logout [--no-revoke] [--store STORE]  (see `cdx logout --help`)` */
export function usageLine(path: readonly string[]): string {
  const spec = commandAt(path);
  if (!spec) {
    const words = [...subcommandsOf([]), BUILTINS.completions.path[0]].join("|");
    return `usage: ${PROGRAM.name} [--codex-home DIR] [--log-level LEVEL] <${words}> [options]  (see \`${PROGRAM.name} --help\`)`;
  }
  return `usage: ${commandSynopsis(spec)}  (see \`${PROGRAM.name} ${path.join(" ")} --help\`)`;
}

/** `cdx run [-m MODEL] … [PROMPT]`: the command's words, options and argument. */
function commandSynopsis(spec: CommandSpec): string {
  return synopsisParts(spec).join(" ");
}

/** The words of {@linkcode commandSynopsis}, each bracketed group one word (for wrapping). */
export function synopsisParts(spec: CommandSpec): string[] {
  const parts = [PROGRAM.name, ...spec.path];
  const subs = subcommandsOf(spec.path);
  if (subs.length) parts.push(`[${subs.join("|")}]`);
  for (const option of Object.values(spec.options)) {
    const repeat = option.repeatable ? "..." : "";
    parts.push(`[${option.names[0]}${option.value ? ` ${option.value.metavar}` : ""}]${repeat}`);
  }
  if (spec.argument) parts.push(`[${spec.argument.metavar}]`);
  return parts;
}

/**
 * Parses argv.
 *
 * @example
 * ```ts
 * const line = parseCommandLine(["login", "status", "--json"]);
 * // { kind: "command", args: { command: "login-status", json: true }, spec: LOGIN_STATUS }
 * ```
 * @throws {CommandLineError} on any mistake (exit 2).
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const path: string[] = [];
  const positionals: string[] = [];
  const occurrences: Occurrence[] = [];
  let help = false;
  let version = false;
  let helpWords: string[] | undefined;
  let firstError: (() => CommandLineError) | undefined;
  let endOfOptions = false;

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (endOfOptions || token === "-" || !token.startsWith("-")) {
      if (helpWords) {
        helpWords.push(token);
      } else if (!endOfOptions && positionals.length === 0) {
        if (path.length === 0 && token === BUILTINS.help.path[0]) {
          helpWords = [];
          continue;
        }
        if (path.length === 0 && COMPLETION_WORDS.includes(token)) {
          // `cdx completions -h`: its help; anything else is the completion engine's.
          if (HELP_WORDS.includes(argv[i + 1])) {
            return { kind: "help", path: [BUILTINS.completions.path[0]] };
          }
          return { kind: "completions" };
        }
        if (subcommandsOf(path).includes(token)) {
          path.push(token);
          continue;
        }
        positionals.push(token);
      } else {
        positionals.push(token);
      }
      continue;
    }
    if (token === "--") {
      endOfOptions = true;
      continue;
    }
    const eq = token.startsWith("--") ? token.indexOf("=") : -1;
    const name = eq > 0 ? token.slice(0, eq) : token;
    const inline = eq > 0 ? token.slice(eq + 1) : undefined;
    if (HELP_WORDS.includes(name) || name === "--version") {
      if (inline !== undefined) {
        firstError ??= () => new CommandLineError(`${name} takes no value`, { path });
        continue;
      }
      if (name !== "--version") help = true;
      else version = true;
      continue;
    }
    const spec = anyOption.get(name);
    if (!spec) {
      firstError ??= () => unknownOption(name, path);
      continue;
    }
    const global = globalKeys.get(name);
    let value: string | undefined;
    if (spec.value) {
      value = inline ?? argv[++i];
      if (value === undefined) {
        firstError ??= () =>
          new CommandLineError(`${name} needs a value (${spec.value!.metavar})`, { path });
      }
    } else if (inline !== undefined) {
      firstError ??= () => new CommandLineError(`${name} takes no value`, { path });
    }
    occurrences.push({ key: global?.[0] ?? "", spec, name, value });
  }

  if (helpWords) return helpFor(helpWords);
  if (help) return { kind: "help", path };
  if (version) return { kind: "version" };
  if (firstError) throw firstError();

  const spec = commandAt(path);
  if (!spec) {
    if (positionals.length) throw unknownCommand(positionals[0], path);
    // `cdx` alone (or with global options only): the help, as gh does.
    return { kind: "help", path };
  }
  const args: Record<string, unknown> = { command: spec.id };
  for (const occurrence of occurrences) {
    const found = occurrence.key
      ? [occurrence.key, occurrence.spec] as const
      : (Object.entries(spec.options) as [string, OptionSpec][]).find(([, s]) =>
        s.names.includes(occurrence.name)
      );
    if (!found) throw misplacedOption(occurrence.name, spec);
    const [key, option] = found;
    if (option.repeatable) {
      const values = (args[key] ??= []) as unknown[];
      values.push(parseValue(occurrence.name, option, occurrence.value!, spec));
      continue;
    }
    if (key in args) {
      throw new CommandLineError(`${occurrence.name} was given more than once`, {
        path: spec.path,
      });
    }
    args[key] = option.value ? parseValue(occurrence.name, option, occurrence.value!, spec) : true;
  }
  if (positionals.length > 0) {
    if (!spec.argument || positionals.length > 1) {
      const extra = spec.argument ? positionals[1] : positionals[0];
      const subs = subcommandsOf(spec.path);
      if (!spec.argument && subs.length && !extra.startsWith("-")) {
        throw unknownCommand(extra, path);
      }
      throw new CommandLineError(`unexpected argument ${JSON.stringify(extra)}`, {
        path: spec.path,
        hint: spec.argument
          ? `quote the ${spec.argument.metavar} if it has spaces: cdx ${spec.path.join(" ")} "…"`
          : undefined,
      });
    }
    args[spec.argument.key] = positionals[0];
  }
  return { kind: "command", args: args as ParsedArgs, spec };
}

// The forms optique's float() and integer() accept, so completions and cdx agree.
const FLOAT = /^[+-]?(?:\d+\.?\d*|\d*\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;

function parseValue(name: string, option: OptionSpec, raw: string, spec: CommandSpec): unknown {
  const kind = option.value!;
  if (kind.kind === "choice") {
    if (kind.choices.includes(raw)) return raw;
    const near = nearest(raw, kind.choices);
    throw new CommandLineError(
      `${name} must be one of ${kind.choices.join(", ")}, not ${JSON.stringify(raw)}`,
      { path: spec.path, hint: near ? `did you mean ${name} ${near}?` : undefined },
    );
  }
  if (kind.kind === "number" || kind.kind === "integer") {
    const n = (kind.kind === "integer" ? INTEGER : FLOAT).test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(n)) {
      throw new CommandLineError(
        `${name} needs ${kind.kind === "integer" ? "a whole number" : "a number"}, not ${
          JSON.stringify(raw)
        }`,
        { path: spec.path },
      );
    }
    if (n < kind.min) {
      throw new CommandLineError(`${name} must be at least ${kind.min}, not ${raw}`, {
        path: spec.path,
      });
    }
    if (kind.kind === "integer" && n > kind.max) {
      throw new CommandLineError(`${name} must be at most ${kind.max}, not ${raw}`, {
        path: spec.path,
      });
    }
    return n;
  }
  if (kind.kind === "path" && raw.trim() === "") {
    throw new CommandLineError(`${name} needs a path (${kind.metavar}), not an empty string`, {
      path: spec.path,
    });
  }
  return raw;
}

function helpFor(words: readonly string[]): CommandLine {
  const path: string[] = [];
  for (const word of words) {
    if (word.startsWith("-")) continue;
    if (path.length === 0 && COMPLETION_WORDS.includes(word)) {
      return { kind: "help", path: [BUILTINS.completions.path[0]] };
    }
    if (!subcommandsOf(path).includes(word)) throw unknownCommand(word, path);
    path.push(word);
  }
  return { kind: "help", path };
}

function unknownCommand(word: string, path: readonly string[]): CommandLineError {
  const where = path.length ? ` for \`${PROGRAM.name} ${path.join(" ")}\`` : "";
  const candidates = subcommandsOf(path);
  if (path.length === 0) candidates.push(BUILTINS.help.path[0], BUILTINS.completions.path[0]);
  const near = nearest(word, candidates);
  return new CommandLineError(`unknown command ${JSON.stringify(word)}${where}`, {
    path,
    hint: near ? `did you mean \`${[PROGRAM.name, ...path, near].join(" ")}\`?` : undefined,
  });
}

function optionNames(path: readonly string[]): string[] {
  const spec = commandAt(path);
  const names = [...globalKeys.keys(), ...HELP_WORDS, "--version"];
  for (const option of Object.values(spec?.options ?? {})) names.push(...option.names);
  return names;
}

function unknownOption(name: string, path: readonly string[]): CommandLineError {
  const near = nearest(name, optionNames(path));
  const where = path.length ? ` for \`${PROGRAM.name} ${path.join(" ")}\`` : "";
  return new CommandLineError(`unknown option ${name}${where}`, {
    path,
    hint: near ? `did you mean ${near}?` : undefined,
  });
}

function misplacedOption(name: string, spec: CommandSpec): CommandLineError {
  const owners = COMMANDS.filter((c) =>
    (Object.values(c.options) as OptionSpec[]).some((o) => o.names.includes(name))
  ).map((c) => `\`${PROGRAM.name} ${c.path.join(" ")}\``);
  return new CommandLineError(
    `${name} is not an option of \`${PROGRAM.name} ${spec.path.join(" ")}\``,
    { path: spec.path, hint: `${name} belongs to ${owners.join(", ")}` },
  );
}

/** The candidate closest to `word` (edit distance ≤ a third of its length), never `word` itself. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const d = editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Edit distance where swapping two neighbours counts as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
