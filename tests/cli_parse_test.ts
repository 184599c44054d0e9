/**
 * The command-line parser (commands/parse.ts), `--help` (commands/help.ts) and
 * the completion grammar (commands/completion.ts), all derived from
 * commands/grammar.ts.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { CommandLineError, nearest, parseCommandLine } from "../commands/parse.ts";
import { renderHelp } from "../commands/help.ts";
import { parseForCompletion } from "../commands/completion.ts";
import { COMMANDS, GLOBAL_OPTIONS } from "../commands/grammar.ts";
import type { CommandSpec, OptionSpec } from "../commands/grammar.ts";
import { ExitCode } from "../lib/errors.ts";

function parsed(argv: string[]): Record<string, unknown> {
  const line = parseCommandLine(argv);
  assert.equal(line.kind, "command", argv.join(" "));
  return line.kind === "command" ? { ...line.args } : {};
}

function usageError(argv: string[]): CommandLineError {
  try {
    parseCommandLine(argv);
  } catch (error) {
    assert.ok(error instanceof CommandLineError, String(error));
    assert.equal(error.exitCode, ExitCode.USAGE);
    return error;
  }
  assert.fail(`${argv.join(" ")} parsed`);
}

Deno.test("commands, subcommands, options and the prompt parse to their values", () => {
  assert.deepEqual(parsed(["login", "status"]), { command: "login-status" });
  assert.deepEqual(parsed(["login", "token", "--store=file", "--json"]), {
    command: "login-token",
    store: "file",
    json: true,
  });
  assert.deepEqual(parsed(["login"]), { command: "login" });
  assert.deepEqual(parsed(["run", "-m", "gpt", "--timeout", "1e2", "hi"]), {
    command: "run",
    model: "gpt",
    timeout: 100,
    prompt: "hi",
  });
  assert.deepEqual(parsed(["run", "-"]), { command: "run", prompt: "-" });
  assert.deepEqual(parsed(["run", "--instructions", "-be brief", "hi"]), {
    command: "run",
    instructions: "-be brief",
    prompt: "hi",
  });
  assert.deepEqual(parsed(["run", "--", "--help"]), { command: "run", prompt: "--help" });
  assert.deepEqual(parsed(["feedback", "-y", "--classification", "bad_result"]), {
    command: "feedback",
    yes: true,
    classification: "bad_result",
  });
});

Deno.test("options go anywhere: global ones around the command, a command's own around its words", () => {
  const expected = { command: "login-status", store: "file", codexHome: "/h", logLevel: "debug" };
  for (
    const argv of [
      ["--codex-home", "/h", "--log-level", "debug", "login", "status", "--store", "file"],
      ["login", "--codex-home=/h", "status", "--store", "file", "--log-level", "debug"],
      ["--store", "file", "login", "status", "--log-level=debug", "--codex-home", "/h"],
      ["login", "--store", "file", "status", "--codex-home", "/h", "--log-level", "debug"],
    ]
  ) {
    assert.deepEqual(parsed(argv), expected, argv.join(" "));
  }
});

Deno.test("help, version and completions are recognised before any command runs", () => {
  assert.deepEqual(parseCommandLine(["--help"]), { kind: "help", path: [] });
  assert.deepEqual(parseCommandLine([]), { kind: "help", path: [] });
  assert.deepEqual(parseCommandLine(["--no-color"]), { kind: "help", path: [] });
  assert.deepEqual(parseCommandLine(["-h"]), { kind: "help", path: [] });
  assert.deepEqual(parseCommandLine(["login", "-h", "status"]), {
    kind: "help",
    path: ["login", "status"],
  });
  assert.deepEqual(parsed(["run", "--", "-h"]), { command: "run", prompt: "-h" });
  assert.deepEqual(parsed(["run", "--instructions", "-h", "x"]), {
    command: "run",
    instructions: "-h",
    prompt: "x",
  });
  assert.deepEqual(parseCommandLine(["login", "status", "--help"]), {
    kind: "help",
    path: ["login", "status"],
  });
  assert.deepEqual(parseCommandLine(["run", "--bogus", "--help"]), { kind: "help", path: ["run"] });
  assert.deepEqual(parseCommandLine(["help", "login", "token"]), {
    kind: "help",
    path: ["login", "token"],
  });
  assert.deepEqual(parseCommandLine(["logout", "--version"]), { kind: "version" });
  assert.deepEqual(parseCommandLine(["completions", "bash"]), { kind: "completions" });
  assert.deepEqual(parseCommandLine(["completion", "zsh"]), { kind: "completions" });
  // As a value or after `--`, --help is just text.
  assert.deepEqual(parsed(["run", "--instructions", "--help"]), {
    command: "run",
    instructions: "--help",
  });
});

Deno.test("every mistake is a usage error naming it, with the command's usage line", () => {
  const cases: Array<[string[], RegExp, RegExp | undefined]> = [
    [["logout", "--bogus"], /^unknown option --bogus for `cdx logout`$/, undefined],
    [["login", "status", "--jsn"], /^unknown option --jsn/, /did you mean --json\?/],
    [["login", "stats"], /^unknown command "stats" for `cdx login`$/, /`cdx login status`/],
    [["frobnicate"], /^unknown command "frobnicate"$/, undefined],
    [
      ["--codex-home", "", "logout"],
      /^--codex-home needs a path \(DIR\), not an empty string$/,
      undefined,
    ],
    [["feedback", "--output="], /^--output needs a path \(FILE\)/, undefined],
    [["--help=yes"], /^--help takes no value$/, undefined],
    [["login", "status", "--with-api-key"], /not an option of `cdx login status`/, /`cdx login`/],
    [
      ["login", "status", "--store", "file", "--store", "auto"],
      /--store was given more than once/,
      undefined,
    ],
    [["run", "-m", "a", "--model", "b", "hi"], /--model was given more than once/, undefined],
    [["--no-color", "--no-color", "logout"], /--no-color was given more than once/, undefined],
    [["run", "--timeout"], /^--timeout needs a value \(SECONDS\)$/, undefined],
    [
      ["logout", "--codex-home", " "],
      /^--codex-home needs a path \(DIR\), not an empty string$/,
      undefined,
    ],
    [["run", "--timeout", "-1", "x"], /^--timeout must be at least 0, not -1$/, undefined],
    [["run", "--timeout", "soon", "x"], /^--timeout needs a number, not "soon"$/, undefined],
    [["login", "--port", "1.5"], /^--port needs a whole number, not "1.5"$/, undefined],
    [["login", "--port", "70000"], /^--port must be at most 65535, not 70000$/, undefined],
    [["--log-level", "loud", "logout"], /^--log-level must be one of error, warn/, undefined],
    [["logout", "--store", "fiel"], /^--store must be one of/, /did you mean --store file\?/],
    [["logout", "--no-revoke=yes"], /^--no-revoke takes no value$/, undefined],
    [["run", "a", "b"], /^unexpected argument "b"$/, /quote the PROMPT/],
    [["logout", "now"], /^unexpected argument "now"$/, undefined],
    [["help", "bogus"], /^unknown command "bogus"$/, undefined],
  ];
  for (const [argv, message, hint] of cases) {
    const error = usageError(argv);
    assert.match(error.message, message, argv.join(" "));
    if (hint) assert.match(error.hint ?? "", hint, argv.join(" "));
    assert.match(error.usage, /^usage: cdx /);
  }
  assert.match(usageError(["logout", "--bogus"]).usage, /^usage: cdx logout \[--no-revoke\]/);
});

Deno.test("a suggestion is never the word that was typed", () => {
  assert.equal(nearest("--json", ["--json", "--jsn"]), "--jsn");
  assert.equal(nearest("--json", ["--json"]), undefined);
  assert.equal(nearest("--bogus", ["--store", "--no-revoke"]), undefined);
});

Deno.test("an option name takes a value everywhere or nowhere, and is unique within a command", () => {
  const arity = new Map<string, boolean>();
  for (const command of COMMANDS) {
    const names = new Set<string>();
    const all = { ...GLOBAL_OPTIONS, ...command.options } as Record<string, OptionSpec>;
    for (const option of Object.values(all)) {
      for (const name of option.names) {
        assert.ok(!names.has(name), `${name} twice in ${command.id}`);
        names.add(name);
        assert.ok(!["--help", "--version", "--"].includes(name));
        const takes = option.value !== undefined;
        assert.equal(arity.get(name) ?? takes, takes, name);
        arity.set(name, takes);
      }
    }
  }
});

// Random valid command lines, written in every form the parser accepts.
function valueArbitrary(option: OptionSpec): fc.Arbitrary<string | number | true> {
  const v = option.value;
  if (!v) return fc.constant(true as const);
  if (v.kind === "choice") return fc.constantFrom(...v.choices);
  if (v.kind === "number") return fc.integer({ min: v.min, max: 10_000 });
  if (v.kind === "integer") return fc.integer({ min: v.min, max: v.max });
  // A path may not be blank (`--codex-home ""` would mean the current directory).
  if (v.kind === "path") {
    return fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s.trim() !== "");
  }
  return fc.string({ minLength: 0, maxLength: 12 });
}

/** A repeatable option is given 1–3 times (its values collected in command-line order). */
function valuesArbitrary(options: Record<string, OptionSpec>) {
  const entries = Object.entries(options).map(([key, spec]) =>
    fc.option(
      spec.repeatable
        ? fc.array(valueArbitrary(spec), { minLength: 1, maxLength: 3 }) as fc.Arbitrary<
          string | number | true | (string | number | true)[]
        >
        : valueArbitrary(spec),
      { nil: undefined },
    ).map((v) => [key, spec, v] as const)
  );
  return fc.tuple(...entries);
}

