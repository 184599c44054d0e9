/**
 * The command-line contract (issue 16), through the real CLI: help on every
 * command, at any terminal width, coloured only on a terminal; usage errors
 * (exit 2) for every bad value before anything runs; `--json` on every
 * command that reports something, each shape checked against its schema in
 * `schemas/`, and a JSON error object on stdout when a `--json` command
 * fails; `login --store` remembered in config.toml; progress lines on a
 * terminal only, cleared before the output that follows.
 */
import assert from "node:assert/strict";
import { runCdx } from "./helpers/cli.ts";
import { cdxAtTerminal, HAS_PTY, NO_PTY } from "./helpers/pty.ts";
import { assertJsonLines, assertSchema } from "./helpers/schema.ts";
import { exists, tempHome } from "./helpers/auth_context.ts";
import { makeJwt } from "./fakes/codex_auth_server.ts";
import { failedStream, normalStream, startResponsesServer } from "./fakes/responses_server.ts";
import { BUILTINS, COMMANDS, type CommandSpec } from "../commands/grammar.ts";
import { ERROR_CODES, ExitCode } from "../lib/errors.ts";

const KEY = "sk-proj-contract-test-abcdefghij12345";
const CLEAR = "\r\x1b[2K";
const NO_BUS = (home: string) => ({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${home}/no-bus` });

/** Every command path with a help page: cdx itself, each command, `completions`. */
const HELP_PATHS: string[][] = [
  [],
  ...(COMMANDS as readonly CommandSpec[]).map((c) => [...c.path]),
  [...BUILTINS.completions.path],
];

/** A ChatGPT login in auth.json (unexpired token; last_refresh in codex's nanosecond format). */
async function writeChatgptLogin(home: string): Promise<{ refresh: string; access: string }> {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const access = makeJwt({ exp, "https://api.openai.com/auth": { chatgpt_account_id: "acct-1" } });
  const refresh = "rt-contract-test-0123456789abcdef";
  const auth = {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: makeJwt({ email: "dev@example.com", exp }),
      access_token: access,
      refresh_token: refresh,
      account_id: "acct-1",
    },
    last_refresh: "2026-01-02T03:04:05.123456789Z",
  };
  await Deno.writeTextFile(`${home}/auth.json`, JSON.stringify(auth, null, 2), { mode: 0o600 });
  return { refresh, access };
}

/** A revoke endpoint that records requests and answers when `release()` is called (or at once). */
function revokeServer(options: { hold?: boolean; status?: number } = {}) {
  const requests: string[] = [];
  const gate = Promise.withResolvers<void>();
  if (!options.hold) gate.resolve();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    requests.push(await req.text());
    await gate.promise;
    return new Response(null, { status: options.status ?? 200 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/oauth/revoke`,
    requests,
    release: () => gate.resolve(),
    async [Symbol.asyncDispose]() {
      gate.resolve();
      await server.shutdown();
    },
  };
}

Deno.test("-h and --help work on every command and subcommand; `cdx` alone prints the help, exit 0", async () => {
  const top = await runCdx(["--help"]);
  for (const path of HELP_PATHS) {
    for (const flag of ["-h", "--help"]) {
      const r = await runCdx([...path, flag]);
      assert.equal(r.code, 0, `${path.join(" ")} ${flag}: ${r.stderr}`);
      assert.equal(r.stderr, "", `${path.join(" ")} ${flag}`);
      assert.match(r.stdout, /^Usage: cdx/m, `${path.join(" ")} ${flag}`);
    }
  }
  const bare = await runCdx([]);
  assert.deepEqual([bare.code, bare.stdout, bare.stderr], [0, top.stdout, ""]);
  // `cdx help COMMAND` and an -h between the words are the same page.
  const page = (await runCdx(["login", "status", "--help"])).stdout;
  assert.equal((await runCdx(["help", "login", "status"])).stdout, page);
  assert.equal((await runCdx(["login", "-h", "status", "--store", "file"])).stdout, page);
});

