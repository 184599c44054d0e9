/**
 * Runs the standing fault suite (`tests/faults/`) with `CDX_FAULT_TABLE`
 * set and prints the fault matrix as Markdown (cases, failures, credentials
 * lost, secrets leaked per row) — the table in the README's "Fault matrix".
 *
 * Usage: `deno run -A scripts/fault_table.ts [--out FILE]`
 * (exit code: the test run's).
 *
 * @module
 */
const args = Deno.args;
const outIndex = args.indexOf("--out");
const dir = await Deno.makeTempDir({ prefix: "cdx-fault-table-" });
const table = outIndex >= 0 ? args[outIndex + 1] : `${dir}/fault-table.md`;
for (const stale of [table, `${table}.json`]) await Deno.remove(stale).catch(() => {});

const root = new URL("..", import.meta.url).pathname;
const started = performance.now();
const run = await new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--parallel", "tests/faults/"],
  cwd: root,
  // The full matrix: SIGINT and SIGTERM at every checkpoint (the standing suite alternates them).
  env: { CDX_FAULT_TABLE: table, CDX_FAULT_FULL: "1" },
  stdout: "inherit",
  stderr: "inherit",
}).output();
const seconds = ((performance.now() - started) / 1000).toFixed(0);

const encoder = new TextEncoder();
try {
  const text = await Deno.readTextFile(table);
  Deno.stdout.writeSync(encoder.encode(`\n${text}\n(the fault suite took ${seconds} s)\n`));
} catch {
  Deno.stderr.writeSync(encoder.encode(`no table was written to ${table}\n`));
}
await Deno.remove(dir, { recursive: true }).catch(() => {});
Deno.exit(run.code);
