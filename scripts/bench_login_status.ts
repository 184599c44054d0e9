// deno-lint-ignore-file no-console
/**
 * Wall time of `cdx login status` per credential store, each run a fresh
 * process with the binary's permissions (what a user or a script pays):
 *
 * - file, no keychain reachable;
 * - file, keychain reachable (status also probes it, to warn about the plain file);
 * - keyring (private gnome-keyring through secret-tool);
 * - auto with the credentials in the keychain;
 *
 * plus a `cdx --version` baseline (process start-up alone).
 *
 * Usage: `deno run -A scripts/bench_login_status.ts [runs=7]`. Prints the
 * median and min/max per store. Needs secret-tool, gnome-keyring-daemon and
 * dbus-daemon for the keychain rows (skipped otherwise).
 */
import { runCdx } from "../tests/helpers/cli.ts";
import { hasSecretServiceTools, startSecretService } from "../tests/helpers/secret_service.ts";

const runs = Number(Deno.args[0] ?? 7);
const KEY = "sk-proj-bench-0123456789abcdefghij";

async function measure(
  label: string,
  env: Record<string, string>,
  args: string[],
): Promise<void> {
  const times: number[] = [];
  // One warm-up run (module cache), not counted.
  const warm = await runCdx(args, { env });
  if (warm.code !== 0) throw new Error(`${label}: exit ${warm.code}: ${warm.stderr}`);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await runCdx(args, { env });
    times.push(performance.now() - t0);
    if (r.code !== 0) throw new Error(`${label}: exit ${r.code}: ${r.stderr}`);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `${label.padEnd(34)} median ${median.toFixed(0).padStart(5)} ms   (min ${
      times[0].toFixed(0)
    }, max ${times.at(-1)!.toFixed(0)}, n=${runs})`,
  );
}

const home = await Deno.makeTempDir({ prefix: "cdx-bench-status-" });
try {
  await measure("baseline: cdx --version", {}, ["--version"]);
  const noBus = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${home}/no-bus` };
  const fileHome = `${home}/file`;
  await runCdx(["login", "--with-api-key", "--store", "file"], {
    env: { CODEX_HOME: fileHome },
    stdin: KEY,
  });
  await measure("file (no keychain)", { CODEX_HOME: fileHome, ...noBus }, [
    "login",
    "status",
    "--store",
    "file",
  ]);
  if (Deno.build.os === "linux" && hasSecretServiceTools()) {
    const ss = await startSecretService();
    try {
      await measure("file (keychain reachable, probed)", { CODEX_HOME: fileHome, ...ss.env }, [
        "login",
        "status",
        "--store",
        "file",
      ]);
      const krHome = `${home}/keyring`;
      const env = { CODEX_HOME: krHome, ...ss.env };
      const saved = await runCdx(["login", "--with-api-key", "--store", "keyring"], {
        env,
        stdin: KEY,
      });
      if (saved.code !== 0) throw new Error(saved.stderr);
      await measure("keyring (secret-tool)", env, ["login", "status", "--store", "keyring"]);
      await measure("auto (credentials in keychain)", env, ["login", "status"]);
    } finally {
      await ss.stop();
    }
  } else {
    console.log("keychain rows skipped: no Secret Service test tools");
  }
} finally {
  await Deno.remove(home, { recursive: true });
}
