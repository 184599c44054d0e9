// deno-lint-ignore-file no-console
/**
 * `deno task compile`: one cdx executable per target with the least
 * permissions baked in, plus `dist/SHA256SUMS`.
 *
 *   deno task compile                      # all five targets
 *   deno task compile --target x86_64-unknown-linux-gnu
 *   deno task compile --host               # only this machine's target
 *   deno task compile --host --out /tmp/x  # somewhere else than dist/
 *
 * The permission set comes from deno.json (`permissions.cdx`, or
 * `permissions.cdx-windows` for the Windows target when it exists), the same
 * set `deno task cdx` and the tests use.
 *
 * `deno compile` needs a runtime binary ("denort") for each target, which it
 * downloads from dl.deno.land on first use and caches under `$DENO_DIR/dl/`.
 * Where that download is impossible, this script stops with a clear message
 * naming `DENORT_BIN` and the cache — never a stack trace. Exit codes: 0 all
 * built; 1 a build failed; 2 usage; 3 the runtime binary could not be obtained.
 */
import { isRuntimeDownloadFailure, permissionSetFor, TARGETS } from "./targets.ts";
import { HIDDEN_MODULES } from "../commands/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
let DIST = `${ROOT}dist`;

function usage(message: string): never {
  console.error(`compile: ${message}`);
  console.error(
    `usage: deno task compile [--host | --target TRIPLE ...] [--out DIR]   (targets: ${
      TARGETS.join(", ")
    })`,
  );
  Deno.exit(2);
}

function parseTargets(args: string[]): string[] {
  const chosen: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--host") chosen.push(Deno.build.target);
    else if (arg === "--target") {
      const t = args[++i];
      if (!t || !TARGETS.includes(t)) usage(`unknown target ${t ?? "(missing)"}`);
      chosen.push(t);
    } else if (arg === "--out") {
      DIST = args[++i] ?? usage("--out needs a directory");
    } else if (arg === "--help" || arg === "-h") {
      usage("build cdx executables");
    } else usage(`unknown argument ${arg}`);
  }
  return chosen.length ? chosen : [...TARGETS];
}

async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stderr: "null" })
    .output();
  try {
    return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
  } catch {
    return "$DENO_DIR";
  }
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const targets = parseTargets(Deno.args);
const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
await Deno.mkdir(DIST, { recursive: true });
const built: string[] = [];
for (const target of targets) {
  const name = `cdx-${target}${target.includes("windows") ? ".exe" : ""}`;
  const set = permissionSetFor(target, config.permissions ?? {});
  const args = [
    "compile",
    "-q",
    `-P=${set}`,
    "--config",
    `${ROOT}deno.json`,
    "--no-check",
    "--target",
    target,
    "--output",
    `${DIST}/${name}`,
    // Imported by a run-time specifier (start-up), so deno compile cannot find them by itself.
    ...Object.values(HIDDEN_MODULES).flatMap((path) => ["--include", `${ROOT}${path}`]),
    `${ROOT}cli.ts`,
  ];
  console.error(`compile: ${target} (permission set "${set}") → ${DIST}/${name}`);
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "piped" })
    .output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) {
    if (isRuntimeDownloadFailure(stderr)) {
      const dir = await denoDir();
      console.error(
        [
          `compile: cannot build ${target}: deno compile could not download the Deno runtime binary (denort-${target}.zip) for this target.`,
          `compile: dl.deno.land could not be reached from here. Either run this where it does (a release workflow, a`,
          `compile: developer machine), put the zip in Deno's cache (${dir}/dl/release/v${Deno.version.deno}/), or set`,
          `compile: DENORT_BIN=/path/to/denort (a denort ${Deno.version.deno} binary for ${target}) and run again.`,
        ].join("\n"),
      );
      Deno.exit(3);
    }
    console.error(stderr.replace(/\nStack backtrace:[\s\S]*/, "").trim());
    console.error(`compile: ${target} failed (deno compile exit ${out.code})`);
    Deno.exit(1);
  }
  built.push(name);
}
const sums = await Promise.all(built.map(async (n) => `${await sha256(`${DIST}/${n}`)}  ${n}`));
await Deno.writeTextFile(`${DIST}/SHA256SUMS`, sums.join("\n") + "\n");
console.error(`compile: built ${built.length} executable(s); checksums in ${DIST}/SHA256SUMS`);