const commandLine = fc.constantFrom(...(COMMANDS as readonly CommandSpec[])).chain((command) =>
  fc.record({
    command: fc.constant(command),
    own: valuesArbitrary(command.options as Record<string, OptionSpec>),
    global: valuesArbitrary(GLOBAL_OPTIONS),
    prompt: command.argument
      ? fc.option(fc.string({ maxLength: 12 }), { nil: undefined })
      : fc.constant(undefined),
    order: fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
    joined: fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }),
  })
);

type Sample = typeof commandLine extends fc.Arbitrary<infer T> ? T : never;

interface Chunk {
  words: string[];
  /** Set for an occurrence of a repeatable option: its key and this occurrence's value. */
  repeated?: { key: string; value: unknown };
}

function render(sample: Sample, canonical: boolean) {
  const expected: Record<string, unknown> = { command: sample.command.id };
  const chunks: Chunk[] = [];
  let n = 0;
  for (const [key, spec, given] of [...sample.own, ...sample.global]) {
    if (given === undefined) continue;
    const values = Array.isArray(given) ? given : [given];
    if (!Array.isArray(given)) expected[key] = given;
    for (const value of values) {
      const name = spec.names[(sample.order[n] ?? 0) % spec.names.length];
      const joined = !canonical && name.startsWith("--") && sample.joined[n++];
      const repeated = Array.isArray(given) ? { key, value } : undefined;
      if (value === true) chunks.push({ words: [name], repeated });
      else if (joined) chunks.push({ words: [`${name}=${value}`], repeated });
      else chunks.push({ words: [name, String(value)], repeated });
    }
  }
  // Canonical: the command's words first (what any parser of this grammar accepts).
  const words = [...sample.command.path];
  if (!canonical) {
    // Options shuffled in between the command's words.
    chunks.sort((a, b) =>
      (sample.order[chunks.indexOf(a)] ?? 0) - (sample.order[chunks.indexOf(b)] ?? 0)
    );
  }
  // A repeatable option's values are expected in the order they end up on the command line.
  for (const chunk of chunks) {
    if (chunk.repeated) {
      ((expected[chunk.repeated.key] ??= []) as unknown[]).push(chunk.repeated.value);
    }
  }
  const argv = canonical
    ? [...words, ...chunks.flatMap((c) => c.words)]
    : interleave(words, chunks.map((c) => c.words), sample.order);
  if (sample.prompt !== undefined) {
    expected.prompt = sample.prompt;
    if (sample.prompt.startsWith("-")) argv.push("--", sample.prompt);
    else argv.push(sample.prompt);
  }
  return { argv, expected };
}