Deno.test("every help page lists its examples one per line", async () => {
  for (const command of COMMANDS as readonly CommandSpec[]) {
    const lines = (await runCdx([...command.path, "--help"])).stdout.split("\n");
    const start = lines.indexOf("Examples:");
    const examples = command.examples ?? [];
    assert.ok(start >= 0 || examples.length === 0, command.id);
    assert.deepEqual(
      lines.slice(start + 1, start + 1 + examples.length),
      examples.map((e) => `  ${e}`),
      command.id,
    );
  }
});

Deno.test({
  name:
    `help at a terminal: 0 columns reads as 80 (never one word a line), 200 columns uses up to 100${NO_PTY}`,
  ignore: !HAS_PTY,
  async fn() {
    const at = async (columns: number, args: string[]) => {
      const r = await cdxAtTerminal(args, {}, { columns }).done();
      assert.equal(r.code === 0 || r.code === 2, true, r.screen);
      return r.screen.replaceAll("\r\n", "\n");
    };
    for (const args of [["--help"], ["login", "--help"], ["run", "--help"]]) {
      const zero = await at(0, args);
      const eighty = await at(80, args);
      const wide = await at(200, args);
      assert.equal(zero, eighty, args.join(" "));
      const lines = (text: string) => text.split("\n").filter((l) => !l.startsWith("  cdx "));
      assert.ok(lines(eighty).every((l) => l.length <= 80), eighty);
      assert.ok(lines(wide).every((l) => l.length <= 100), wide);
      assert.ok(lines(wide).some((l) => l.length > 80), `200 columns uses the room: ${wide}`);
      // A paragraph is wrapped into full lines: no line holds a lone word of its text.
      const paragraphLines = eighty.split("\n").filter((l) =>
        /^[a-z]/i.test(l) && !l.endsWith(":")
      );
      assert.ok(paragraphLines.every((l) => l.includes(" ")), eighty);
    }
    // An error at a 0-column terminal stays on its line.
    const error = await at(0, ["logout", "--bogus"]);
    assert.match(error, /^error: unknown option --bogus for `cdx logout`$/m);
    assert.match(
      error,
      /^usage: cdx logout \[--no-revoke\] \[--store STORE\] \[--json\] {2}\(see/m,
    );
  },
});

Deno.test({
  name: `colour only where the stream is a terminal: \`cdx --help > file\` writes no ANSI${NO_PTY}`,
  ignore: !HAS_PTY,
  async fn() {
    await using home = await tempHome();
    const file = `${home.path}/help.txt`;
    const colourful = { NO_COLOR: "" };
    const redirected = await cdxAtTerminal(["--help"], colourful, { stdoutTo: file }).done();
    assert.equal(redirected.code, 0);
    const text = await Deno.readTextFile(file);
    assert.match(text, /^Usage: cdx/m);
    assert.ok(!text.includes("\x1b"), JSON.stringify(text.slice(0, 200)));
    // The same help on the terminal itself is coloured (headings in bold)...
    const shown = await cdxAtTerminal(["--help"], colourful).done();
    assert.ok(shown.screen.includes("\x1b[1mUsage:"), shown.screen.slice(0, 200));
    // ...unless NO_COLOR or --no-color says otherwise.
    const plain = await cdxAtTerminal(["--help", "--no-color"], colourful).done();
    assert.ok(!plain.screen.includes("\x1b"));
  },
});

Deno.test("command options go before the command name too: `cdx --json login status` is `cdx login status --json`", async () => {
  await using home = await tempHome();
  const env = { CODEX_HOME: home.path, CDX_CREDENTIALS_STORE: "file" };
  const before = await runCdx(["--json", "login", "status"], { env });
  const after = await runCdx(["login", "status", "--json"], { env });
  assert.equal(before.code, 1);
  assert.deepEqual(before, after);
  assertSchema("status", JSON.parse(before.stdout));
  assert.doesNotMatch(before.stderr, /did you mean/);
  const logout = await runCdx(["--json", "logout"], { env });
  assert.equal(logout.code, 0, logout.stderr);
  assertSchema("logout", JSON.parse(logout.stdout));
  // An option of another command: named as such, never "did you mean" the same flag.
  const misplaced = await runCdx(["--json", "login"], { env });
  assert.equal(misplaced.code, ExitCode.USAGE);
  assert.match(misplaced.stderr, /^error: --json is not an option of `cdx login`$/m);
  assert.match(misplaced.stderr, /^hint: --json belongs to `cdx login status`, `cdx login token`/m);
  assert.doesNotMatch(misplaced.stderr, /did you mean/);
});

Deno.test("bad values are usage errors (exit 2) before anything runs: options, paths, store modes, variables", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(`${home.path}/a-file`, "");
  const base = { CODEX_HOME: home.path, CDX_CREDENTIALS_STORE: "file" };
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [["login", "--issuer", "foo"], {}, /--issuer must be an http\(s\) URL/],
    [["login", "--port", "70000"], {}, /--port must be at most 65535/],
    [["run", "--timeout", "soon", "hi"], {}, /--timeout needs a number/],
    [["run", "--base-url", "foo", "hi"], { OPENAI_API_KEY: KEY }, /not a URL: "foo"/],
    [["logout", "--store", "fiel"], {}, /--store must be one of/],
    [["--codex-home", "", "login", "status"], {}, /--codex-home needs a path/],
    [["--codex-home", `${home.path}/a-file`, "login", "status"], {}, /is a file, not a directory/],
    [["feedback", "--output", "/nonexistent/x.zip", "--yes"], {}, /does not exist/],
    [["login", "status"], { CDX_CREDENTIALS_STORE: "bogus" }, /CDX_CREDENTIALS_STORE must be/],
    [["logout"], { CDX_CREDENTIALS_STORE: "bogus" }, /CDX_CREDENTIALS_STORE must be/],
    [["login", "--with-api-key"], { CDX_CREDENTIALS_STORE: "x" }, /CDX_CREDENTIALS_STORE must be/],
    [["logout"], { CDX_REQUEST_TIMEOUT: "abc" }, /CDX_REQUEST_TIMEOUT must be a number/],
    [["login", "token"], { CDX_REQUEST_TIMEOUT: "-1" }, /CDX_REQUEST_TIMEOUT must be a number/],
    [["login", "--with-api-key"], {}, /^error: No API key provided via stdin\.$/m],
    [["login", "--with-api-key", "--store", "ephemeral"], {}, /only in this process's memory/],
  ];
  for (const [args, env, message] of cases) {
    const r = await runCdx(args, { env: { ...base, ...env }, stdin: "" });
    const what = `${JSON.stringify(env)} cdx ${args.join(" ")}`;
    assert.equal(r.code, ExitCode.USAGE, `${what}: ${r.stderr}`);
    assert.match(r.stderr, /^error: /m, what);
    assert.match(r.stderr, message, what);
    assert.doesNotMatch(r.stderr, /internal error|API key saved/, what);
    assert.equal(r.stdout, "", what);
  }
  assert.equal(await exists(`${home.path}/auth.json`), false);
});

