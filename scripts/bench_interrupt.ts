// deno-lint-ignore-file no-console
/**
 * How fast cdx ends after Ctrl-C (or SIGTERM) at each place it waits: the
 * time from the signal to the process's exit, at every point of the
 * interrupt table (tests/helpers/wait_points.ts: the same fixtures, the real
 * CLI), plus cli.ts's main loop alone around a bare cancellable wait
 * (tests/fixtures/wait_cli.ts) as the floor. The tests check exit codes and
 * messages; the speed goal (≤ 100 ms) is measured here, never asserted.
 *
 * At the terminal prompt the signal is a real Ctrl-C typed into a
 * pseudo-terminal (timed by the pty driver); elsewhere it is `kill`.
 *
 *   deno run -A scripts/bench_interrupt.ts [--runs 7] [--signals SIGINT,SIGTERM] [--points id,id]
 */
import { spawnCdx } from "../tests/helpers/cli.ts";
import { WAIT_POINTS } from "../tests/helpers/wait_points.ts";

type Signal = "SIGINT" | "SIGTERM";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}
const RUNS = Number(arg("--runs") ?? 7);
const SIGNALS = (arg("--signals") ?? "SIGINT").split(",") as Signal[];
const ONLY = arg("--points")?.split(",");
const ROOT = new URL("..", import.meta.url).pathname;
const ENTRY = `${ROOT}tests/fixtures/wait_cli.ts`;
const GOAL_MS = 100;

/** cli.ts's main loop around a bare cancellable wait: the floor of every point. */
async function mainLoopOnce(signal: Signal): Promise<number> {
  const home = await Deno.makeTempDir({ prefix: "cdx-bench-interrupt-" });
  try {
    const child = spawnCdx(["run", "wait"], { entry: ENTRY, env: { CODEX_HOME: home } });
    const reader = child.stdout.getReader();
    let seen = "";
    while (!seen.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`child ended before ready: ${seen}`);
      seen += new TextDecoder().decode(value);
    }
    const sent = performance.now();
    child.kill(signal);
    const status = await child.status;
    const ms = performance.now() - sent;
    while (!(await reader.read()).done) { /* drain */ }
    await child.stderr.cancel();
    if (status.code !== (signal === "SIGINT" ? 130 : 143)) {
      throw new Error(`${signal}: exit ${status.code}`);
    }
    return ms;
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

async function pointOnce(id: string, signal: Signal): Promise<number> {
  const point = WAIT_POINTS.find((p) => p.id === id)!;
  const o = await point.run(signal);
  if (o.code !== (signal === "SIGINT" ? 130 : 143) || o.exitMs === undefined) {
    throw new Error(`${id} ${signal}: exit ${o.code}\n${o.stderr}`);
  }
  return o.exitMs;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)];

const rows: Array<[string, (signal: Signal) => Promise<number>]> = [
  ["cli.ts main loop alone (a bare cancellable wait)", mainLoopOnce],
  ...WAIT_POINTS.filter((p) => !ONLY || ONLY.includes(p.id)).map((p) =>
    [p.title, (signal: Signal) => pointOnce(p.id, signal)] as [
      string,
      (signal: Signal) => Promise<number>,
    ]
  ),
];

const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "? ? ?")).split(" ")
  .slice(0, 3).join(" ");
console.log(
  `signal → exit; ${RUNS} runs per cell after one warm-up; load average ${load}; goal ≤ ${GOAL_MS} ms\n`,
);
console.log(`| Wait point | ${SIGNALS.map((s) => `${s} median / max`).join(" | ")} |`);
console.log(`| --- | ${SIGNALS.map(() => "---:").join(" | ")} |`);
for (const [title, once] of rows) {
  const cells: string[] = [];
  for (const signal of SIGNALS) {
    await once(signal); // warm-up: module cache, fakes
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await once(signal));
    cells.push(`${median(times).toFixed(0)} / ${Math.max(...times).toFixed(0)} ms`);
  }
  console.log(`| ${title} | ${cells.join(" | ")} |`);
}
