/**
 * `cdx completions SHELL`: bash, zsh and fish completion scripts, and the
 * answers those scripts ask cdx for (`cdx completions bash <words…>`).
 *
 * The scripts and their protocol come from @optique/core, which handles the
 * shells' quoting rules; its parser is built here from the same grammar as
 * cdx's own (commands/grammar.ts). Only this command loads it: importing it
 * costs ~70 ms, more than cdx's whole start-up budget.
 *
 * @module
 */
import { longestMatch, merge, object, or } from "@optique/core/constructs";
import { argument, command, constant, flag, option } from "@optique/core/primitives";
import { multiple, optional } from "@optique/core/modifiers";
import { choice, float, integer, string, type ValueParser } from "@optique/core/valueparser";
import { type Message, text } from "@optique/core/message";
import type { Parser, Suggestion } from "@optique/core/parser";
import { runParser } from "@optique/core/facade";
import { versionLine } from "../lib/version.ts";
import {
  BUILTINS,
  COMMANDS,
  type CommandSpec,
  GLOBAL_OPTIONS,
  type OptionSpec,
  PROGRAM,
} from "./grammar.ts";
import { commandAt, subcommandsOf } from "./parse.ts";

/** What to print and the exit code. */
export interface CompletionOutput {
  /** Exit code. */
  code: number;
  /** The script or the candidates. */
  stdout: string;
  /** An error message (unknown shell). */
  stderr: string;
}

const words = (s: string): Message => [text(s)];
// Metavars are non-empty by construction (grammar.ts); optique's type says so.
// deno-lint-ignore no-explicit-any
const metavar = (s: string) => s as `${any}${string}`;

/** A parser of any value (the grammar is only known at run time). */
// deno-lint-ignore no-explicit-any
type AnyParser = Parser<"sync", any, any>;

function valueParser(option: OptionSpec): ValueParser<"sync", unknown> {
  const v = option.value!;
  switch (v.kind) {
    case "choice":
      return choice(v.choices as readonly string[], { metavar: metavar(v.metavar) });
    case "number":
      return float({ min: v.min, metavar: metavar(v.metavar) });
    case "integer":
      return integer({ min: v.min, max: v.max, metavar: metavar(v.metavar) });
    case "path": {
      // The shell's own file completion (each shell's quoting, `~`, hidden files).
      const base = string({ metavar: metavar(v.metavar) });
      const type = v.entry;
      return {
        ...base,
        *suggest(prefix: string): Generator<Suggestion> {
          yield { kind: "file", type, pattern: prefix, includeHidden: prefix.startsWith(".") };
        },
      };
    }
    default:
      return string({ metavar: metavar(v.metavar) });
  }
}

function optionParser(spec: OptionSpec): AnyParser {
  const description = words(spec.help);
  const names = spec.names as unknown as [`-${string}`];
  const parser = spec.value
    ? option(...names, valueParser(spec), { description })
    : flag(...names, { description });
  return spec.repeatable ? multiple(parser) : optional(parser);
}

function optionsObject(
  options: { readonly [key: string]: OptionSpec },
  extra: Record<string, AnyParser> = {},
): Record<string, AnyParser> {
  const fields: Record<string, AnyParser> = { ...extra };
  for (const [key, spec] of Object.entries(options)) fields[key] = optionParser(spec);
  return fields;
}

function commandParser(spec: CommandSpec): AnyParser {
  const fields = optionsObject(spec.options, { command: constant(spec.id) });
  if (spec.argument) {
    fields[spec.argument.key] = optional(
      argument(string({ metavar: metavar(spec.argument.metavar) }), {
        description: words(spec.argument.help),
      }),
    );
  }
  return object(fields);
}

/** The parser of the command at `path` and its subcommands, under its last word. */
function nodeParser(path: readonly string[]): AnyParser {
  const spec = commandAt(path)!;
  const subs = subcommandsOf(path).map((w) => nodeParser([...path, w]));
  const body = subs.length ? longestMatch(...subs, commandParser(spec)) : commandParser(spec);
  return command(path.at(-1)!, body, {
    brief: words(spec.brief),
    description: spec.description ? words(spec.description) : undefined,
  });
}

/** The whole grammar as an optique parser. */
function completionParser(): AnyParser {
  const tops = COMMANDS.filter((c) => c.path.length === 1).map((c) => nodeParser(c.path));
  return merge(
    object("Global options", optionsObject(GLOBAL_OPTIONS)),
    or(...(tops as [AnyParser, ...AnyParser[]])),
  );
}

/**
 * What the completion grammar makes of a command line: the parsed values, or
 * `undefined` when it rejects it. Tests check it agrees with cdx's own
 * parser, so completions offer what cdx accepts.
 */
export function parseForCompletion(args: readonly string[]): Record<string, unknown> | undefined {
  try {
    return runParser(completionParser(), PROGRAM.name, args, {
      onError: () => {
        throw new RangeError("rejected");
      },
      stderr: () => {},
    }) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof RangeError && error.message === "rejected") return undefined;
    throw error;
  }
}

/** Every option of the grammar by name (a name takes a value everywhere or nowhere). */
function optionByName(name: string): OptionSpec | undefined {
  for (const options of [GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options)]) {
    for (const spec of Object.values(options) as OptionSpec[]) {
      if (spec.names.includes(name)) return spec;
    }
  }
  return undefined;
}

/**
 * When the word being completed is the value of the option before it
 * (`--codex-home <TAB>`), a parser of that value alone: the whole grammar
 * would also offer the commands there (optique's `merge` asks both sides).
 */
function valueOnly(args: readonly string[]): [AnyParser, string[]] | undefined {
  // args: the `completions` word, the shell, then the words typed so far.
  const completionWords: readonly string[] = [
    BUILTINS.completions.path[0],
    ...BUILTINS.completions.aliases,
  ];
  if (!completionWords.includes(args[0])) return undefined;
  const words = args.slice(2);
  if (words.length < 2 || words.slice(0, -1).includes("--")) return undefined;
  const name = words[words.length - 2];
  const spec = optionByName(name);
  if (!spec?.value) return undefined;
  const parser = object({ value: optionParser(spec) });
  return [parser, [args[0], args[1], name, words[words.length - 1]]];
}

/** Answers `cdx completions …` (argv as given, `completions` included). */
export function runCompletions(args: readonly string[]): CompletionOutput {
  const [parser, argv] = valueOnly(args) ?? [completionParser(), [...args]];
  let stdout = "";
  let stderr = "";
  class Exit {
    constructor(readonly code: number) {}
  }
  try {
    runParser(parser, PROGRAM.name, argv, {
      completion: {
        command: { names: [BUILTINS.completions.path[0], ...BUILTINS.completions.aliases] },
        onShow: (code: number) => {
          throw new Exit(code);
        },
      },
      version: { value: versionLine(), option: true },
      onError: () => {
        throw new Exit(2);
      },
      aboveError: "none",
      colors: false,
      stdout: (t: string) => {
        stdout += `${t}\n`;
      },
      stderr: (t: string) => {
        stderr += `${t}\n`;
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    if (error instanceof Exit) {
      return { code: error.code, stdout, stderr: stderr.replace(/^Error: /, "error: ") };
    }
    throw error;
  }
}
