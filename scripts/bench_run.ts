// deno-lint-ignore-file no-console
/**
 * `cdx run` against `curl -sN` on the same stream of 10,000 deltas from the
 * local fake Responses server: median wall time of each, runs interleaved so
 * machine noise hits both alike. Goal: cdx at most 1.5× curl. Two streams:
 *
 * - start-up: a 1-delta stream (what both pay before streaming);
 * - burst: the whole stream as fast as the server writes it (start-up dominates);
 * - paced: 10,000 deltas over ~2 s, like a fast model (streaming overhead shows).
 *
 * Also measures Ctrl-C latency: SIGINT to exit of a `cdx run` mid-stream.
 *
 *   deno run -A scripts/bench_run.ts [--runs 10] [--deltas 10000]
 */
import { cdxCommandLine } from "../tests/helpers/cli.ts";
import {
  manyDeltas,
  type ScriptedResponse,
  slowStream,
  startResponsesServer,
} from "../tests/fakes/responses_server.ts";

const arg = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const RUNS = arg("--runs", 10);
const DELTAS = arg("--deltas", 10_000);
const KEY = "sk-bench-key-000000";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const home = await Deno.makeTempDir({ prefix: "cdx-bench-" });

/** The paced stream: the same events, written in groups of 5 every ms. */
function paced(step: ScriptedResponse): ScriptedResponse {
  const chunks = step.chunks!.map((c) => (typeof c === "string" ? c : new TextDecoder().decode(c)));
  const grouped: string[] = [];
  for (let i = 0; i < chunks.length; i += 5) grouped.push(chunks.slice(i, i + 5).join(""));
  return { chunks: grouped, chunkDelayMs: 1 };
}

async function time(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, { args, env, stdout: "null", stderr: "piped" }).output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(`${cmd} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
  return ms;
}

async function compare(label: string, step: ScriptedResponse) {
  await using server = startResponsesServer(() => step);
  const { cmd, args } = cdxCommandLine();
  const cdxArgs = [...args, "run", "--base-url", server.baseUrl, "bench"];
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    CODEX_HOME: home,
    OPENAI_API_KEY: KEY,
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
  };
  const body = JSON.stringify({ model: "m", input: "bench", stream: true, store: false });
  const curlArgs = [
    "-sN",
    "-X",
    "POST",
    `${server.baseUrl}/responses`,
    "-H",
    `authorization: Bearer ${KEY}`,
    "-H",
    "accept: text/event-stream",
    "-H",
    "content-type: application/json",
    "-d",
    body,
  ];
  // Warm-up: module cache, page cache, server JIT.
  await time(cmd, cdxArgs, env);
  await time("curl", curlArgs, env);
  const cdx: number[] = [];
  const curl: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    cdx.push(await time(cmd, cdxArgs, env));
    curl.push(await time("curl", curlArgs, env));
  }
  const a = median(cdx);
  const b = median(curl);
  console.log(
    `${label.padEnd(28)} cdx run ${a.toFixed(0).padStart(5)} ms   curl -sN ${
      b.toFixed(0).padStart(5)
    } ms   ratio ${(a / b).toFixed(2)}×`,
  );
}

async function ctrlC(): Promise<void> {
  await using server = startResponsesServer(() => slowStream(20));
  const { cmd, args } = cdxCommandLine();
  const latencies: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 5); i++) {
    const child = new Deno.Command(cmd, {
      args: [...args, "run", "--base-url", server.baseUrl, "x"],
      env: { PATH: Deno.env.get("PATH") ?? "", HOME: home, CODEX_HOME: home, OPENAI_API_KEY: KEY },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.getReader();
    let seen = "";
    while (!seen.includes("w3 ")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    const t0 = performance.now();
    child.kill("SIGINT");
    while (!(await reader.read()).done) { /* drain */ }
    const { code } = await child.status;
    latencies.push(performance.now() - t0);
    if (code !== 130) throw new Error(`exit ${code}, expected 130`);
  }
  console.log(
    `Ctrl-C mid-stream → exit 130: median ${median(latencies).toFixed(1)} ms, max ${
      Math.max(...latencies).toFixed(1)
    } ms`,
  );
}

try {
  console.log(`runs: ${RUNS} each, interleaved; ${DELTAS} deltas; Deno ${Deno.version.deno}`);
  await compare("start-up (1 delta)", manyDeltas(1));
  await compare(`burst (${DELTAS} deltas)`, manyDeltas(DELTAS));
  await compare(`paced (${DELTAS} deltas, ~2 s)`, paced(manyDeltas(DELTAS)));
  await ctrlC();
} finally {
  await Deno.remove(home, { recursive: true });
}
