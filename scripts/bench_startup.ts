// deno-lint-ignore-file no-console
/**
 * Start-up cost of cdx: median wall time of `cdx --version` (and `cdx login
 * status`) run from source with the baked permission set, against `deno run`
 * of an empty file with the same flags. Runs are interleaved so machine noise
 * hits both sides alike. Goal: `--version` at most 1.3× the empty program.
 *
 *   deno run -A scripts/bench_startup.ts [--runs 30]
 */
const ROOT = new URL("..", import.meta.url).pathname;
const runsArg = Deno.args.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(Deno.args[runsArg + 1]) : 30;

const empty = await Deno.makeTempFile({ suffix: ".ts" });
const home = await Deno.makeTempDir();
const flags = ["run", "-q", "-P=cdx", "--config", `${ROOT}deno.json`];
const env = { CODEX_HOME: home, NO_COLOR: "1", CDX_CREDENTIALS_STORE: "file" };

const cases: Record<string, string[]> = {
  "empty program": [...flags, empty],
  "cdx --version": [...flags, `${ROOT}cli.ts`, "--version"],
  "cdx login status": [...flags, `${ROOT}cli.ts`, "login", "status"],
};

async function once(args: string[]): Promise<number> {
  const t0 = performance.now();
  await new Deno.Command(Deno.execPath(), { args, env, stdout: "null", stderr: "null" }).output();
  return performance.now() - t0;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

// Warm the module cache and the OS page cache first.
for (const args of Object.values(cases)) await once(args);
const samples: Record<string, number[]> = Object.fromEntries(
  Object.keys(cases).map((k) => [k, []]),
);
for (let i = 0; i < RUNS; i++) {
  for (const [name, args] of Object.entries(cases)) samples[name].push(await once(args));
}
const base = median(samples["empty program"]);
console.log(`runs: ${RUNS} each, interleaved; Deno ${Deno.version.deno}`);
for (const [name, xs] of Object.entries(samples)) {
  const m = median(xs);
  console.log(
    `${name.padEnd(18)} median ${m.toFixed(1).padStart(6)} ms   ratio ${(m / base).toFixed(2)}×`,
  );
}
await Deno.remove(empty);
await Deno.remove(home, { recursive: true });
