import assert from "node:assert/strict";
import { ROOT, runCdx, spawnCdx } from "./helpers/cli.ts";
import { EXIT_CODES, ExitCode } from "../lib/errors.ts";
import { VERSION } from "../lib/version.ts";

const WAIT_ENTRY = `${ROOT}/tests/fixtures/wait_cli.ts`;

Deno.test("--version prints the version and the target", async () => {
  const r = await runCdx(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `cdx ${VERSION} (${Deno.build.target})\n`);
  assert.equal(r.stderr, "");
});

Deno.test("--help lists every command, the global options and examples", async () => {
  const r = await runCdx(["--help"]);
  assert.equal(r.code, 0);
  for (
    const word of [
      "login",
      "logout",
      "run",
      "feedback",
      "completion",
      "--codex-home",
      "--log-level",
      "--no-color",
      "Examples",
    ]
  ) {
    assert.ok(r.stdout.includes(word), `--help mentions ${word}`);
  }
});

Deno.test("--help works at every level", async () => {
  for (
    const args of [
      ["login", "--help"],
      ["login", "status", "--help"],
      ["login", "token", "--help"],
      ["logout", "--help"],
      ["run", "--help"],
      ["feedback", "--help"],
    ]
  ) {
    const r = await runCdx(args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /Usage: cdx/, args.join(" "));
  }
  const login = await runCdx(["login", "--help"]);
  assert.match(login.stdout, /--with-api-key/);
  assert.match(login.stdout, /status/);
});

Deno.test("an unknown flag exits 2 with a one-line error and a short usage line, no stack", async () => {
  const r = await runCdx(["logout", "--bogus"]);
  assert.equal(r.code, ExitCode.USAGE);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0], /^error: .*--bogus/);
  assert.match(lines[1], /^usage: cdx /);
  assert.equal(r.stdout, "");
});

Deno.test("a usage error never echoes a secret typed in the wrong place", async () => {
  const key = "sk-proj-typedInTheWrongPlace0123456789";
  for (const args of [["login", key], ["logout", "--store", key], ["run", "a", key]]) {
    const r = await runCdx(args);
    assert.equal(r.code, ExitCode.USAGE, args.join(" "));
    assert.match(r.stderr, /^error: /);
    assert.ok(!r.stderr.includes(key) && !r.stdout.includes(key), r.stderr);
  }
});

Deno.test("an unknown command and a bad option value exit 2", async () => {
  assert.equal((await runCdx(["frobnicate"])).code, ExitCode.USAGE);
  const bad = await runCdx(["--log-level", "loud", "logout"]);
  assert.equal(bad.code, ExitCode.USAGE);
  assert.match(bad.stderr, /^error: /);
});

