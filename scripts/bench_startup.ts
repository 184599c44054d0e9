// deno-lint-ignore-file no-console
/**
 * Start-up cost of cdx: median wall time of `cdx --version` (and `cdx login
 * status`) run from source with the baked permission set, against `deno run`
 * of an empty file with the same flags. Runs are interleaved so machine noise
 * hits both sides alike. Goal: `--version` at most 1.3× the empty program.
 *
 * With `--cold`, every run also gets a fresh DENO_DIR that shares only the
 * npm package cache: no transpile cache and no V8 code cache, i.e. the first
 * start after an install or an upgrade. The module graph's size is printed too.
 *
 *   deno run -A scripts/bench_startup.ts [--runs 30] [--cold]
 */
const ROOT = new URL("..", import.meta.url).pathname;
const runsArg = Deno.args.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(Deno.args[runsArg + 1]) : 30;
const COLD = Deno.args.includes("--cold");
const info = JSON.parse(
  new TextDecoder().decode(
    (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stderr: "null" }).output())
      .stdout,
  ),
);
const realDenoDir: string = info.denoDir;

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
  let denoDir: string | undefined;
  if (COLD) {
    denoDir = await Deno.makeTempDir();
    await Deno.symlink(`${realDenoDir}/npm`, `${denoDir}/npm`);
  }
  const t0 = performance.now();
  await new Deno.Command(Deno.execPath(), {
    args,
    env: denoDir ? { ...env, DENO_DIR: denoDir } : env,
    stdout: "null",
    stderr: "null",
  }).output();
  const ms = performance.now() - t0;
  if (denoDir) await Deno.remove(denoDir, { recursive: true });
  return ms;
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
console.log(
  `runs: ${RUNS} each, interleaved, ${
    COLD ? "cold (fresh DENO_DIR each run)" : "warm"
  }; Deno ${Deno.version.deno}`,
);
for (const [name, xs] of Object.entries(samples)) {
  const m = median(xs);
  console.log(
    `${name.padEnd(18)} median ${m.toFixed(1).padStart(6)} ms   ratio ${(m / base).toFixed(2)}×`,
  );
}
const graph = JSON.parse(
  new TextDecoder().decode(
    (await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", `${ROOT}deno.json`, `${ROOT}cli.ts`],
      stderr: "null",
    }).output()).stdout,
  ),
);
const local = graph.modules.filter((m: { specifier: string }) => m.specifier.startsWith("file:"));
const bytes = local.reduce((n: number, m: { size?: number }) => n + (m.size ?? 0), 0);
console.log(
  `module graph of cli.ts: ${graph.modules.length} modules, ${local.length} of them cdx's own (${
    (bytes / 1024).toFixed(0)
  } KiB), plus npm packages (see \`deno info cli.ts\`)`,
);
await Deno.remove(empty);
await Deno.remove(home, { recursive: true });
