/**
 * Every place a real cdx process waits — each network request, a keychain
 * call, a lock, a prompt, a stdin read, the model stream — held there
 * deterministically: a server that accepts and never answers, a keychain
 * tool that never returns, `auth.lock` held by another process's `flock`, a
 * prompt in a pseudo-terminal, a stdin that never closes. A point is ready
 * only once the wait is observable (the request reached the server, the
 * lock request is queued in `/proc/locks`, the prompt is on the terminal),
 * never after a sleep.
 *
 * `tests/interrupt_table_test.ts` runs each point × {SIGINT, SIGTERM, hang}
 * and checks the outcome; `scripts/bench_interrupt.ts` times signal → exit
 * at the same points.
 *
 * @module
 */
import { spawnCdx } from "./cli.ts";
import { authorizeUrlIn, waitFor, watchCdx } from "./browser.ts";
import { runCdxInPty } from "./pty.ts";
import { makeJwt, type RecordedRequest, startCodexAuthServer } from "../fakes/codex_auth_server.ts";
import { responseEvents, startResponsesServer } from "../fakes/responses_server.ts";
import { silentServer } from "../fakes/raw_http.ts";
import { SecretToolShim } from "../faults/shim.ts";
import { chatgptAuth, serializeAuthFile } from "../../lib/auth/auth_json.ts";

/** A column of the table: a signal sent while cdx waits, or no signal and a small bound. */
export type Column = "SIGINT" | "SIGTERM" | "hang";

/** What a run at a point showed. */
export interface Observation {
  code: number;
  stdout: string;
  stderr: string;
  /** Signal → exit, ms (signal columns only; measured, never asserted). */
  exitMs?: number;
  /** CODEX_HOME entries added, changed or removed (`+x`, `~x`, `-x`), besides logs and lock files. */
  changes: string[];
  /** Requests the point's fake server received (for "nothing was sent" checks). */
  requests: number;
  /** CODEX_HOME's files afterwards (path → text), logs and lock files aside. */
  after: Map<string, string>;
}

/** One wait point. */
export interface WaitPoint {
  id: string;
  /** Its name in the table. */
  title: string;
  /** How the test holds cdx there. */
  holds: string;
  /** Runs cdx to this point and sends `column`'s signal there (or lets the bound expire). */
  run(column: Column): Promise<Observation>;
}

const KEY = "sk-proj-wait-points-0123456789abcdef";

/**
 * The hang column's request bound. 2 s, not 1: a login's earlier requests to
 * the in-process fakes must still be answered within it on a loaded machine.
 */
export const REQUEST_BOUND = { CDX_REQUEST_TIMEOUT: "2" };

/** Bound on any one observation: a point that does not end within it fails instead of hanging. */
const RUN_BOUND_MS = 45_000;

// --- fakes ---------------------------------------------------------------------------------------

/**
 * A keychain whose tool never answers: the fault suite's `secret-tool` shim
 * with every call hanging, first on cdx's PATH. `called()` says once cdx is
 * inside a keychain call.
 */