Deno.test("a bad CDX_REQUEST_TIMEOUT stops logout before the revoke request and before anything is deleted", async () => {
  await using home = await tempHome();
  await using revoke = revokeServer();
  await writeChatgptLogin(home.path);
  const r = await runCdx(["logout"], {
    env: {
      CODEX_HOME: home.path,
      CDX_CREDENTIALS_STORE: "file",
      CDX_REQUEST_TIMEOUT: "soon",
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: revoke.url,
    },
  });
  assert.equal(r.code, ExitCode.USAGE, r.stderr);
  assert.deepEqual(revoke.requests, []);
  assert.equal(await exists(`${home.path}/auth.json`), true);
});

Deno.test("login --store ephemeral is refused with an explanation and never says the key was saved", async () => {
  await using home = await tempHome();
  const r = await runCdx(["login", "--with-api-key", "--store", "ephemeral"], {
    env: { CODEX_HOME: home.path },
    stdin: KEY,
  });
  assert.equal(r.code, ExitCode.USAGE);
  assert.match(
    r.stderr,
    /^error: --store ephemeral keeps credentials only in this process's memory, so a login would be lost when cdx exits\nhint: log in with --store file, keyring or auto/,
  );
  assert.doesNotMatch(r.stderr, /saved/);
});

Deno.test("login --store file is remembered in config.toml (every other byte kept) and said on stderr", async () => {
  await using home = await tempHome();
  const config =
    `# my settings\nmodel = "o4-mini"  # keep this\n\n[feedback]\npersist_logs = true\n`;
  await Deno.writeTextFile(`${home.path}/config.toml`, config);
  const env = { CODEX_HOME: home.path, ...NO_BUS(home.path) };
  const login = await runCdx(["login", "--with-api-key", "--store", "file"], { env, stdin: KEY });
  assert.equal(login.code, 0, login.stderr);
  const line = 'cli_auth_credentials_store = "file"';
  assert.match(
    login.stderr,
    new RegExp(
      `^note: saved ${line} in ${home.path}/config\\.toml: cdx and codex use this store`,
      "m",
    ),
  );
  const written = await Deno.readTextFile(`${home.path}/config.toml`);
  // The key at the top level (before the first table), nothing else changed.
  assert.equal(written.replace(`${line}\n`, ""), config);
  assert.ok(written.indexOf(line) < written.indexOf("[feedback]"));
  // Later commands use it: no keychain attempt, no warning that the keychain failed.
  const status = await runCdx(["login", "status"], { env });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^Store mode: file \(from config\.toml\)$/m);
  assert.doesNotMatch(status.stdout + status.stderr, /warning|Keychain: not available/);
  // Said once: the same choice again changes nothing and says nothing.
  const again = await runCdx(["login", "--with-api-key", "--store", "file"], { env, stdin: KEY });
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /note:/);
  assert.equal(await Deno.readTextFile(`${home.path}/config.toml`), written);
});

