// deno-lint-ignore-file no-console
/**
 * `cdx run` against `curl -sN` on the same stream from the local fake
 * Responses server, runs interleaved in pairs so machine noise hits both
 * alike; each line reports the median and min–max of each tool and the ratio
 * of the medians. Three streams:
 *
 * - start-up: a 1-delta stream (what both pay before streaming);
 * - burst: 10,000 deltas written as fast as the server can (issue 15's goal: ≤ 3× curl);
 * - paced: 10,000 deltas over ~2 s, like a fast model.
 *
 * Then the per-delta cost without process start-up: the same burst through
 * `runRun` in this process (server in another process), stdout to /dev/null,
 * with the number of write calls; and Ctrl-C latency (SIGINT to exit 130).
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
import { createTestContext, mapEnv, type Output } from "../lib/context.ts";
import { type RunCommandOptions, runRun } from "../commands/run.ts";

const arg = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const RUNS = arg("--runs", 10);
const DELTAS = arg("--deltas", 10_000);
const KEY = "sk-bench-key-000000";

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => {
  const s = sorted(xs);
  return `${median(xs).toFixed(0).padStart(5)} ms (${s[0].toFixed(0)}–${s.at(-1)!.toFixed(0)})`;
};
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

const medians: Record<string, { cdx: number; curl: number }> = {};

async function compare(label: string, step: ScriptedResponse) {
  await using server = startResponsesServer(() => step);
  const { cmd, args } = cdxCommandLine();
  const cdxArgs = [...args, "run", "--ephemeral", "--base-url", server.baseUrl, "bench"];
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
  medians[label] = { cdx: median(cdx), curl: median(curl) };
  console.log(
    `${label.padEnd(28)} cdx run ${spread(cdx)}   curl -sN ${spread(curl)}   ratio ${
      (median(cdx) / median(curl)).toFixed(2)
    }×`,
  );
}

/** The burst through runRun in this process: the per-delta cost without start-up. */
async function inProcess(): Promise<void> {
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../tests/fakes/responses_server.ts", import.meta.url).pathname,
      "--deltas",
      String(DELTAS),
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const baseUrl = (await reader.read()).value!.trim();
  const devnull = await Deno.open("/dev/null", { write: true });
  let writes = 0;
  const stdout: Output = {
    isTTY: false,
    color: false,
    async write(data) {
      writes++;
      let bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      while (bytes.length) bytes = bytes.subarray(await devnull.write(bytes));
    },
    writeSync() {},
  };
  const options = {
    command: "run",
    prompt: "bench",
    baseUrl,
    images: [],
    config: [],
    ephemeral: true,
  } as unknown as RunCommandOptions;
  const times: number[] = [];
  try {
    for (let i = 0; i < RUNS + 1; i++) {
      writes = 0;
      const ctx = createTestContext({
        env: mapEnv({ OPENAI_API_KEY: KEY }),
        stdout,
        fetch: globalThis.fetch.bind(globalThis),
        globals: { codexHome: home },
      });
      const t0 = performance.now();
      await runRun(ctx, options);
      if (i > 0) times.push(performance.now() - t0); // the first one warms up
    }
  } finally {
    devnull.close();
    server.kill();
    await server.status;
  }
  console.log(
    `in-process burst (${DELTAS} deltas)  ${spread(times)}   ${
      (median(times) * 1000 / DELTAS).toFixed(1)
    } µs/delta, ${writes} stdout writes`,
  );
}

async function ctrlC(): Promise<void> {
  await using server = startResponsesServer(() => slowStream(20));
  const { cmd, args } = cdxCommandLine();
  const latencies: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 5); i++) {
    const child = new Deno.Command(cmd, {
      args: [...args, "run", "--ephemeral", "--base-url", server.baseUrl, "x"],
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
  console.log(`Ctrl-C mid-stream → exit 130: ${spread(latencies)}`);
}

try {
  console.log(`runs: ${RUNS} each, interleaved; ${DELTAS} deltas; Deno ${Deno.version.deno}`);
  await compare("start-up (1 delta)", manyDeltas(1));
  await compare(`burst (${DELTAS} deltas)`, manyDeltas(DELTAS));
  await compare(`paced (${DELTAS} deltas, ~2 s)`, paced(manyDeltas(DELTAS)));
  const start = medians["start-up (1 delta)"];
  const burst = medians[`burst (${DELTAS} deltas)`];
  console.log(
    `streaming alone (burst − start-up medians): cdx run ${
      (burst.cdx - start.cdx).toFixed(0)
    } ms, curl -sN ${(burst.curl - start.curl).toFixed(0)} ms`,
  );
  await inProcess();
  await ctrlC();
} finally {
  await Deno.remove(home, { recursive: true });
}