Deno.test("global options are accepted before and after the subcommand", async () => {
  const home = await Deno.makeTempDir();
  try {
    const before = await runCdx([
      "--codex-home",
      home,
      "--log-level",
      "error",
      "--no-color",
      "run",
      "--help",
    ]);
    const after = await runCdx(["run", "--help", "--codex-home", home, "--log-level", "error"]);
    assert.equal(before.code, 0);
    assert.equal(after.code, 0);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("a broken config.toml stops other commands with an error naming the file, line and column", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${home}/config.toml`, "model = \n[[[");
    for (const args of [["login", "token"], ["run", "hi"], ["login", "--with-api-key"]]) {
      const r = await runCdx(["--codex-home", home, ...args], { stdin: "" });
      assert.equal(r.code, ExitCode.FAILURE, args.join(" "));
      assert.match(
        r.stderr,
        /^error: Error loading configuration: .*config\.toml: line \d+, column \d+: /,
      );
      assert.match(r.stderr, /^hint: fix or move the file/m);
      assert.doesNotMatch(r.stderr, / {4}at /);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("login status, logout and feedback still work with a broken config.toml, with a warning", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${home}/config.toml`, "model = \n[[[");
    const warning =
      /^warning: Error loading configuration: .*config\.toml: line \d+, column \d+: .*\(ignored: `cdx [a-z ]+` runs without it\)$/m;
    const status = await runCdx(["--codex-home", home, "login", "status"]);
    assert.equal(status.code, 1, status.stderr); // not logged in: the command itself ran
    assert.match(status.stderr + status.stdout, /Not logged in/);
    assert.match(status.stderr, warning);
    const logout = await runCdx(["--codex-home", home, "logout", "--no-revoke", "--store", "file"]);
    assert.equal(logout.code, 0, logout.stderr);
    assert.match(logout.stderr, warning);
    const feedback = await runCdx([
      "--codex-home",
      home,
      "feedback",
      "--output",
      `${home}/report.zip`,
      "--yes",
    ]);
    assert.equal(feedback.code, 0, feedback.stderr);
    assert.match(feedback.stderr, warning);
    assert.ok((await Deno.stat(`${home}/report.zip`)).size > 0);
    const quiet = await runCdx(["--codex-home", home, "--log-level", "error", "login", "status"]);
    assert.doesNotMatch(quiet.stderr, /warning/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("the modules imported by a run-time specifier exist, so deno compile can include them", async () => {
  const { HIDDEN_MODULES } = await import("../commands/mod.ts");
  for (const path of Object.values(HIDDEN_MODULES)) {
    assert.ok((await Deno.stat(`${ROOT}/${path}`)).isFile, path);
  }
  const compile = await Deno.readTextFile(`${ROOT}/scripts/compile.ts`);
  assert.match(compile, /HIDDEN_MODULES/);
});

Deno.test("completions bash prints a script that defines the completion function", async () => {
  const r = await runCdx(["completions", "bash"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /complete .*cdx/);
  for (const shell of ["zsh", "fish"]) {
    const s = await runCdx(["completions", shell]);
    assert.equal(s.code, 0, shell);
    assert.ok(s.stdout.length > 100, shell);
  }
});

/** Reads the child's stdout until `line` appeared (or fails when stdout ends first). */
async function waitForLine(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  line: string,
  seen = { text: "" },
): Promise<void> {
  const decoder = new TextDecoder();
  while (!seen.text.split("\n").includes(line)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`child ended before printing ${line}: ${seen.text}`);
    seen.text += decoder.decode(value, { stream: true });
  }
}

/** Waits until the child printed `ready` (its main loop and handlers are installed). */
async function waitReady(
  child: Deno.ChildProcess,
): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const reader = child.stdout.getReader();
  await waitForLine(reader, "ready");
  return reader;
}

async function finish(child: Deno.ChildProcess, reader: ReadableStreamDefaultReader<Uint8Array>) {
  while (!(await reader.read()).done) { /* drain */ }
  const status = await child.status;
  const stderr = new TextDecoder().decode(
    new Uint8Array(await new Response(child.stderr).arrayBuffer()),
  );
  return { code: status.code, stderr };
}

// How fast it exits is measured by scripts/bench_interrupt.ts, not asserted here.
Deno.test("SIGINT during a long cancellable wait: exit 130 with `interrupted`", async () => {
  const child = spawnCdx(["run", "wait"], { entry: WAIT_ENTRY });
  const reader = await waitReady(child);
  child.kill("SIGINT");
  const { code, stderr } = await finish(child, reader);
  assert.equal(code, ExitCode.INTERRUPTED);
  assert.match(stderr, /^interrupted$/m);
});

Deno.test("SIGTERM during a long cancellable wait: exit 143 with `terminated`", async () => {
  const child = spawnCdx(["run", "wait"], { entry: WAIT_ENTRY });
  const reader = await waitReady(child);
  child.kill("SIGTERM");
  const { code, stderr } = await finish(child, reader);
  assert.equal(code, ExitCode.TERMINATED);
  assert.match(stderr, /^terminated$/m);
});

Deno.test("an expired deadline: exit 124 with the deadline's message", async () => {
  const child = spawnCdx(["run", "deadline"], { entry: WAIT_ENTRY });
  const reader = await waitReady(child);
  const { code, stderr } = await finish(child, reader);
  assert.equal(code, ExitCode.TIMEOUT);
  assert.match(stderr, /^error: deadline of 50 ms expired$/m);
});

Deno.test("a second Ctrl-C exits at once even when the command ignores cancellation", async () => {
  const child = spawnCdx(["run", "stubborn"], { entry: WAIT_ENTRY });
  const reader = await waitReady(child);
  child.kill("SIGINT");
  // The second signal only after the first one was handled (signals sent together may merge).
  await waitForLine(reader, "cancel seen");
  child.kill("SIGINT");
  const { code, stderr } = await finish(child, reader);
  assert.equal(code, ExitCode.INTERRUPTED);
  assert.match(stderr, /interrupted/);
});

Deno.test("the exit-code table in the README matches lib/errors.ts", async () => {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const start = readme.indexOf("## Exit codes");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const rows = new Map(
    section.split("\n").filter((l) => /^\|\s*\d+\s*\|/.test(l)).map((l) => {
      const [, code, meaning] = l.split("|").map((c) => c.trim());
      return [Number(code), meaning] as const;
    }),
  );
  assert.equal(rows.size, EXIT_CODES.length);
  for (const { code, meaning } of EXIT_CODES) {
    assert.equal(rows.get(code), meaning, `README documents exit ${code}`);
  }
});

Deno.test("deno.json's version is cdx's version", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  assert.equal(config.version, VERSION);
});