Deno.test("login --store replaces the configured store in place, keeping its comment", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(
    `${home.path}/config.toml`,
    `cli_auth_credentials_store = "keyring" # chosen by hand\nmodel = "x"\n`,
  );
  const r = await runCdx(["login", "--with-api-key", "--store", "file"], {
    env: { CODEX_HOME: home.path, ...NO_BUS(home.path) },
    stdin: KEY,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    await Deno.readTextFile(`${home.path}/config.toml`),
    `cli_auth_credentials_store = "file" # chosen by hand\nmodel = "x"\n`,
  );
});

Deno.test("--json on failure: the error object on stdout (its code, message and hint) as well as the exit code", async () => {
  await using home = await tempHome();
  const env = { CODEX_HOME: home.path, CDX_CREDENTIALS_STORE: "file" };
  const object = (stdout: string) =>
    assertSchema<{ error: Record<string, unknown> }>(
      "error",
      JSON.parse(stdout),
    );
  const token = await runCdx(["login", "token", "--json"], { env });
  assert.equal(token.code, ExitCode.FAILURE);
  assert.deepEqual(object(token.stdout).error, {
    code: "not_logged_in",
    message: "not logged in",
    hint: "run `cdx login` (or `printenv OPENAI_API_KEY | cdx login --with-api-key`)",
  });
  assert.match(token.stderr, /^error: not logged in$/m);

  const usage = await runCdx(["login", "status", "--json", "--bogus"], { env });
  assert.equal(usage.code, ExitCode.USAGE);
  assert.equal(object(usage.stdout).error.code, "usage");
  assert.match(String(object(usage.stdout).error.message), /unknown option --bogus/);

  const feedback = await runCdx(["feedback", "--json", "--output", "/nonexistent/r.zip", "-y"], {
    env,
  });
  assert.equal(feedback.code, ExitCode.USAGE);
  assert.equal(object(feedback.stdout).error.code, "usage");

  const variable = await runCdx(["logout", "--json"], {
    env: { ...env, CDX_REQUEST_TIMEOUT: "x" },
  });
  assert.equal(variable.code, ExitCode.USAGE);
  assert.equal(object(variable.stdout).error.code, "usage");

  // Without --json: nothing on stdout.
  assert.equal((await runCdx(["login", "token"], { env })).stdout, "");
});

