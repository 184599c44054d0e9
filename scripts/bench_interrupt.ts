// deno-lint-ignore-file no-console
/**
 * How fast cdx ends after Ctrl-C or SIGTERM during a cancellable wait: the
 * time from the signal to the process's exit, through cli.ts's real main loop
 * (signal handlers, Context signal, error mapping, exit hooks) around a long
 * wait (tests/fixtures/wait_cli.ts). The tests check the exit code and the
 * message; the speed goal (≤ 100 ms) is measured here, not asserted there.
 *
 *   deno run -A scripts/bench_interrupt.ts [--runs 15]
 */
import { spawnCdx } from "../tests/helpers/cli.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const runsArg = Deno.args.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(Deno.args[runsArg + 1]) : 15;
const ENTRY = `${ROOT}tests/fixtures/wait_cli.ts`;
const GOAL_MS = 100;

async function once(signal: "SIGINT" | "SIGTERM"): Promise<number> {
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
    const expected = signal === "SIGINT" ? 130 : 143;
    if (status.code !== expected) throw new Error(`${signal}: exit ${status.code}`);
    return ms;
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`signal → exit during a cancellable wait; ${RUNS} runs each; goal ≤ ${GOAL_MS} ms\n`);
console.log("| signal | median | min–max | exit |");
console.log("| --- | ---: | ---: | ---: |");
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  await once(signal); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await once(signal));
  console.log(
    `| ${signal} | ${median(times).toFixed(0)} ms | ${Math.min(...times).toFixed(0)}–${
      Math.max(...times).toFixed(0)
    } ms | ${signal === "SIGINT" ? 130 : 143} |`,
  );
}
