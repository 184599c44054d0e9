// deno-lint-ignore-file no-console
/**
 * Start-up cost of cdx, as scripts see it: wall time of `cdx --version`,
 * `--help`, `login status` and `login token` (API key in the file store, and
 * in the keychain), each against an empty program started the same way.
 *
 * From source (default) the base is `deno run -q -P=cdx` of an empty file —
 * the flags `deno task cdx` and the binary use. With `--binary PATH` the rows
 * run a compiled cdx, against a compiled empty program (built with
 * `deno compile` unless `--baseline PATH` names one; when that fails, against
 * the binary's `--version`, which loads nothing). The release workflow runs it
 * that way for every target.
 *
 * Each row alternates empty/cdx runs (interleaved pairs, so machine noise hits
 * both alike) and prints the median, min–max and the median of the per-pair
 * ratios. Goals (issue 15): `login status`/`login token` ≤ 1.3×, `--help` ≤ 1.5×.
 *
 * Keychain rows: on Linux against a private gnome-keyring on a private D-Bus
 * (tests/helpers/secret_service.ts; needs secret-tool, gnome-keyring,
 * dbus-daemon); on macOS and Windows only with `--real-keychain` (CI runners:
 * it writes a `Codex Auth` item for a temp CODEX_HOME, and removes it).
 *
 *   deno run -A scripts/bench_startup.ts [--runs 15] [--cold] [--json]
 *   deno run -A scripts/bench_startup.ts --binary dist/cdx-x86_64-unknown-linux-gnu
 *
 * `--cold`: every run gets a fresh DENO_DIR sharing only the npm cache (no
 * transpile or code cache: the first start after an install). `run`'s
 * streaming rows are scripts/bench_run.ts.
 */
import { hasSecretServiceTools, startSecretService } from "../tests/helpers/secret_service.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const args = Deno.args;
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(option("--runs") ?? 15);
const COLD = args.includes("--cold");
const BINARY = option("--binary");
const REAL_KEYCHAIN = args.includes("--real-keychain");
const JSON_OUT = args.includes("--json");
const KEY = "sk-proj-bench-0123456789abcdefghij";
const windows = Deno.build.os === "windows";

const work = await Deno.makeTempDir({ prefix: "cdx-bench-startup-" });
const emptyFile = `${work}/empty.ts`;
await Deno.writeTextFile(emptyFile, "");
const PERMISSION_SET = windows ? "cdx-windows" : "cdx";
const denoFlags = ["run", "-q", `-P=${PERMISSION_SET}`, "--config", `${ROOT}deno.json`];

function denoDirOf(): string {
  const out = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stderr: "null" })
    .outputSync();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}
const realDenoDir = Deno.env.get("DENO_DIR") ?? denoDirOf();

/** A way to start a program: argv prefix. */
interface Launcher {
  cmd: string;
  pre: string[];
}
const cdx: Launcher = BINARY
  ? { cmd: BINARY, pre: [] }
  : { cmd: Deno.execPath(), pre: [...denoFlags, `${ROOT}cli.ts`] };

async function baselineLauncher(): Promise<{ launcher: Launcher; label: string }> {
  if (!BINARY) {
    return {
      launcher: { cmd: Deno.execPath(), pre: [...denoFlags, emptyFile] },
      label: "`deno run -q -P=cdx` of an empty file",
    };
  }
  const given = option("--baseline");
  if (given) return { launcher: { cmd: given, pre: [] }, label: `${given}` };
  const out = `${work}/empty${windows ? ".exe" : ""}`;
  const built = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "-q",
      `-P=${PERMISSION_SET}`,
      "--config",
      `${ROOT}deno.json`,
      "-o",
      out,
      emptyFile,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (built.success) {
    return { launcher: { cmd: out, pre: [] }, label: "an empty program compiled the same way" };
  }
  console.error(
    `bench: could not compile an empty baseline (${
      new TextDecoder().decode(built.stderr).trim().split("\n").at(-1)
    }); using \`cdx --version\` as the base`,
  );
  return {
    launcher: { cmd: BINARY, pre: ["--version"] },
    label: "`cdx --version` (loads nothing)",
  };
}

/** Environment of every run: nothing of the user's (no real HOME, keychain or codex home). */
function runEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "",
    HOME: `${work}/home`,
    NO_COLOR: "1",
    DENO_DIR: realDenoDir,
    DENO_NO_UPDATE_CHECK: "1",
    // No session bus unless a row brings its own: the file rows never reach a keychain.
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${work}/no-bus`,
    ...extra,
  };
  for (
    const name of ["SystemRoot", "USERPROFILE", "TEMP", "TMP", "TMPDIR", "APPDATA", "LOCALAPPDATA"]
  ) {
    const value = Deno.env.get(name);
    if (value !== undefined && env[name] === undefined) env[name] = value;
  }
  return env;
}

async function once(
  launcher: Launcher,
  argv: string[],
  env: Record<string, string>,
  expectCode?: number,
): Promise<number> {
  let denoDir: string | undefined;
  if (COLD && !BINARY) {
    denoDir = await Deno.makeTempDir({ dir: work });
    await Deno.symlink(`${realDenoDir}/npm`, `${denoDir}/npm`);
  }
  const t0 = performance.now();
  const out = await new Deno.Command(launcher.cmd, {
    args: [...launcher.pre, ...argv],
    env: denoDir ? { ...env, DENO_DIR: denoDir } : env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (denoDir) await Deno.remove(denoDir, { recursive: true });
  if (expectCode !== undefined && out.code !== expectCode) {
    throw new Error(
      `${argv.join(" ")}: exit ${out.code}, expected ${expectCode}: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return ms;
}

