/**
 * The user-error table: every mistake a user can make through the real CLI
 * — a CODEX_HOME that is a file, unreadable, unwritable or on a read-only
 * file system; a broken or unreadable config.toml; bad environment values;
 * a corrupt, oversized, unreadable or special auth.json; output paths that
 * cannot be written; bad flags — gives one `error:` line, then a `hint:`
 * (or, for a command-line mistake, the command's usage line), its
 * documented exit code, never "internal error" and never a stack trace.
 *
 * Root ignores mode bits, so the unreadable cases run cdx without
 * CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (`setpriv`); an unwritable
 * directory is `chattr +i`; a read-only file system is a read-only tmpfs.
 * A case that this machine cannot set up is skipped, and says why.
 *
 * With `CDX_EDGE_TABLE=<file>` the rows become the README's table.
 */
import assert from "node:assert/strict";
import { baseEnv, cdxCommandLine } from "./helpers/cli.ts";
import { runChild } from "./helpers/spawn.ts";
import { lineAfter, normalise, recordRow } from "./helpers/edge_table.ts";
import { pooled } from "./helpers/pool.ts";
import { serializeAuthFile } from "../lib/auth/auth_json.ts";

// --- what this machine can set up ----------------------------------------------------------------

function succeeds(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

const ROOT_USER = Deno.uid() === 0;
/** Runs cdx so that mode bits apply to it (root without the capabilities that bypass them). */
const MODE_BITS_PREFIX: string[] | undefined = !ROOT_USER
  ? []
  : succeeds("setpriv", ["--bounding-set=-dac_override,-dac_read_search", "true"])
  ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
  : undefined;

const probeDir = Deno.makeTempDirSync({ prefix: "cdx-user-errors-probe-" });
const CHATTR = succeeds("chattr", ["+i", probeDir]) && succeeds("chattr", ["-i", probeDir]);
const RO_MOUNT = ROOT_USER &&
  succeeds("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", probeDir]) &&
  succeeds("umount", [probeDir]);
Deno.removeSync(probeDir);

type Need = "mode-bits" | "chattr" | "ro-mount";
const SKIP: Record<Need, string | undefined> = {
  "mode-bits": MODE_BITS_PREFIX ? undefined : "root without setpriv: mode bits cannot be enforced",
  "chattr": CHATTR ? undefined : "chattr +i does not work here (not root, or no ext4-like /tmp)",
  "ro-mount": RO_MOUNT ? undefined : "cannot mount a read-only tmpfs (needs root)",
};

// --- the cases -----------------------------------------------------------------------------------

const KEY = "sk-proj-user-errors-0123456789abcdef";

/** A case's scratch space: `home` is CODEX_HOME (created empty), `dir` holds it. */
interface Scratch {
  dir: string;
  home: string;
  /** Undone after the run (chattr -i, umount). */
  undo: Array<() => Promise<unknown>>;
}

