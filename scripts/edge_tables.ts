// deno-lint-ignore-file no-console
/**
 * Runs the three edge-table tests with `CDX_EDGE_TABLE` set and prints the
 * tables they observed as Markdown: every wait point × {Ctrl-C, SIGTERM,
 * hang}, every keychain state × command, every user mistake × command —
 * the README's "Fault table" section.
 *
 *   deno task edges                 # print the tables (exit code: the tests')
 *   deno task edges --write-readme  # also replace them in README.md
 *
 * @module
 */
const ROOT = new URL("..", import.meta.url).pathname;
const TESTS = [
  "tests/interrupt_table_test.ts",
  "tests/keychain_states_test.ts",
  "tests/user_errors_test.ts",
];
const START = "<!-- edge-tables: deno task edges --write-readme -->";
const END = "<!-- /edge-tables -->";

const dir = await Deno.makeTempDir({ prefix: "cdx-edge-tables-" });
const table = `${dir}/tables.md`;
const started = performance.now();
const run = await new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--parallel", ...TESTS],
  cwd: ROOT,
  env: { CDX_EDGE_TABLE: table },
  stdout: "inherit",
  stderr: "inherit",
}).output();
const seconds = ((performance.now() - started) / 1000).toFixed(0);

let text: string | undefined;
try {
  text = await Deno.readTextFile(table);
} catch {
  console.error(`no table was written to ${table}`);
}
await Deno.remove(dir, { recursive: true }).catch(() => {});
if (text) {
  console.log(`\n${text}\n(the three tests took ${seconds} s)`);
  if (Deno.args.includes("--write-readme")) {
    const readme = await Deno.readTextFile(`${ROOT}README.md`);
    const from = readme.indexOf(START);
    const to = readme.indexOf(END);
    if (from < 0 || to < from) {
      console.error(`README.md has no ${START} … ${END} section`);
      Deno.exit(1);
    }
    await Deno.writeTextFile(
      `${ROOT}README.md`,
      `${readme.slice(0, from + START.length)}\n\n${text}\n${readme.slice(to)}`,
    );
    // The tables in the form `deno fmt --check` keeps.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "README.md"], cwd: ROOT }).output();
    console.log("README.md updated");
  }
}
Deno.exit(run.code);