/** One row of the table. */
interface Row {
  name: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  baseMedianMs: number;
  /** Median of cdx/base over the interleaved pairs. */
  ratio: number;
  goal?: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(
  name: string,
  base: Launcher,
  argv: string[],
  env: Record<string, string>,
  goal?: number,
): Promise<Row> {
  // Warm-up, not counted (module cache, page cache); it also checks the command works.
  await once(base, [], env, 0);
  await once(cdx, argv, env, 0);
  const times: number[] = [];
  const bases: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const b = await once(base, [], env);
    const t = await once(cdx, argv, env);
    bases.push(b);
    times.push(t);
    ratios.push(t / b);
  }
  return {
    name,
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    baseMedianMs: median(bases),
    ratio: median(ratios),
    goal,
  };
}

/** A config.toml as codex users have one: cdx parses it on every start. */
const CONFIG_TOML = `model = "gpt-5.5"
model_reasoning_effort = "high"
approval_policy = "on-request"

[tui]
notifications = true
`;

async function loginWithKey(home: string, store: string, env: Record<string, string>) {
  await Deno.mkdir(home, { recursive: true });
  await Deno.writeTextFile(`${home}/config.toml`, CONFIG_TOML);
  const child = new Deno.Command(cdx.cmd, {
    args: [...cdx.pre, "login", "--with-api-key", "--store", store],
    env: { ...env, CODEX_HOME: home },
    clearEnv: true,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(KEY));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`login --store ${store}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

const rows: Row[] = [];
const notes: string[] = [];
const { launcher: base, label: baseLabel } = await baselineLauncher();
try {
  const plain = runEnv({ CODEX_HOME: `${work}/none` });
  rows.push(await measure("cdx --version", base, ["--version"], plain));
  rows.push(await measure("cdx --help", base, ["--help"], plain, 1.5));

  const fileHome = `${work}/file`;
  const fileEnv = runEnv({ CODEX_HOME: fileHome });
  await loginWithKey(fileHome, "file", fileEnv);
  rows.push(
    await measure(
      "cdx login status (file)",
      base,
      ["login", "status", "--store", "file"],
      fileEnv,
      1.3,
    ),
  );
  rows.push(
    await measure(
      "cdx login token (file)",
      base,
      ["login", "token", "--store", "file"],
      fileEnv,
      1.3,
    ),
  );

  const keychainRows = async (extra: Record<string, string>, what: string) => {
    const home = `${work}/keyring`;
    const env = runEnv({ CODEX_HOME: home, ...extra });
    await loginWithKey(home, "keyring", env);
    try {
      for (const sub of ["status", "token"]) {
        rows.push(
          await measure(
            `cdx login ${sub} (keychain: ${what})`,
            base,
            ["login", sub, "--store", "keyring"],
            env,
            1.3,
          ),
        );
      }
    } finally {
      await once(cdx, ["logout", "--no-revoke", "--store", "keyring"], env);
    }
  };
  if (Deno.build.os === "linux" && hasSecretServiceTools()) {
    const ss = await startSecretService();
    try {
      await keychainRows(ss.env, "gnome-keyring");
    } finally {
      await ss.stop();
    }
  } else if (Deno.build.os !== "linux" && REAL_KEYCHAIN) {
    // The OS keychain is found through the real HOME (macOS: the default keychain's preferences).
    const home = Deno.env.get("HOME");
    await keychainRows(
      home ? { HOME: home } : {},
      Deno.build.os === "darwin" ? "macOS Keychain" : "Credential Manager",
    );
  } else {
    notes.push(
      Deno.build.os === "linux"
        ? "keychain rows skipped: needs secret-tool, gnome-keyring-daemon and dbus-daemon"
        : "keychain rows skipped: pass --real-keychain (CI runners only) to use this OS's keychain",
    );
  }
} finally {
  await Deno.remove(work, { recursive: true }).catch(() => {});
}

if (JSON_OUT) {
  console.log(
    JSON.stringify({ runs: RUNS, cold: COLD, binary: BINARY ?? null, base: baseLabel, rows }),
  );
} else {
  const what = BINARY ? `compiled: ${BINARY}` : "from source";
  console.log(
    `cdx start-up, ${what}; Deno ${Deno.version.deno}, ${Deno.build.target}; ${RUNS} interleaved pairs per row, ${
      COLD ? "cold (fresh DENO_DIR each run)" : "warm"
    }; base: ${baseLabel}, median ${median(rows.map((r) => r.baseMedianMs)).toFixed(0)} ms`,
  );
  console.log("");
  console.log("| command | median | min–max | × empty | goal |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    const goal = r.goal ? `≤ ${r.goal}×${r.ratio <= r.goal ? "" : " ✗"}` : "";
    console.log(
      `| \`${r.name}\` | ${r.medianMs.toFixed(0)} ms | ${r.minMs.toFixed(0)}–${
        r.maxMs.toFixed(0)
      } ms | ${r.ratio.toFixed(2)}× | ${goal} |`,
    );
  }
  for (const note of notes) console.log(`\n${note}`);
}
