/**
 * `--help` text, rendered from the grammar (commands/grammar.ts): the
 * command's line, its usage, description, subcommands, options, the global
 * options and examples (one per line).
 *
 * @module
 */
import { BUILTINS, COMMANDS, GLOBAL_OPTIONS, type OptionSpec, PROGRAM } from "./grammar.ts";
import { commandAt, subcommandsOf, synopsisParts } from "./parse.ts";

/** How to lay the help out. */
export interface HelpOptions {
  /** Terminal width; unknown or tiny → 80. Text never goes past 100 columns. */
  columns?: number;
  /** Bold section headings (only when the output is a terminal that allows colour). */
  color?: boolean;
}

type Row = readonly [left: string, right: string];

/**
 * The help of the command at `path` (`[]` for cdx itself).
 *
 * @example
 * ```ts
 * await ctx.stdout.write(renderHelp(["login", "status"], { columns: 80 }));
 * ```
 */
export function renderHelp(path: readonly string[], options: HelpOptions = {}): string {
  const width = Math.min(options.columns && options.columns >= 40 ? options.columns : 80, 100);
  const heading = (text: string) => options.color ? `\x1b[1m${text}\x1b[0m` : text;
  const spec = commandAt(path);
  const out: string[] = [];
  const paragraph = (text: string) => out.push(wrap(text, width, 0), "");
  const section = (title: string, rows: Row[]) => {
    if (rows.length === 0) return;
    out.push(heading(`${title}:`), table(rows, width), "");
  };
  if (path.length === 1 && path[0] === BUILTINS.completions.path[0]) {
    const builtin = BUILTINS.completions;
    paragraph(builtin.brief);
    out.push(`${heading("Usage:")} ${builtin.usage}`, "");
    paragraph(builtin.description);
    out.push(heading("Examples:"), ...builtin.examples.map((e) => `  ${e}`), "");
    return out.join("\n").replace(/\n+$/, "\n");
  }

  paragraph(spec ? spec.brief : PROGRAM.brief);
  if (spec) {
    out.push(`${heading("Usage:")} ${wrap(synopsisParts(spec), width, 7).trimStart()}`, "");
    if (spec.description) paragraph(spec.description);
  } else {
    out.push(
      `${heading("Usage:")} ${PROGRAM.name} [global options] <command> [options]`,
      "",
    );
    paragraph(PROGRAM.description);
  }

  const commands: Row[] = [];
  if (!spec) {
    for (const c of COMMANDS) commands.push([c.path.join(" "), c.brief]);
    commands.push(["help [COMMAND...]", BUILTINS.help.brief]);
    commands.push(["completions SHELL", BUILTINS.completions.brief]);
  } else {
    for (const word of subcommandsOf(path)) {
      const sub = commandAt([...path, word])!;
      commands.push([word, sub.brief]);
    }
  }
  section("Commands", commands);
  if (spec) {
    const rows = optionRows(spec.options);
    if (spec.argument) rows.push([spec.argument.metavar, spec.argument.help]);
    section("Options", rows);
  }
  section("Global options (before or after the command)", [
    ...optionRows(GLOBAL_OPTIONS),
    ["-h, --help", `show this help (also \`${PROGRAM.name} help COMMAND\`)`],
    ["--version", "print the version and the target"],
  ]);
  const examples = spec ? spec.examples ?? [] : PROGRAM.examples;
  if (examples.length) out.push(heading("Examples:"), ...examples.map((e) => `  ${e}`), "");
  if (!spec) paragraph(PROGRAM.footer);
  return out.join("\n").replace(/\n+$/, "\n");
}

function optionRows(options: { readonly [key: string]: OptionSpec }): Row[] {
  return Object.values(options).map((o) => [
    `${o.names.join(", ")}${o.value ? ` ${o.value.metavar}` : ""}`,
    o.help,
  ]);
}

/** Two columns; a left cell too wide for the column puts its text on the next line. */
function table(rows: Row[], width: number): string {
  const column = Math.min(Math.max(...rows.map(([l]) => l.length)) + 4, 28);
  const lines: string[] = [];
  for (const [left, right] of rows) {
    const text = wrap(right, width, column).trimStart();
    if (left.length + 4 <= column) {
      lines.push(`  ${left.padEnd(column - 2)}${text}`);
    } else {
      lines.push(`  ${left}`, `${" ".repeat(column)}${text}`);
    }
  }
  return lines.join("\n");
}

/** Wraps `text` (or these words) at `width`, indenting every line by `indent` spaces. */
function wrap(text: string | readonly string[], width: number, indent: number): string {
  const room = Math.max(width - indent, 20);
  const lines: string[] = [];
  let line = "";
  for (const word of typeof text === "string" ? text.split(/\s+/) : text) {
    if (line && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.map((l) => `${" ".repeat(indent)}${l}`).join("\n");
}