export async function hungKeychain(): Promise<
  { path: string; called(): Promise<boolean> } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "cdx-hung-keychain-" });
  const shim = await SecretToolShim.install(dir);
  await shim.arm("*", "*", "hang");
  return {
    path: shim.path,
    called: async () => (await shim.log()).includes("fault secret-tool"),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/**
 * Another process holding `path` with an exclusive `flock` (python3's fcntl,
 * the call codex and cdx make) until disposed.
 */
export async function holdFlock(path: string): Promise<AsyncDisposable> {
  const child = new Deno.Command("python3", {
    args: [
      "-c",
      "import fcntl,sys\nf=open(sys.argv[1],'a')\nfcntl.flock(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\nsys.stdin.read()",
      path,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the lock holder exited before taking ${path}`);
    seen += value;
  }
  return {
    async [Symbol.asyncDispose]() {
      await child.stdin.close().catch(() => {});
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}

/** Whether some process waits (blocked, `->` in /proc/locks) for a flock on `path`. */
export async function flockWaiter(path: string): Promise<boolean> {
  const inode = (await Deno.stat(path)).ino;
  const locks = await Deno.readTextFile("/proc/locks");
  return locks.split("\n").some((line) =>
    /->\s+FLOCK/.test(line) && line.split(/\s+/).some((f) => f.endsWith(`:${inode}`))
  );
}

// --- CODEX_HOME snapshots ------------------------------------------------------------------------

/** Kept by design after any command (codex keeps its lock files too; cdx.log is the log). */
const EXPECTED_LEFTOVERS = new Set(["auth.lock", "auth.json.lock", "log"]);

async function snapshot(home: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string, prefix: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (!prefix && EXPECTED_LEFTOVERS.has(entry.name)) continue;
      const rel = `${prefix}${entry.name}`;
      if (entry.isDirectory) await walk(`${dir}/${entry.name}`, `${rel}/`);
      else out.set(rel, entry.isFile ? await Deno.readTextFile(`${dir}/${entry.name}`) : "?");
    }
  };
  await walk(home, "");
  return out;
}

function diff(before: Map<string, string>, after: Map<string, string>): string[] {
  const changes: string[] = [];
  for (const [name, content] of after) {
    if (!before.has(name)) changes.push(`+${name}`);
    else if (before.get(name) !== content) changes.push(`~${name}`);
  }
  for (const name of before.keys()) if (!after.has(name)) changes.push(`-${name}`);
  return changes.sort();
}

// --- one run -------------------------------------------------------------------------------------

/** A point's setup for one run: what to start, how to know it waits, what to count. */
interface Setup {
  args: string[];
  env: Record<string, string>;
  /**
   * Keep stdin open and silent (a pipe nobody writes to). Such a wait has no
   * bound (the input is the user's): its hang column closes stdin instead.
   */
  openStdin?: boolean;
  /** The test's part in getting cdx there (the browser's redirect), in every column. */
  drive?(cdx: ReturnType<typeof watchCdx>): Promise<unknown>;
  /** Resolves once cdx provably waits at the point (signal columns). */
  ready(cdx: ReturnType<typeof watchCdx>): Promise<unknown>;
  requests(): number;
}

async function observe(
  home: string,
  setup: Setup,
  column: Column,
  hangEnv: Record<string, string>,
  hangArgs: string[] = [],
): Promise<Observation> {
  const before = await snapshot(home);
  const hang = column === "hang";
  const child = spawnCdx(hang ? [...setup.args, ...hangArgs] : setup.args, {
    env: hang ? { ...setup.env, ...hangEnv } : setup.env,
    // spawnCdx pipes stdin when given any string; we never write to it.
    stdin: setup.openStdin ? "" : undefined,
  });
  const cdx = watchCdx(child);
  let killer: ReturnType<typeof setTimeout> | undefined;
  try {
    const bounded = new Promise<never>((_, reject) => {
      killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        reject(new Error(`cdx did not end within ${RUN_BOUND_MS} ms; stderr:\n${cdx.stderr()}`));
      }, RUN_BOUND_MS);
    });
    bounded.catch(() => {});
    let sent = 0;
    if (setup.drive) await Promise.race([setup.drive(cdx), bounded]);
    if (!hang) {
      await Promise.race([setup.ready(cdx), bounded]);
      sent = performance.now();
      child.kill(column);
    } else if (setup.openStdin) {
      // Input the user controls has no bound: the hang column ends it (end of input).
      await Promise.race([setup.ready(cdx), bounded]);
      await child.stdin.close();
    }
    const status = await Promise.race([child.status, bounded]);
    const exitMs = hang ? undefined : performance.now() - sent;
    const r = await cdx.done();
    const after = await snapshot(home);
    return {
      code: status.code,
      stdout: r.stdout,
      stderr: r.stderr,
      exitMs,
      changes: diff(before, after),
      requests: setup.requests(),
      after,
    };
  } finally {
    clearTimeout(killer);
    if (setup.openStdin) await child.stdin.close().catch(() => {});
  }
}

async function withTempHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  const home = await Deno.makeTempDir({ prefix: "cdx-wait-" });
  try {
    return await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

/** A wait point whose every run gets a fresh CODEX_HOME (removed afterwards). */
function point(
  p: { id: string; title: string; holds: string },
  run: (home: string, column: Column) => Promise<Observation>,
): WaitPoint {
  return {
    id: p.id,
    title: p.title,
    holds: p.holds,
    run: (column) => withTempHome((home) => run(home, column)),
  };
}

function fileStore(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CODEX_HOME: home, CDX_CREDENTIALS_STORE: "file", ...extra };
}

/** A stored ChatGPT login (auth.json) whose access token expired a minute ago. */
async function storeExpiredLogin(home: string): Promise<void> {
  const claims = { "https://api.openai.com/auth": { chatgpt_account_id: "acct-waits" } };
  const auth = chatgptAuth({
    id_token: makeJwt({ ...claims, email: "waits@example.com" }),
    access_token: makeJwt({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }),
    refresh_token: "rt_wait_points_0123456789abcdef",
    account_id: "acct-waits",
  }, Date.now() - 86_400_000);
  await Deno.writeTextFile(`${home}/auth.json`, serializeAuthFile(auth), { mode: 0o600 });
}

// --- the points ----------------------------------------------------------------------------------

const isPath = (path: string) => (r: RecordedRequest) => r.path === path;
const isGrant = (grant: string) => (r: RecordedRequest) =>
  r.path === "/oauth/token" && new URLSearchParams(r.body).get("grant_type") === grant;
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

/** A login against the codex fake that hangs the request `hang` matches (or waits for a person). */
function loginPoint(p: {
  id: string;
  title: string;
  holds: string;
  flow: "browser" | "device";
  hang?: (r: RecordedRequest) => boolean;
  interval?: string;
  /** Env of the hang column (default {@linkcode REQUEST_BOUND}). */
  hangEnv?: Record<string, string>;
}): WaitPoint {
  return point(p, async (home, column) => {
    await using fake = await startCodexAuthServer({
      hang: p.hang,
      interval: p.interval,
      autoApproveAfterPolls: p.interval ? undefined : 1,
    });
    const seen = () => fake.requests.filter((r) => p.hang?.(r)).length;
    const setup: Setup = {
      args: p.flow === "device"
        ? ["login", "--device-auth", "--no-browser"]
        : ["login", "--no-browser", "--port", "0"],
      env: fileStore(home, { CDX_ISSUER: fake.url }),
      async drive(cdx) {
        if (p.flow !== "browser") return;
        const url = await waitFor(() => authorizeUrlIn(cdx.stderr()), "the sign-in link");
        if (!p.hang) return;
        // The browser's part; its callback stays open while cdx exchanges the code.
        const authorize = await fetch(url, { redirect: "manual" });
        await authorize.body?.cancel();
        fetch(authorize.headers.get("location")!).then((r) => r.body?.cancel()).catch(() => {});
      },
      async ready() {
        if (p.hang) await waitFor(() => seen() > 0, `the request at ${p.title}`);
        else if (p.interval) {
          await waitFor(
            () => fake.requests.some(isPath("/api/accounts/deviceauth/token")),
            "a poll",
          );
        }
      },
      requests: seen,
    };
    return await observe(home, setup, column, p.hangEnv ?? REQUEST_BOUND);
  });
}

/** A command whose request goes to a silent server (`url` receives its base URL). */
function silentPoint(p: {
  id: string;
  title: string;
  holds: string;
  args: string[];
  env: (home: string, url: string) => Record<string, string>;
  prepare?: (home: string) => Promise<void>;
  hangEnv?: Record<string, string>;
  hangArgs?: string[];
}): WaitPoint {
  return point(p, async (home, column) => {
    await p.prepare?.(home);
    await using silent = silentServer();
    const setup: Setup = {
      args: p.args,
      env: p.env(home, silent.origin),
      ready: () => silent.requested,
      requests: () => silent.requests(),
    };
    return await observe(
      home,
      setup,
      column,
      p.hangEnv ?? REQUEST_BOUND,
      p.hangArgs,
    );
  });
}

/** A stream that sends its first words and then nothing, without ending. */
function stalledStream() {
  const events = responseEvents(["partial ", "answer"]);
  const firstDelta = events.findIndex((e) => e.includes("output_text.delta"));
  return { chunks: events.slice(0, firstDelta + 1), end: "hang" as const };
}

/** Every wait point, in the table's order. */
export const WAIT_POINTS: readonly WaitPoint[] = [
  silentPoint({
    id: "discovery",
    title: "OIDC discovery (`login --issuer`)",
    holds: "an issuer that accepts and never answers",
    args: ["login", "--no-browser", "--port", "0"],
    env: (home, url) => fileStore(home, { CDX_ISSUER: url }),
  }),
  loginPoint({
    id: "browser-wait",
    title: "browser login: waiting for the sign-in",
    holds: "nobody signs in",
    flow: "browser",
    hangEnv: { CDX_TEST_POLL_SCALE: "0.001" },
  }),
  loginPoint({
    id: "browser-exchange",
    title: "browser login: code exchange",
    holds: "a token endpoint that never answers",
    flow: "browser",
    hang: isGrant("authorization_code"),
  }),
  loginPoint({
    id: "api-key-exchange",
    title: "browser login: API-key exchange (best effort)",
    holds: "a token-exchange endpoint that never answers",
    flow: "browser",
    hang: isGrant(TOKEN_EXCHANGE),
  }),
  loginPoint({
    id: "device-usercode",
    title: "device login: user code request",
    holds: "a user-code endpoint that never answers",
    flow: "device",
    hang: isPath("/api/accounts/deviceauth/usercode"),
  }),
  loginPoint({
    id: "device-poll",
    title: "device login: poll",
    holds: "a poll that never answers",
    flow: "device",
    hang: isPath("/api/accounts/deviceauth/token"),
  }),
  loginPoint({
    id: "device-interval",
    title: "device login: wait between polls",
    holds: "an `interval` of 30 s, nobody approves",
    flow: "device",
    interval: "30",
    hangEnv: { CDX_TEST_POLL_SCALE: "0.001" },
  }),
  loginPoint({
    id: "device-exchange",
    title: "device login: code exchange",
    holds: "a token endpoint that never answers",
    flow: "device",
    hang: isGrant("authorization_code"),
  }),
  silentPoint({
    id: "refresh",
    title: "token refresh (`login token`, expired token)",
    holds: "a token endpoint that never answers",
    args: ["login", "token"],
    prepare: storeExpiredLogin,
    env: (home, url) => fileStore(home, { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${url}/oauth/token` }),
  }),
  point({
    id: "lock",
    title: "lock wait (`login token`, expired token)",
    holds: "`auth.lock` held by another process's flock",
  }, async (home, column) => {
    await storeExpiredLogin(home);
    await using silent = silentServer();
    const lockPath = `${home}/auth.lock`;
    await Deno.writeTextFile(lockPath, "", { mode: 0o600 });
    await using _held = await holdFlock(lockPath);
    const setup: Setup = {
      args: ["login", "token"],
      env: fileStore(home, {
        CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${silent.origin}/oauth/token`,
      }),
      ready: () => waitFor(() => flockWaiter(lockPath), "cdx queued on auth.lock"),
      requests: () => silent.requests(),
    };
    return await observe(home, setup, column, { CDX_TEST_LOCK_WAIT_MS: "1000" });
  }),
  silentPoint({
    id: "revoke",
    title: "token revocation (`logout`)",
    holds: "a revoke endpoint that never answers",
    args: ["logout"],
    prepare: storeExpiredLogin,
    env: (home, url) => fileStore(home, { CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${url}/oauth/revoke` }),
  }),
  point({
    id: "keychain",
    title: "keychain call (`login token`, auto)",
    holds: "a `secret-tool` that never returns",
  }, async (home, column) => {
    await using keychain = await hungKeychain();
    const setup: Setup = {
      args: ["login", "token"],
      env: {
        CODEX_HOME: home,
        CDX_CREDENTIALS_STORE: "auto",
        PATH: keychain.path,
        DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus",
      },
      ready: () => waitFor(() => keychain.called(), "the keychain call"),
      requests: () => 0,
    };
    // The keychain's own bound (3 s) is the hang column: no extra setting.
    return await observe(home, setup, column, {});
  }),
  point({
    id: "prompt",
    title: "interactive prompt (`feedback` in a terminal)",
    holds: "a pseudo-terminal; nobody answers",
  }, async (home, column) => {
    const before = await snapshot(home);
    const wait = { wait: "What kind of report?" };
    const steps = column === "SIGINT"
      ? [wait, { send: "\x03" }]
      : column === "SIGTERM"
      ? [wait, { kill: "SIGTERM" as const }]
      : [wait, { send: "\x04" }]; // no bound: the person ends it (Ctrl-D = end of input)
    const r = await runCdxInPty(["feedback", "--output", `${home}/report.zip`], steps, {
      env: { CODEX_HOME: home },
      boundSeconds: RUN_BOUND_MS / 1000,
    });
    if (r.timedOutWaitingFor) {
      throw new Error(`no ${r.timedOutWaitingFor} on the terminal:\n${r.output}`);
    }
    const after = await snapshot(home);
    return {
      code: r.code,
      stdout: "",
      stderr: r.output.replaceAll("\r\n", "\n"),
      exitMs: column === "hang" ? undefined : r.exitMs,
      changes: diff(before, after),
      requests: 0,
      after,
    };
  }),
  silentPoint({
    id: "upload",
    title: "feedback upload",
    holds: "a Sentry endpoint that never answers",
    args: ["feedback", "--upload", "--yes"],
    env: (home, url) => ({
      CODEX_HOME: home,
      CDX_FEEDBACK_DSN: url.replace("://", "://key@") + "/1",
    }),
  }),
  point({
    id: "run-stdin",
    title: "`run` reading its prompt from stdin",
    holds: "a stdin pipe that never closes",
  }, async (home, column) => {
    await using server = startResponsesServer([{ chunks: responseEvents(["ok"]) }]);
    const setup: Setup = {
      args: ["run", "summarise"],
      env: { CODEX_HOME: home, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseUrl },
      openStdin: true,
      ready: (cdx) =>
        waitFor(() => cdx.stderr().includes("Reading additional input from stdin"), "stdin"),
      requests: () => server.responseRequests().length,
    };
    return await observe(home, setup, column, {});
  }),
  point({
    id: "api-key-stdin",
    title: "`login --with-api-key` reading stdin",
    holds: "a stdin pipe that never closes",
  }, async (home, column) => {
    const setup: Setup = {
      args: ["login", "--with-api-key"],
      env: fileStore(home),
      openStdin: true,
      ready: (cdx) => waitFor(() => cdx.stderr().includes("Reading API key from stdin"), "stdin"),
      requests: () => 0,
    };
    return await observe(home, setup, column, {});
  }),
  silentPoint({
    id: "model-connect",
    title: "model request: connect and first byte (`run`)",
    holds: "a model server that accepts and never answers",
    args: ["run", "hi"],
    env: (home, url) => ({ CODEX_HOME: home, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `${url}/v1` }),
  }),
  point({
    id: "model-stream",
    title: "model stream (`run`, after the first words)",
    holds: "a stream that stops sending",
  }, async (home, column) => {
    await using server = startResponsesServer([stalledStream()]);
    const setup: Setup = {
      args: ["run", "hi"],
      env: { CODEX_HOME: home, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseUrl },
      ready: (cdx) => waitFor(() => cdx.stdout().includes("partial"), "the first words"),
      requests: () => server.responseRequests().length,
    };
    return await observe(home, setup, column, {}, ["--idle-timeout", "2"]);
  }),
];