function interleave(words: string[], chunks: string[][], order: number[]): string[] {
  const out: string[] = [];
  let w = 0;
  chunks.forEach((chunk, i) => {
    if (w < words.length && (order[i] ?? 0) % 2 === 0) out.push(words[w++]);
    out.push(...chunk);
  });
  out.push(...words.slice(w));
  return out;
}

Deno.test("property: any valid command line, options in any order and form, parses to its values", () => {
  fc.assert(
    fc.property(commandLine, (sample) => {
      const { argv, expected } = render(sample, false);
      assert.deepEqual(parsed(argv), expected, JSON.stringify(argv));
    }),
    { numRuns: 500 },
  );
});

Deno.test("property: the completion grammar parses canonical command lines to the same values", () => {
  fc.assert(
    fc.property(commandLine, (sample) => {
      fc.pre(
        !(sample.prompt !== undefined && /^(completions?|help|-.*)$/.test(sample.prompt)) &&
          !sample.own.some(([, , v]) => typeof v === "string" && v.startsWith("-")) &&
          !sample.global.some(([, , v]) => typeof v === "string" && v.startsWith("-")),
      );
      const { argv, expected } = render(sample, true);
      const theirs = parseForCompletion(argv);
      assert.ok(theirs, `the completion grammar rejected ${JSON.stringify(argv)}`);
      // Absent options: undefined, or an empty list for a repeatable one.
      const defined = Object.fromEntries(
        Object.entries(theirs).filter(([, v]) =>
          v !== undefined && !(Array.isArray(v) && v.length === 0)
        ),
      );
      assert.deepEqual(defined, expected, JSON.stringify(argv));
    }),
    { numRuns: 150 },
  );
});

