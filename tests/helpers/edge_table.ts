/**
 * The README's fault tables, written by the tests that observe them. With
 * `CDX_EDGE_TABLE=<path>` set, every observed row (case, outcome, exit code)
 * is appended to `<path>.jsonl` and `<path>` is rewritten as Markdown from all
 * rows so far, under a lock — test files run in parallel processes, and the
 * last one to finish leaves the whole table. Without the variable,
 * recording is a no-op. `scripts/edge_tables.ts` runs the tests and prints
 * the result.
 *
 * Observed text is normalised so the tables do not change from run to run:
 * temp directories become `$CODEX_HOME`/`$TMP`, ports `<port>`.
 *
 * @module
 */

/** The environment variable naming the Markdown file. */
export const EDGE_TABLE_ENV = "CDX_EDGE_TABLE";

/** A wait point × {SIGINT, SIGTERM, hang}. */
export interface WaitRow {
  table: "waits";
  /** Position of the point in the table. */
  order: number;
  point: string;
  /** How the test holds cdx there. */
  holds: string;
  column: "SIGINT" | "SIGTERM" | "hang";
  code: number | null;
  /** The last line cdx printed on stderr (or what happened instead). */
  outcome: string;
  /** What was left behind: "unchanged", "nothing saved", ... */
  state: string;
}

/** A keychain state × command. */
export interface KeychainRow {
  table: "keychain";
  order: number;
  state: string;
  command: string;
  code: number;
  outcome: string;
}

/** A mistake a user can make × what cdx says. */
export interface UserErrorRow {
  table: "user-errors";
  order: number;
  case: string;
  command: string;
  code: number;
  error: string;
  hint: string;
}

/** Any row. */
export type EdgeRow = WaitRow | KeychainRow | UserErrorRow;

/** Replaces run-specific text (temp paths, ports) so the table is stable. */
export function normalise(text: string, home?: string): string {
  let out = text;
  if (home) out = out.replaceAll(home, "$CODEX_HOME");
  return out
    .replace(/\/tmp\/[A-Za-z0-9._-]+/g, "$TMP")
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>")
    .replace(/\s+/g, " ")
    .trim();
}

/** The last non-empty line of `text`. */
export function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return lines.at(-1) ?? "";
}

/** The first line starting with `prefix` (e.g. `error:`), without the prefix. */
export function lineAfter(text: string, prefix: string): string {
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? "" : line.slice(prefix.length).trim();
}

/**
 * Records one observed row when `CDX_EDGE_TABLE` is set (else does nothing).
 *
 * @example
 * ```ts
 * await recordRow({ table: "keychain", order: 1, state: "locked", command: "login status", code: 3, outcome });
 * ```
 */
export async function recordRow(row: EdgeRow): Promise<void> {
  const path = Deno.env.get(EDGE_TABLE_ENV);
  if (!path) return;
  const lock = await Deno.open(`${path}.lock`, { read: true, write: true, create: true });
  try {
    await lock.lock(true);
    await Deno.writeTextFile(`${path}.jsonl`, `${JSON.stringify(row)}\n`, { append: true });
    const rows = (await Deno.readTextFile(`${path}.jsonl`)).split("\n").filter(Boolean)
      .map((line) => JSON.parse(line) as EdgeRow);
    await Deno.writeTextFile(path, renderTables(rows));
  } finally {
    lock.close();
  }
}

const cell = (text: string) => text.replaceAll("|", "\\|");

function byOrder<T extends EdgeRow>(rows: T[]): T[] {
  return [...rows].sort((a, b) => a.order - b.order);
}

/** One cell of the waits table: `130 · interrupted · unchanged`. */
function waitCell(row: WaitRow | undefined): string {
  if (!row) return "";
  const code = row.code === null ? "—" : String(row.code);
  return cell([code, row.outcome, row.state].filter(Boolean).join(" · "));
}

/** The three tables as Markdown (a table is left out when it has no rows). */
export function renderTables(rows: EdgeRow[]): string {
  const parts: string[] = [];
  const waits = byOrder(rows.filter((r): r is WaitRow => r.table === "waits"));
  if (waits.length) {
    const points = [...new Map(waits.map((r) => [r.point, r])).values()];
    const lines = [
      "| Wait point | Held by | Ctrl-C (SIGINT) | SIGTERM | Hang: the bound |",
      "| --- | --- | --- | --- | --- |",
    ];
    for (const p of points) {
      const of = (column: WaitRow["column"]) =>
        waits.find((r) => r.point === p.point && r.column === column);
      lines.push(
        `| ${cell(p.point)} | ${cell(p.holds)} | ${waitCell(of("SIGINT"))} | ${
          waitCell(of("SIGTERM"))
        } | ${waitCell(of("hang"))} |`,
      );
    }
    parts.push(lines.join("\n"));
  }
  const keychain = byOrder(rows.filter((r): r is KeychainRow => r.table === "keychain"));
  if (keychain.length) {
    const lines = ["| Keychain | Command | Exit | What cdx says |", "| --- | --- | ---: | --- |"];
    for (const r of keychain) {
      lines.push(`| ${cell(r.state)} | \`${cell(r.command)}\` | ${r.code} | ${cell(r.outcome)} |`);
    }
    parts.push(lines.join("\n"));
  }
  const errors = byOrder(rows.filter((r): r is UserErrorRow => r.table === "user-errors"));
  if (errors.length) {
    const lines = [
      "| Mistake | Command | Exit | error: | hint: (or usage:) |",
      "| --- | --- | ---: | --- | --- |",
    ];
    for (const r of errors) {
      lines.push(
        `| ${cell(r.case)} | \`${cell(r.command)}\` | ${r.code} | ${cell(r.error)} | ${
          cell(r.hint)
        } |`,
      );
    }
    parts.push(lines.join("\n"));
  }
  return `${parts.join("\n\n")}\n`;
}