interface Case {
  mistake: string;
  args: string[];
  code: number;
  error: RegExp;
  /** The hint expected (exit-2 cases may give the usage line instead). */
  hint?: RegExp;
  stdin?: string;
  env?: Record<string, string>;
  needs?: Need;
  /** Makes the mistake; may move CODEX_HOME. */
  prepare?(s: Scratch): Promise<void>;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await runChild(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
}

const writeAuth = (s: Scratch, text: string) =>
  Deno.writeTextFile(`${s.home}/auth.json`, text, { mode: 0o600 });
const apiKeyAuth = serializeAuthFile({ auth_mode: "apikey", OPENAI_API_KEY: KEY });
const homeIsFile = async (s: Scratch) => {
  await Deno.remove(s.home);
  await Deno.writeTextFile(s.home, "not a directory\n");
};
const immutable = async (s: Scratch, path: string) => {
  await run("chattr", ["+i", path]);
  s.undo.push(() => run("chattr", ["-i", path]));
};

const HOME_IS_FILE = /CODEX_HOME \S+ is a file, not a directory$/;
const SET_HOME = /^set CODEX_HOME \(or --codex-home\) to a directory of yours$/;
const OWNER_AND_MODE =
  /^check the owner and mode of \$CODEX_HOME \(cdx needs to read and write there\)$/;
const USAGE_OR_HINT = /\S/;

const CASES: Case[] = [
  ...[
    ["login", "status"],
    ["login", "token"],
    ["login", "--with-api-key"],
    ["logout"],
    ["run", "hi"],
    ["feedback", "--output", "report.zip", "--yes"],
  ].map((args): Case => ({
    mistake: "CODEX_HOME is a file",
    args,
    stdin: args.includes("--with-api-key") ? KEY : undefined,
    code: 2,
    error: HOME_IS_FILE,
    hint: SET_HOME,
    prepare: homeIsFile,
  })),
  {
    mistake: "a part of CODEX_HOME's path is a file",
    args: ["login", "--with-api-key"],
    stdin: KEY,
    code: 2,
    error: /CODEX_HOME \S+ is not a directory \(a part of its path is a file\)$/,
    hint: SET_HOME,
    async prepare(s) {
      await homeIsFile(s);
      s.home = `${s.home}/inside`;
    },
  },
  ...[["login", "status"], ["login", "token"], ["logout"]].map((args): Case => ({
    mistake: "CODEX_HOME unreadable (mode 000)",
    args,
    needs: "mode-bits",
    code: 1,
    error: /permission denied on \$CODEX_HOME\/(auth\.json|config\.toml|auth\.lock)$/,
    hint: OWNER_AND_MODE,
    prepare: (s) => Deno.chmod(s.home, 0o000),
  })),
  ...[["login", "--with-api-key"], ["logout"]].map((args): Case => ({
    mistake: "CODEX_HOME unwritable (chattr +i)",
    args,
    stdin: KEY,
    needs: "chattr",
    code: 1,
    error: /permission denied on \$CODEX_HOME(\/auth\.lock)?$/,
    hint: OWNER_AND_MODE,
    prepare: (s) => immutable(s, s.home),
  })),
  {
    mistake: "CODEX_HOME on a read-only file system",
    args: ["login", "--with-api-key"],
    stdin: KEY,
    needs: "ro-mount",
    code: 1,
    error: /\$CODEX_HOME is on a read-only file system$/,
    hint: /^set CODEX_HOME \(or --codex-home\) to a writable directory$/,
    async prepare(s) {
      await run("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", s.home]);
      s.undo.push(() => run("umount", [s.home]));
    },
  },
  {
    mistake: "an empty --codex-home",
    args: ["login", "status", "--codex-home", ""],
    code: 2,
    error: /^--codex-home needs a path \(DIR\), not an empty string$/,
  },
  ...[["login", "token"], ["run", "hi"]].map((args): Case => ({
    mistake: "config.toml with a syntax error",
    args,
    code: 1,
    error:
      /^Error loading configuration: \$CODEX_HOME\/config\.toml: line 2, column 10: Invalid TOML/,
    hint: /^fix or move the file; cdx reads the same config\.toml as codex$/,
    prepare: (s) => Deno.writeTextFile(`${s.home}/config.toml`, 'model = "o4"\nbroken = \n'),
  })),
  {
    mistake: 'config.toml: cli_auth_credentials_store = "bogus"',
    args: ["login", "token"],
    code: 1,
    error:
      /config\.toml: cli_auth_credentials_store must be one of file, keyring, auto, ephemeral, not "bogus"$/,
    hint: /^fix cli_auth_credentials_store in \$CODEX_HOME\/config\.toml/,
    prepare: (s) =>
      Deno.writeTextFile(`${s.home}/config.toml`, 'cli_auth_credentials_store = "bogus"\n'),
  },
  {
    mistake: 'config.toml: [cdx] request_timeout = "soon"',
    args: ["login", "--device-auth"],
    code: 2,
    error: /config\.toml: \[cdx\] request_timeout must be a number of seconds/,
    hint: /^set it to seconds in \$CODEX_HOME\/config\.toml, e\.g\. 60$/,
    prepare: (s) =>
      Deno.writeTextFile(`${s.home}/config.toml`, '[cdx]\nrequest_timeout = "soon"\n'),
  },
  {
    mistake: "config.toml is a directory",
    args: ["login", "token"],
    code: 1,
    error: /^Error loading configuration: \$CODEX_HOME\/config\.toml is a directory$/,
    hint: /^move it away$/,
    prepare: (s) => Deno.mkdir(`${s.home}/config.toml`),
  },
  {
    mistake: "config.toml unreadable (mode 000)",
    args: ["login", "token"],
    needs: "mode-bits",
    code: 1,
    error: /^Error loading configuration: permission denied on \$CODEX_HOME\/config\.toml$/,
    hint: OWNER_AND_MODE,
    async prepare(s) {
      await Deno.writeTextFile(`${s.home}/config.toml`, 'model = "o4"\n');
      await Deno.chmod(`${s.home}/config.toml`, 0o000);
    },
  },
  {
    mistake: "CDX_CREDENTIALS_STORE=bogus",
    args: ["login", "status"],
    env: { CDX_CREDENTIALS_STORE: "bogus" },
    code: 2,
    error: /^CDX_CREDENTIALS_STORE must be one of file, keyring, auto, ephemeral, not "bogus"$/,
    hint: /^unset CDX_CREDENTIALS_STORE or set it to one of these$/,
  },
  {
    mistake: "CDX_REQUEST_TIMEOUT=abc",
    args: ["login", "--device-auth"],
    env: { CDX_REQUEST_TIMEOUT: "abc" },
    code: 2,
    error: /^CDX_REQUEST_TIMEOUT must be a number of seconds above 0 and at most 86400, not "abc"$/,
    hint: /^unset CDX_REQUEST_TIMEOUT or set it to seconds, e\.g\. 60$/,
  },
  {
    mistake: "CDX_ISSUER=nope",
    args: ["login"],
    env: { CDX_ISSUER: "nope" },
    code: 2,
    error: /^CDX_ISSUER must be an http\(s\) URL, not "nope"$/,
    hint: /^unset CDX_ISSUER or set it to the issuer's URL$/,
  },
  {
    mistake: "auth.json is corrupt",
    args: ["login", "token"],
    code: 1,
    error: /^\$CODEX_HOME\/auth\.json is not valid JSON/,
    hint: /^fix or remove the file/,
    prepare: (s) => writeAuth(s, '{"auth_mode": '),
  },
  {
    mistake: "auth.json is 5 MB",
    args: ["login", "token"],
    code: 1,
    error: /^\$CODEX_HOME\/auth\.json is too large \(5000000 bytes/,
    hint: /^this is not a file cdx or codex wrote; move it away/,
    prepare: (s) => writeAuth(s, " ".repeat(5_000_000)),
  },
  {
    mistake: "auth.json unreadable (mode 000)",
    args: ["login", "token"],
    needs: "mode-bits",
    code: 1,
    error: /permission denied on \$CODEX_HOME\/auth\.json$/,
    hint: OWNER_AND_MODE,
    async prepare(s) {
      await writeAuth(s, apiKeyAuth);
      await Deno.chmod(`${s.home}/auth.json`, 0o000);
    },
  },
  {
    mistake: "auth.json is a directory",
    args: ["login", "token"],
    code: 1,
    error: /\$CODEX_HOME\/auth\.json is a directory$/,
    hint: /^move it away$/,
    prepare: (s) => Deno.mkdir(`${s.home}/auth.json`),
  },
  {
    mistake: "auth.json is a named pipe",
    args: ["login", "token"],
    code: 1,
    error: /\$CODEX_HOME\/auth\.json is not a regular file$/,
    hint: /^move it away/,
    prepare: (s) => run("mkfifo", [`${s.home}/auth.json`]),
  },
  {
    mistake: "feedback --output into a missing directory",
    args: ["feedback", "--yes", "--output", "/nonexistent-cdx-dir/report.zip"],
    code: 2,
    error:
      /^cannot write the report to \/nonexistent-cdx-dir\/report\.zip: \/nonexistent-cdx-dir does not exist$/,
    hint: /^create the directory first, or choose another --output$/,
  },
  {
    mistake: "feedback --output under a file",
    args: ["feedback", "--yes", "--output", "notes.txt/report.zip"],
    code: 2,
    error: /^cannot write the report to notes\.txt\/report\.zip: .*notes\.txt/,
    hint: USAGE_OR_HINT,
    prepare: (s) => Deno.writeTextFile(`${s.dir}/notes.txt`, "a file, not a directory\n"),
  },
  {
    mistake: "run -o into a missing directory",
    args: ["run", "-o", "/nonexistent-cdx-dir/answer.txt", "hi"],
    env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" },
    code: 2,
    error:
      /^-o \/nonexistent-cdx-dir\/answer\.txt: the directory \/nonexistent-cdx-dir does not exist$/,
  },
  {
    mistake: "run -o in an unwritable directory (chattr +i)",
    args: ["run", "-o", "out/answer.txt", "hi"],
    env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" },
    needs: "chattr",
    code: 2,
    error: /^-o out\/answer\.txt/,
    async prepare(s) {
      await Deno.mkdir(`${s.dir}/out`);
      await immutable(s, `${s.dir}/out`);
    },
  },
  {
    mistake: "an unknown option",
    args: ["run", "--bogus", "hi"],
    code: 2,
    error: /^unknown option --bogus for `cdx run`$/,
  },
  {
    mistake: "a bad --store value",
    args: ["login", "--store", "keyrng"],
    code: 2,
    error: /^--store must be one of file, keyring, auto, ephemeral, not "keyrng"$/,
    hint: /^did you mean --store keyring\?$/,
  },
  {
    mistake: "a negative --timeout",
    args: ["run", "--timeout", "-3", "hi"],
    code: 2,
    error: /^--timeout must be at least 0, not -3$/,
  },
  {
    mistake: "--port out of range",
    args: ["login", "--port", "70000"],
    code: 2,
    error: /^--port must be at most 65535, not 70000$/,
  },
  {
    mistake: "a missing option value",
    args: ["run", "-m"],
    code: 2,
    error: /^-m needs a value \(MODEL\)$/,
  },
  {
    mistake: "an unknown command",
    args: ["frobnicate"],
    code: 2,
    error: /^unknown command "frobnicate"$/,
  },
];

// --- running them --------------------------------------------------------------------------------

interface Ran {
  code: number;
  stdout: string;
  /** stderr with the scratch CODEX_HOME written as `$CODEX_HOME`. */
  stderr: string;
}

async function runCase(c: Case): Promise<Ran> {
  const dir = await Deno.makeTempDir({ prefix: "cdx-user-error-" });
  const s: Scratch = { dir, home: `${dir}/home`, undo: [] };
  await Deno.mkdir(s.home);
  try {
    await c.prepare?.(s);
    const { cmd, args: pre } = cdxCommandLine();
    const prefix = c.needs === "mode-bits" ? MODE_BITS_PREFIX ?? [] : [];
    const [program, ...programArgs] = [...prefix, cmd, ...pre, ...c.args];
    // A bound that fails the test instead of hanging it (a FIFO once hung cdx for good).
    const r = await Promise.race([
      runChild(program, programArgs, {
        env: baseEnv({ CODEX_HOME: s.home, CDX_CREDENTIALS_STORE: "file", ...c.env }),
        clearEnv: true,
        cwd: dir,
        stdin: c.stdin ?? "",
      }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`${c.mistake}: cdx did not end within 30 s`)), 30_000)
      ),
    ]);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr.replaceAll(s.home, "$CODEX_HOME") };
  } finally {
    for (const undo of s.undo.reverse()) await undo().catch(() => {});
    await Deno.chmod(s.home, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The command line as a user would type it (an empty argument shown as `""`). */
const commandLine = (c: Case) => `cdx ${c.args.map((a) => a === "" ? '""' : a).join(" ")}`;
const keyOf = (c: Case) => `${c.mistake} | ${commandLine(c)}`;
const runnable = CASES.filter((c) => !c.needs || !SKIP[c.needs]);
const results = pooled(runnable, keyOf, 4, runCase);

CASES.forEach((c, order) => {
  const skip = c.needs ? SKIP[c.needs] : undefined;
  Deno.test({
    name: `${c.mistake}: \`${commandLine(c)}\` → exit ${c.code}, one error line and a ${
      c.code === 2 ? "hint or usage line" : "hint"
    }${skip ? ` [SKIPPED: ${skip}]` : ""}`,
    ignore: !!skip,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const r = await results.get(keyOf(c));
      const context = `${keyOf(c)}:\n${r.stderr}`;
      assert.doesNotMatch(r.stderr, /internal error|this is a bug in cdx/, context);
      assert.doesNotMatch(r.stderr, /^\s+at /m, `a stack trace: ${context}`);
      assert.equal(r.code, c.code, context);
      assert.ok(!r.stderr.includes(KEY) && !r.stdout.includes(KEY), `the key leaked: ${context}`);
      // One error line, and right after it what to do about it.
      const lines = r.stderr.split("\n").filter((l) => l !== "");
      const at = lines.findIndex((l) => l.startsWith("error: "));
      assert.ok(at >= 0, `no error line: ${context}`);
      assert.equal(lines.filter((l) => l.startsWith("error: ")).length, 1, context);
      assert.match(lines[at].slice("error: ".length), c.error, context);
      const next = lines[at + 1] ?? "";
      if (c.code === 2) assert.match(next, /^(hint|usage): /, context);
      else assert.match(next, /^hint: /, context);
      if (c.hint) assert.match(lineAfter(r.stderr, "hint: "), c.hint, context);
      await recordRow({
        table: "user-errors",
        order,
        case: c.mistake,
        command: commandLine(c),
        code: r.code,
        error: normalise(lines[at].slice("error: ".length)),
        hint: normalise(next.startsWith("usage: ") ? "(usage line)" : next.slice("hint: ".length)),
      });
    },
  });
});