Deno.test("--help of every command names its usage, each option and argument, within the width", () => {
  for (const width of [80, 200]) {
    for (const command of COMMANDS as readonly CommandSpec[]) {
      const text = renderHelp(command.path, { columns: width });
      assert.match(text, new RegExp(`^Usage: cdx ${command.path.join(" ")}`, "m"));
      for (const option of Object.values(command.options)) {
        for (const name of option.names) assert.ok(text.includes(name), `${command.id} ${name}`);
      }
      if (command.argument) assert.ok(text.includes(command.argument.metavar));
      // Everything but the example command lines (kept whole, to copy) fits the width.
      const examples = new Set((command.examples ?? []).map((e) => `  ${e}`));
      for (const line of text.split("\n").filter((l) => !examples.has(l))) {
        assert.ok(line.length <= Math.min(width, 100), `${command.id} at ${width}: ${line}`);
      }
      for (const example of command.examples ?? []) assert.ok(text.includes(`\n  ${example}\n`));
    }
  }
  const top = renderHelp([], { columns: 80 });
  for (const command of COMMANDS) assert.ok(top.includes(command.brief));
  assert.match(top, /^Examples:\n {2}cdx login .*\n {2}printenv/m);
  assert.ok(!renderHelp([], { columns: 80 }).includes("\x1b["));
  assert.ok(renderHelp([], { columns: 80, color: true }).includes("\x1b[1mUsage:"));
});
