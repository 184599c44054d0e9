/**
 * Keychain speed on Linux: cdx's save/load/delete (secret-tool backend +
 * chunking) against the bare `secret-tool` calls, on a private, unlocked
 * gnome-keyring (never the user's). Prints the median time per operation,
 * cdx's overhead over the same sequence of bare tool calls, and the spawn
 * count per operation.
 *
 *   deno run -A scripts/bench_keyring.ts [iterations=30]
 *
 * @module
 */
import { mapEnv } from "../lib/context.ts";
import { createProcessRunner } from "../lib/process.ts";
import { codexAttributes, codexLabel, createPlatformKeyring } from "../lib/keyring/mod.ts";
import { hasSecretServiceTools, startSecretService } from "../tests/helpers/secret_service.ts";
import { recordingRunner } from "../tests/helpers/recording_runner.ts";

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

async function bare(args: string[], stdin?: string): Promise<void> {
  const child = new Deno.Command("secret-tool", {
    args,
    env: ss.env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(stdin));
    await writer.close();
  }
  await child.output();
}

const attrs = (account: string) => codexAttributes(SERVICE, account);
const bareStore = (a: string) =>
  bare(["store", `--label=${codexLabel(SERVICE, a)}`, ...attrs(a)], VALUE);
const bareLookup = (a: string) => bare(["lookup", ...attrs(a)]);
const bareClear = (a: string) => bare(["clear", ...attrs(a)]);

const runner = recordingRunner(createProcessRunner());
const keyring = createPlatformKeyring({ os: "linux", runner, env: mapEnv(ss.env) });

const times: Record<string, number[]> = {};
const spawns: Record<string, number> = {};
async function time(name: string, fn: () => Promise<unknown>): Promise<void> {
  const before = runner.spawns.length;
  const started = performance.now();
  await fn();
  (times[name] ??= []).push(performance.now() - started);
  spawns[name] = runner.spawns.length - before;
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

for (let i = 0; i < iterations; i++) {
  const a = `cli|bench${i}`;
  // The bare sequences are the same tool calls cdx makes for each operation.
  await time("bare store", () => bareStore(a));
  await time("bare lookup", () => bareLookup(a));
  await time("bare clear", () => bareClear(a));
  await time("bare save sequence (lookup+store+lookup)", async () => {
    await bareLookup(a);
    await bareStore(a);
    await bareLookup(a);
  });
  await time("bare delete sequence (lookup+clear)", async () => {
    await bareLookup(a);
    await bareClear(a);
  });
  await time("cdx save", () => keyring.save(SERVICE, a, VALUE));
  await time("cdx load", () => keyring.load(SERVICE, a));
  await time("cdx delete", () => keyring.delete(SERVICE, a));
}

const m = (name: string) => median(times[name]);
const rows: Array<[string, string, string, number]> = [
  ["load", "bare lookup", "cdx load", spawns["cdx load"]],
  ["save", "bare save sequence (lookup+store+lookup)", "cdx save", spawns["cdx save"]],
  ["delete", "bare delete sequence (lookup+clear)", "cdx delete", spawns["cdx delete"]],
];
const lines = [
  `secret-tool, private gnome-keyring, ${iterations} iterations, medians, value ${VALUE.length} bytes`,
  `bare single calls: store ${m("bare store").toFixed(2)} ms, lookup ${
    m("bare lookup").toFixed(2)
  } ms, clear ${m("bare clear").toFixed(2)} ms`,
  "op      cdx ms   same bare calls ms   overhead ms   overhead/spawn ms   spawns",
];
for (const [op, bareName, cdxName, n] of rows) {
  const overhead = m(cdxName) - m(bareName);
  lines.push(
    `${op.padEnd(7)} ${m(cdxName).toFixed(2).padStart(6)}   ${
      m(bareName).toFixed(2).padStart(18)
    }   ${overhead.toFixed(2).padStart(11)}   ${(overhead / n).toFixed(2).padStart(17)}   ${n}`,
  );
}
Deno.stdout.writeSync(encoder.encode(`${lines.join("\n")}\n`));