Deno.test("run --json: a failure before the stream starts is one line that is both codex's error event and the error object", async () => {
  await using home = await tempHome();
  const r = await runCdx(["run", "--json", "--base-url", "foo", "hi"], {
    env: { CODEX_HOME: home.path, OPENAI_API_KEY: KEY },
  });
  assert.equal(r.code, ExitCode.USAGE, r.stderr);
  const [line, ...rest] = assertJsonLines(r.stdout);
  assert.deepEqual(rest, []);
  assertSchema("error", line);
  assert.equal(line.type, "error");
  assert.equal(line.message, (line.error as { message: string }).message);
  assert.equal((line.error as { code: string }).code, "usage");
});

Deno.test("run --json: codex exec's events; a model failure ends the stream with error and turn.failed, no second error object", async () => {
  await using home = await tempHome();
  await using server = startResponsesServer((i) =>
    i === 0 ? normalStream("Blue, red, green.") : failedStream("context_length_exceeded")
  );
  const env = { CODEX_HOME: home.path, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseUrl };
  const ok = await runCdx(["run", "--json", "--ephemeral", "colours?"], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(assertJsonLines(ok.stdout).map((e) => e.type), [
    "thread.started",
    "turn.started",
    "item.completed",
    "turn.completed",
  ]);
  const failed = await runCdx(["run", "--json", "--ephemeral", "a long prompt"], { env });
  assert.equal(failed.code, ExitCode.FAILURE, failed.stderr);
  const events = assertJsonLines(failed.stdout);
  assert.deepEqual(events.slice(-2).map((e) => e.type), ["error", "turn.failed"]);
  assert.ok(events.every((e) => !("version" in e)), failed.stdout);
  // A bad -o is found before anything is sent: the one error line, nothing streamed.
  const early = await runCdx(["run", "--json", "-o", "/nonexistent/dir/a.txt", "hi"], { env });
  assert.equal(early.code, ExitCode.USAGE, early.stderr);
  const [line, ...rest] = assertJsonLines(early.stdout);
  assert.deepEqual(rest, []);
  assert.equal(assertSchema("error", line).error.code, "usage");
  assert.equal(server.requests.length, 2);
});

Deno.test("logout --json: what was revoked and removed, what may remain", async () => {
  await using home = await tempHome();
  await using revoke = revokeServer();
  const env = {
    CODEX_HOME: home.path,
    CDX_CREDENTIALS_STORE: "file",
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: revoke.url,
  };
  const { refresh } = await writeChatgptLogin(home.path);
  const r = await runCdx(["logout", "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(assertSchema("logout", JSON.parse(r.stdout)), {
    version: 1,
    state: "logged_out",
    revocation: "revoked",
    removed: [{ location: "file", path: `${home.path}/auth.json` }],
    remaining: [],
  });
  assert.equal(r.stderr, "Successfully logged out\n");
  assert.ok(revoke.requests[0].includes(refresh));
  assert.ok(!r.stdout.includes(refresh));

  const none = await runCdx(["logout", "--json"], { env });
  assert.deepEqual(assertSchema("logout", JSON.parse(none.stdout)), {
    version: 1,
    state: "not_logged_in",
    revocation: "not_needed",
    removed: [],
    remaining: [],
  });

  await writeChatgptLogin(home.path);
  const skipped = await runCdx(["logout", "--json", "--no-revoke"], { env });
  assert.equal(assertSchema("logout", JSON.parse(skipped.stdout)).revocation, "skipped");
});

Deno.test("logout --json: a failed revoke is reported and the logout goes on; an unreadable keychain is `partial`, exit 3", async () => {
  await using home = await tempHome();
  await using revoke = revokeServer({ status: 503 });
  await writeChatgptLogin(home.path);
  const failed = await runCdx(["logout", "--json"], {
    env: {
      CODEX_HOME: home.path,
      CDX_CREDENTIALS_STORE: "file",
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: revoke.url,
    },
  });
  assert.equal(failed.code, 0, failed.stderr);
  const report = assertSchema("logout", JSON.parse(failed.stdout));
  assert.equal(report.revocation, "failed");
  assert.match(String(report.revocation_error), /503/);
  assert.equal(report.state, "logged_out");

  const keyring = await runCdx(["logout", "--json", "--store", "keyring"], {
    env: { CODEX_HOME: home.path, ...NO_BUS(home.path) },
  });
  assert.equal(keyring.code, ExitCode.STORE_UNAVAILABLE, keyring.stderr);
  const partial = assertSchema<Record<string, unknown>>("logout", JSON.parse(keyring.stdout));
  assert.equal(partial.state, "partial");
  assert.ok((partial.remaining as string[]).length > 0);
  assert.equal((partial.error as { code: string }).code, "store_unavailable");
  assert.equal(keyring.stdout.trim().split("\n").length, 1); // no second (error) object
});

Deno.test("login token --json: auth_mode (kind kept, deprecated), RFC 3339 timestamps with milliseconds", async () => {
  await using home = await tempHome();
  const { access } = await writeChatgptLogin(home.path);
  const r = await runCdx(["login", "token", "--json"], {
    env: { CODEX_HOME: home.path, CDX_CREDENTIALS_STORE: "file" },
  });
  assert.equal(r.code, 0, r.stderr);
  const token = assertSchema<Record<string, unknown>>("token", JSON.parse(r.stdout));
  assert.equal(token.auth_mode, "chatgpt");
  assert.equal(token.kind, token.auth_mode);
  assert.equal(token.token, access);
  // auth.json keeps codex's nanoseconds; the output has milliseconds like every other time.
  assert.equal(token.last_refresh, "2026-01-02T03:04:05.123Z");
  assert.match(String(token.expires_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(await Deno.readTextFile(`${home.path}/auth.json`), /05\.123456789Z/);
});

Deno.test("the error codes are the same in lib/errors.ts and the schemas", () => {
  const codes = ERROR_CODES.map((e) => e.code);
  for (const name of ["error", "logout"]) {
    const schema = JSON.parse(
      Deno.readTextFileSync(new URL(`../schemas/${name}.json`, import.meta.url)),
    );
    assert.deepEqual(schema.$defs.error.properties.code.enum, codes, name);
  }
  assert.equal(new Set(codes).size, codes.length);
});

Deno.test({
  name:
    `terminal: a revoke that takes a while shows a progress line, cleared before "Successfully logged out"${NO_PTY}`,
  ignore: !HAS_PTY,
  async fn() {
    await using home = await tempHome();
    await using revoke = revokeServer({ hold: true });
    await writeChatgptLogin(home.path);
    const env = {
      CODEX_HOME: home.path,
      CDX_CREDENTIALS_STORE: "file",
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: revoke.url,
    };
    const term = cdxAtTerminal(["logout"], env);
    await term.shows("Revoking the token…");
    revoke.release();
    const r = await term.done();
    assert.equal(r.code, 0, r.screen);
    assert.ok(r.screen.endsWith(`${CLEAR}Successfully logged out\r\n`), JSON.stringify(r.screen));

    // Not a terminal: no progress line at all.
    await writeChatgptLogin(home.path);
    const piped = await runCdx(["logout"], { env });
    assert.equal(piped.code, 0);
    assert.equal(piped.stderr, "Successfully logged out\n");
  },
});

Deno.test({
  name:
    `terminal: a sign-in server that is slow to answer discovery shows what cdx waits for${NO_PTY}`,
  ignore: !HAS_PTY,
  async fn() {
    await using home = await tempHome();
    const gate = Promise.withResolvers<void>();
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
      await gate.promise;
      return new Response("not found", { status: 404 });
    });
    try {
      const host = `127.0.0.1:${server.addr.port}`;
      const term = cdxAtTerminal(
        ["login", "--issuer", `http://${host}`, "--no-browser", "--port", "0"],
        { CODEX_HOME: home.path, CDX_CREDENTIALS_STORE: "file" },
      );
      await term.shows(`Waiting for ${host} (OIDC discovery)…`);
      gate.resolve();
      await term.shows("Paste the address here");
      await term.type("\x03");
      const r = await term.done();
      assert.equal(r.code, ExitCode.INTERRUPTED, r.screen);
      // The progress line was cleared before the sign-in text.
      const progress = r.screen.lastIndexOf("(OIDC discovery)…");
      assert.ok(r.screen.indexOf(CLEAR, progress) > progress, JSON.stringify(r.screen));
    } finally {
      gate.resolve();
      await server.shutdown();
    }
  },
});

Deno.test({
  name:
    `terminal: a keychain call that hangs (an unlock prompt) shows a progress line, cleared before the status${NO_PTY}`,
  ignore: !HAS_PTY,
  async fn() {
    await using home = await tempHome();
    const bin = `${home.path}/bin`;
    await Deno.mkdir(bin);
    // A keychain tool that never answers, like one waiting for an unlock prompt (cdx kills it at 3 s).
    await Deno.writeTextFile(`${bin}/secret-tool`, "#!/bin/sh\nexec sleep 60\n", { mode: 0o755 });
    const term = cdxAtTerminal(["login", "status", "--store", "keyring"], {
      CODEX_HOME: home.path,
      PATH: `${bin}:${Deno.env.get("PATH")}`,
    });
    await term.shows("Waiting for the keychain (it may be asking you to unlock it)…");
    const r = await term.done();
    assert.equal(r.code, ExitCode.STORE_UNAVAILABLE, r.screen);
    assert.ok(
      r.screen.includes(`${CLEAR}Login state unknown: the keychain could not be read`),
      JSON.stringify(r.screen),
    );
  },
});

/** The rows of the first table after `heading` in the README, as arrays of cell texts. */
async function readmeTable(heading: string): Promise<string[][]> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, heading);
  const lines = readme.slice(start).split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|").slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

