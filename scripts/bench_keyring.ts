/**
 * Keychain speed on Linux: cdx's save/load/delete (secret-tool backend +
 * chunking) against the bare `secret-tool` calls, on a private, unlocked
 * gnome-keyring (never the user's). Prints the median time per operation,
 * cdx's overhead over the same sequence of bare tool calls, and the spawn
 * count per operation. Then long values: `secret-tool store` of 8191 bytes
 * (its limit) against cdx's own D-Bus write of 8191 bytes and of 20 KB.
 *
 *   deno run -A scripts/bench_keyring.ts [iterations=30]
 *
 * @module
 */
import { mapEnv } from "../lib/context.ts";
import { createProcessRunner } from "../lib/process.ts";
import {
  codexAttributeMap,
  codexAttributes,
  codexLabel,
  createPlatformKeyring,
  storeSecretOverDbus,
} from "../lib/keyring/mod.ts";
import { hasSecretServiceTools, startSecretService } from "../tests/helpers/secret_service.ts";
import { recordingRunner } from "../tests/helpers/recording_runner.ts";
import { runChild } from "../tests/helpers/spawn.ts";

const iterations = Number(Deno.args[0] ?? 30);
const SERVICE = "Codex Auth";
const VALUE = JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: `sk-bench-${"x".repeat(48)}` });
const encoder = new TextEncoder();

if (!hasSecretServiceTools()) {
  Deno.stderr.writeSync(encoder.encode("needs secret-tool, dbus-daemon, gnome-keyring-daemon\n"));
  Deno.exit(2);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

await using ss = await startSecretService();

/** The bare tool, as a shell script would call it (no cdx code around it). */
async function bare(args: string[], stdin?: string): Promise<void> {
  await runChild("secret-tool", args, { env: ss.env, stdin });
}

const attrs = (account: string) => codexAttributes(SERVICE, account);
const bareStore = (a: string) =>
  bare(["store", `--label=${codexLabel(SERVICE, a)}`, ...attrs(a)], VALUE);
const bareLookup = (a: string) => bare(["lookup", ...attrs(a)]);
const bareClear = (a: string) => bare(["clear", ...attrs(a)]);

const runner = recordingRunner(createProcessRunner());
const keyring = createPlatformKeyring({ os: "linux", runner, env: mapEnv(ss.env) });

const spawnsPerOp: Record<string, number> = {};
async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}
async function timeCdx(op: string, fn: () => Promise<unknown>): Promise<number> {
  const before = runner.spawns.length;
  const ms = await time(fn);
  spawnsPerOp[op] = runner.spawns.length - before;
  return ms;
}

// Warm-up (JIT, page cache, keyring file).
for (let i = 0; i < 3; i++) {
  await keyring.save(SERVICE, "cli|warm", VALUE);
  await keyring.load(SERVICE, "cli|warm");
  await keyring.delete(SERVICE, "cli|warm");
  await bareStore("cli|warm");
  await bareLookup("cli|warm");
  await bareClear("cli|warm");
}

// Each cdx operation is paired with the same sequence of bare secret-tool
// calls cdx makes for it; the order alternates to cancel drift. The paired
// differences are robust to the machine's load changing during the run.
type Op = "save" | "load" | "delete";
const samples: Record<Op, { cdx: number[]; bare: number[]; diff: number[] }> = {
  save: { cdx: [], bare: [], diff: [] },
  load: { cdx: [], bare: [], diff: [] },
  delete: { cdx: [], bare: [], diff: [] },
};
const bareOps: Record<Op, (a: string) => Promise<void>> = {
  save: async (a) => {
    await bareLookup(a);
    await bareStore(a);
    await bareLookup(a);
  },
  load: (a) => bareLookup(a),
  delete: async (a) => {
    await bareLookup(a);
    await bareClear(a);
  },
};
const cdxOps: Record<Op, (a: string) => Promise<unknown>> = {
  save: (a) => keyring.save(SERVICE, a, VALUE),
  load: (a) => keyring.load(SERVICE, a),
  delete: (a) => keyring.delete(SERVICE, a),
};
for (let i = 0; i < iterations; i++) {
  for (const op of ["save", "load", "delete"] as const) {
    let bareMs: number, cdxMs: number;
    if (i % 2 === 0) {
      bareMs = await time(() => bareOps[op](`cli|bare${i}`));
      cdxMs = await timeCdx(op, () => cdxOps[op](`cli|cdx${i}`));
    } else {
      cdxMs = await timeCdx(op, () => cdxOps[op](`cli|cdx${i}`));
      bareMs = await time(() => bareOps[op](`cli|bare${i}`));
    }
    samples[op].bare.push(bareMs);
    samples[op].cdx.push(cdxMs);
    samples[op].diff.push(cdxMs - bareMs);
  }
}

const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * q)];
const f = (n: number) => n.toFixed(2);
const lines = [
  `secret-tool, private gnome-keyring, ${iterations} iterations, value ${VALUE.length} bytes, load average ${
    Deno.loadavg()[0].toFixed(1)
  }`,
  "op      spawns  bare ms (median)  cdx ms (median)  cdx-bare paired median [p25..p75] ms  per spawn ms",
];
for (const op of ["load", "save", "delete"] as const) {
  const { cdx, bare, diff } = samples[op];
  const n = spawnsPerOp[op];
  lines.push(
    `${op.padEnd(7)} ${String(n).padStart(6)}  ${f(median(bare)).padStart(16)}  ${
      f(median(cdx)).padStart(15)
    }  ${f(median(diff)).padStart(10)} [${f(quantile(diff, 0.25))}..${f(quantile(diff, 0.75))}]${
      "".padStart(8)
    }  ${f(median(diff) / n).padStart(6)}`,
  );
}

// Long values: `secret-tool store` keeps at most 8191 bytes; longer values are
// written over D-Bus by cdx itself. Each sample is one fresh item (the keyring
// file is rewritten per write, so its size is kept alike across cases).
const longValue = (bytes: number) => "v".repeat(bytes);
const long: Record<string, () => Promise<unknown>> = {
  "secret-tool store, 8191 B": () =>
    bare(["store", "--label=bench", ...attrs("cli|long-bare")], longValue(8191)),
  "D-Bus write, 8191 B": () => writeOverDbus("cli|long-dbus8", 8191),
  "D-Bus write, 20 KB": () => writeOverDbus("cli|long-dbus20", 20_000),
  "cdx save, 20 KB (peek + D-Bus + read-back)": () =>
    keyring.save(SERVICE, "cli|long-cdx", longValue(20_000)),
};
function writeOverDbus(account: string, bytes: number): Promise<void> {
  return storeSecretOverDbus({
    env: mapEnv(ss.env),
    attributes: codexAttributeMap(SERVICE, account),
    label: codexLabel(SERVICE, account),
    secret: longValue(bytes),
  });
}
const longSamples: Record<string, number[]> = Object.fromEntries(
  Object.keys(long).map((k) => [k, []]),
);
for (let i = 0; i < iterations; i++) {
  const names = Object.keys(long);
  if (i % 2 === 1) names.reverse();
  for (const name of names) longSamples[name].push(await time(long[name]));
}
lines.push("", "long values (median [p25..p75] ms)");
for (const [name, values] of Object.entries(longSamples)) {
  lines.push(
    `${name.padEnd(44)} ${f(median(values)).padStart(7)} [${f(quantile(values, 0.25))}..${
      f(quantile(values, 0.75))
    }]`,
  );
}
Deno.stdout.writeSync(encoder.encode(`${lines.join("\n")}\n`));