Deno.test("the README's error-code table is lib/errors.ts's", async () => {
  const rows = await readmeTable(
    "<!-- error-codes: the same table lives in lib/errors.ts; tests/cli_contract_test.ts keeps them in step -->",
  );
  assert.deepEqual(
    rows,
    ERROR_CODES.map((e) => [`\`${e.code}\``, String(e.exit), e.meaning]),
  );
});

Deno.test("the README's command table names every command, and a schema exactly where the command has --json", async () => {
  const rows = await readmeTable(
    "<!-- commands: tests/cli_contract_test.ts keeps this table in step with commands/grammar.ts -->",
  );
  const named = new Map(rows.map(([command, , json]) => [command.replaceAll("`", ""), json]));
  const expected = [
    ...(COMMANDS as readonly CommandSpec[]).map((c) => c.path.join(" ")),
    BUILTINS.completions.path[0],
    BUILTINS.help.path[0],
  ];
  assert.deepEqual([...named.keys()], expected);
  for (const command of COMMANDS as readonly CommandSpec[]) {
    const json = named.get(command.path.join(" "))!;
    const schema = /\(schemas\/([a-z-]+\.json)\)/.exec(json)?.[1];
    assert.equal(schema !== undefined, "json" in command.options, `${command.id}: ${json}`);
    if (schema) {
      assert.ok((await Deno.stat(new URL(`../schemas/${schema}`, import.meta.url))).isFile);
    }
  }
});
