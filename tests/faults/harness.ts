/**
 * The fault suite's harness (issue 10, "The standing suite"): one world per
 * test file (a private gnome-keyring, the strict rotating issuer stand-in,
 * the real codex CLI when it is installed), one CODEX_HOME per case with a
 * fault-injecting `secret-tool` shim first on PATH, the real cdx CLI as a
 * subprocess, and after EVERY case the same check ({@linkcode verifyCase}):
 *
 * - a valid credential exists: cdx reads it (`login status` exit 0), the
 *   real codex reads it (`codex login status`), and the issuer still accepts
 *   it — cdx refreshes it once more (`login token`, the issuer's tokens are
 *   minted already expired) and the issuer answers with new tokens; a
 *   credential the issuer no longer accepts is "lost";
 * - no secret on any channel: stdout (but the token `login token` prints),
 *   stderr, cdx.log, a `cdx feedback --output` bundle (unzipped), the argv
 *   and environment of every keychain child (logged by the shim; cdx runs
 *   with OPENAI_API_KEY / CODEX_API_KEY set, and a child must see neither);
 * - no run said "internal error".
 *
 * Cases run as concurrent `t.step`s in a small pool; each case is its own
 * CODEX_HOME (its own keychain item), so they do not interact. With
 * `CDX_FAULT_TABLE=<path>` the outcome table is written there as Markdown
 * (see {@linkcode writeFaultTable}).
 *
 * @module
 */
import {
  hasSecretServiceTools,
  type SecretServiceEnv,
  startSecretService,
} from "../helpers/secret_service.ts";
import { type CodexAuthServer, startCodexAuthServer } from "../fakes/codex_auth_server.ts";
import { baseEnv, cdxCommandLine, type CdxResult, runCdx } from "../helpers/cli.ts";
import { type ChildResult, runChild, spawnChild } from "../helpers/spawn.ts";
import {
  type AuthData,
  chatgptAuth,
  serializeAuthCompact,
  serializeAuthFile,
} from "../../lib/auth/auth_json.ts";
import { KEYRING_SERVICE, keyringAccount } from "../../lib/auth/keyring_item.ts";
import { codexAttributes, codexLabel } from "../../lib/keyring/secret_tool.ts";
import { maskApiKey } from "../../lib/auth/status.ts";
import { withFileLock } from "../../lib/file_lock.ts";
import { SecretToolShim } from "./shim.ts";

const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// The real codex CLI (optional)

import { findCodex } from "../helpers/codex_peer.ts";
export { findCodex };

// ---------------------------------------------------------------------------------------------
// The world

/** What every case of one test file shares. */
export interface World {
  ss: SecretServiceEnv;
  issuer: CodexAuthServer;
  /** Temp dir holding every case. */
  root: string;
  /** argv prefix running codex 0.169.0, when installed. */
  codex?: string[];
  /** Secrets the tests made up (API keys, bait variables); the issuer's are added at check time. */
  secrets: Set<string>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Values of the bait variables every flow runs with: a keychain child must never see them. */
export const BAIT_ENV = {
  OPENAI_API_KEY: "sk-bait-openai-env-0123456789abcdef",
  CODEX_API_KEY: "sk-bait-codex-env-0123456789abcdef",
};

/**
 * Starts a world. By default access tokens are minted already expired, so
 * every `login token` refreshes (the check's proof that the issuer still
 * accepts the stored token); a race with codex needs valid ones
 * (`accessTokenTtlS: 3600`), or codex refreshes before every request.
 */
export async function startWorld(options: { accessTokenTtlS?: number } = {}): Promise<World> {
  const root = await Deno.makeTempDir({ prefix: "cdx-faults-" });
  // No activation: a keyring daemon that crashed is restarted by runCase, never replaced by a
  // locked one that D-Bus would start on the next call (its store calls wait for a prompt forever).
  const ss = await startSecretService({ activation: false });
  const issuer = await startCodexAuthServer({
    accessTokenTtlS: options.accessTokenTtlS ?? -60,
    autoApproveAfterPolls: 1,
  });
  const close = async () => {
    await issuer.close();
    await ss.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  return {
    ss,
    issuer,
    root,
    codex: findCodex(),
    secrets: new Set(Object.values(BAIT_ENV)),
    close,
    [Symbol.asyncDispose]: close,
  };
}

// ---------------------------------------------------------------------------------------------
// One case

/** One run of cdx (or codex) and what it printed. */
export interface RunRecord {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
  /** `login token`: its stdout is the credential (checked separately). */
  printsCredential?: boolean;
}

/** Options of {@linkcode Case.cdx}. */
export interface CdxRunOptions {
  stdin?: string;
  /** Another entry point over cli.ts's main (the check process). */
  entry?: string;
  /** Run with OPENAI_API_KEY / CODEX_API_KEY set (default true; `login status` reports them, so checks turn it off). */
  bait?: boolean;
  env?: Record<string, string>;
}

/** A process paused at a checkpoint. */
export interface Paused {
  child: Deno.ChildProcess;
  /** Sends `signal` and waits for the end; the run is recorded. */
  stop(signal: Deno.Signal): Promise<RunRecord>;
}

/** One CODEX_HOME with its shim and the record of every run. */
export class Case {
  readonly runs: RunRecord[] = [];
  /** Extra secrets of this case (added to the world's at check time). */
  readonly secrets = new Set<string>();
  /** Checks that failed, in order. */
  readonly problems: string[] = [];
  /** Whether this case's mode asks the keychain (the shim must then have seen calls). */
  usesKeychain = true;
  /** Run after the check, whatever happened (unmount a tmpfs, …), last added first. */
  readonly cleanups: Array<() => Promise<void>> = [];

  private constructor(
    readonly world: World,
    readonly name: string,
    readonly dir: string,
    readonly home: string,
    readonly shim: SecretToolShim,
  ) {}

  /** A fresh case directory: `<dir>/home` (CODEX_HOME, created) and the shim. */
  static async create(world: World, name: string): Promise<Case> {
    const dir = await Deno.makeTempDir({ dir: world.root, prefix: "case-" });
    const home = `${dir}/home`;
    await Deno.mkdir(home, { mode: 0o700 });
    return new Case(world, name, dir, home, await SecretToolShim.install(dir));
  }

  /** Records a failed check (the case fails, the other checks still run). */
  problem(text: string): void {
    this.problems.push(text);
  }

  /** Environment of a cdx child of this case. */
  env(options: { bait?: boolean; env?: Record<string, string> } = {}): Record<string, string> {
    const issuer = this.world.issuer.url;
    return {
      ...this.world.ss.env,
      PATH: this.shim.path,
      CODEX_HOME: this.home,
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer}/oauth/token`,
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer}/oauth/revoke`,
      CDX_ISSUER: issuer,
      CDX_TEST_POLL_SCALE: "0.01",
      ...(options.bait === false ? {} : BAIT_ENV),
      ...options.env,
    };
  }

  /** Runs cdx to the end and records it. */
  async cdx(args: string[], options: CdxRunOptions = {}): Promise<RunRecord> {
    const result: CdxResult = await runCdx(args, {
      env: this.env(options),
      stdin: options.stdin,
      entry: options.entry,
    });
    const record: RunRecord = { args, ...result };
    if (args[0] === "login" && args[1] === "token") record.printsCredential = true;
    this.runs.push(record);
    return record;
  }

  /**
   * Starts cdx with `CDX_TEST_PAUSE_AT=<checkpoint>` and waits (bounded) for
   * its `paused at` line. Fails when the process ends without reaching it.
   */
  async pauseAt(
    args: string[],
    checkpoint: string,
    options: CdxRunOptions = {},
  ): Promise<Paused> {
    const { cmd, args: pre } = cdxCommandLine();
    const child = await spawnChild(cmd, [...pre, ...args], {
      env: baseEnv(
        this.env({ ...options, env: { ...options.env, CDX_TEST_PAUSE_AT: checkpoint } }),
      ),
      clearEnv: true,
      stdin: options.stdin,
    });
    let stderr = "";
    let stdout = "";
    const line = `cdx-test: paused at ${checkpoint}\n`;
    let reached!: () => void;
    const paused = new Promise<void>((resolve) => reached = resolve);
    const readErr = (async () => {
      for await (const chunk of child.stderr) {
        stderr += decoder.decode(chunk, { stream: true });
        if (stderr.includes(line)) reached();
      }
    })();
    const readOut = (async () => {
      for await (const chunk of child.stdout) stdout += decoder.decode(chunk, { stream: true });
    })();
    const ended = child.status;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      paused.then(() => "paused" as const),
      ended.then(() => "ended" as const),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), 60_000)),
    ]);
    clearTimeout(timer);
    const finish = async (): Promise<RunRecord> => {
      const status = await ended;
      await Promise.all([readErr, readOut]);
      const record: RunRecord = {
        args: [...args, `(paused at ${checkpoint})`],
        code: status.signal ? 128 + signalNumber(status.signal) : status.code,
        stdout,
        stderr,
        printsCredential: args[0] === "login" && args[1] === "token",
      };
      this.runs.push(record);
      return record;
    };
    if (outcome !== "paused") {
      if (outcome === "timeout") child.kill("SIGKILL");
      const record = await finish();
      throw new Error(
        `cdx ${
          args.join(" ")
        } never reached checkpoint ${checkpoint} (${outcome}, exit ${record.code}): ${
          record.stderr.slice(-500)
        }`,
      );
    }
    return {
      child,
      stop: async (signal) => {
        child.kill(signal);
        return await finish();
      },
    };
  }

  /** Runs the real codex (when installed) with this case's CODEX_HOME. */
  async codex(args: string[]): Promise<RunRecord | undefined> {
    if (!this.world.codex) return undefined;
    const out = await this.runCodex(args);
    // codex warns about helper binaries when CODEX_HOME is under the temp dir.
    const stderr = out.stderr.split("\n").filter((l) => !l.startsWith("WARNING: proceeding"))
      .join("\n");
    const record = { args: ["codex", ...args], code: out.code, stdout: out.stdout, stderr };
    this.runs.push(record);
    return record;
  }

  /**
   * Runs the real codex (which must be installed) with this case's
   * CODEX_HOME, keychain and issuer, and nothing else of the environment;
   * not recorded.
   */
  runCodex(args: string[], options: { cwd?: string } = {}): Promise<ChildResult> {
    const codex = this.world.codex;
    if (!codex) throw new Error("codex 0.169.0 is not installed");
    return runChild(codex[0], [...codex.slice(1), ...args], {
      env: {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: this.dir,
        CODEX_HOME: this.home,
        ...this.world.ss.env,
        CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${this.world.issuer.url}/oauth/token`,
      },
      clearEnv: true,
      cwd: options.cwd,
    });
  }

  // --- seeding ---------------------------------------------------------------------------------

  /** A ChatGPT login minted by the issuer (access token expired), as codex stores it. */
  mintLogin(lastRefreshMs = Date.now() - 3_600_000): AuthData {
    const tokens = this.world.issuer.mintTokens();
    return chatgptAuth({ ...tokens, account_id: "acct-123" }, lastRefreshMs);
  }

  /** config.toml with `cli_auth_credentials_store = mode`. */
  async writeConfig(mode: "auto" | "file" | "keyring"): Promise<void> {
    await Deno.writeTextFile(
      `${this.home}/config.toml`,
      `cli_auth_credentials_store = "${mode}"\n`,
    );
  }

  /** The keychain item codex would write for this CODEX_HOME, holding `auth`. */
  async storeItem(auth: AuthData): Promise<void> {
    const account = await keyringAccount(this.home);
    const out = await runChild("/usr/bin/secret-tool", [
      "store",
      `--label=${codexLabel(KEYRING_SERVICE, account)}`,
      ...codexAttributes(KEYRING_SERVICE, account),
    ], { env: this.world.ss.env, stdin: serializeAuthCompact(auth) });
    if (out.code !== 0) throw new Error(`seeding the keychain failed: ${out.stderr}`);
  }

  /** The record in use: the keychain item, else auth.json (read directly). */
  async storedAuth(): Promise<AuthData | undefined> {
    const item = await this.item();
    if (item !== undefined) return JSON.parse(item);
    try {
      return JSON.parse(await Deno.readTextFile(`${this.home}/auth.json`));
    } catch {
      return undefined;
    }
  }

  /** The keychain item's raw value (undefined when absent), read with the real secret-tool. */
  async item(): Promise<string | undefined> {
    const account = await keyringAccount(this.home);
    const out = await runChild("/usr/bin/secret-tool", [
      "lookup",
      ...codexAttributes(KEYRING_SERVICE, account),
    ], { env: this.world.ss.env });
    return out.code === 0 ? out.stdout : undefined;
  }

  /** A ChatGPT login in the keychain, config.toml saying `auto` (what `cdx login` leaves). */
  async seedKeychain(): Promise<AuthData> {
    const auth = this.mintLogin();
    await this.writeConfig("auto");
    await this.storeItem(auth);
    return auth;
  }

  /** A ChatGPT login in a plain auth.json; config.toml as given (none: a migration is pending in auto mode). */
  async seedFile(config?: "file" | "auto", auth = this.mintLogin()): Promise<AuthData> {
    if (config) await this.writeConfig(config);
    if (config === "file") this.usesKeychain = false;
    await Deno.writeTextFile(`${this.home}/auth.json`, serializeAuthFile(auth), { mode: 0o600 });
    return auth;
  }
}

function signalNumber(signal: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

// ---------------------------------------------------------------------------------------------
// The check after every case

/** What must be stored after a case. */
export type Expectation =
  /** A ChatGPT login the issuer still accepts. */
  | { kind: "chatgpt" }
  /** This API key. */
  | { kind: "apikey"; key: string }
  /** Either (a login interrupted while replacing a ChatGPT login by an API key). */
  | { kind: "chatgpt-or-apikey"; key: string }
  /** Nothing, anywhere (after a logout). */
  | { kind: "none" }
  /**
   * A ChatGPT login whose access token is still valid (a world minting valid
   * tokens): the issuer must accept the stored refresh token, and `login
   * token` prints a token the issuer minted.
   */
  | { kind: "chatgpt-unexpired" }
  /**
   * The one unavoidable loss: killed between the issuer's answer and the
   * fsync of the rescue file, the rotated tokens existed only in memory.
   * cdx must then say so plainly ("already used… sign in again"); counted
   * as lost, not as a failure.
   */
  | { kind: "rotated-away" };

/** The outcome of one case, for the table. */
export interface Verdict {
  problems: string[];
  /** The issuer no longer accepts any stored refresh token (or nothing is stored where a login should be). */
  lost: boolean;
  /** Where a secret was found. */
  leaks: string[];
}

/** The check process (status, token, feedback in one start-up). */
const CHECK_ENTRY = new URL("./check_cli.ts", import.meta.url).pathname;

/** One command's part of the check process's output. */
interface Part {
  code: number;
  stdout: string;
  stderr: string;
}

function splitCheck(run: RunRecord): Record<string, Part> {
  const out: Record<string, Part> = {};
  const marker = /^--- cdx-check (\w+) exit (-?\d+) ---$/;
  const cut = (text: string) => {
    const pieces: Array<{ name: string; code: number; text: string }> = [];
    let acc: string[] = [];
    for (const line of text.split("\n")) {
      const m = marker.exec(line);
      if (m) {
        pieces.push({
          name: m[1],
          code: Number(m[2]),
          text: acc.length ? `${acc.join("\n")}\n` : "",
        });
        acc = [];
      } else acc.push(line);
    }
    return pieces;
  };
  const outs = cut(run.stdout);
  const errs = cut(run.stderr);
  for (const [i, piece] of outs.entries()) {
    out[piece.name] = { code: piece.code, stdout: piece.text, stderr: errs[i]?.text ?? "" };
  }
  return out;
}

/** Secrets that may appear on a channel by design (the device user code is shown to the user). */
function secretsOf(world: World, c: Case): string[] {
  const all = new Set([...world.secrets, ...c.secrets, ...world.issuer.issuedSecrets()]);
  return [...all].filter((s) => s.length >= 12 && s !== "ABCD-1234");
}

/**
 * Runs the check of the module doc on case `c` and returns the verdict
 * (does not throw for check failures; they are in `problems`).
 */
export async function verifyCase(c: Case, expect: Expectation): Promise<Verdict> {
  const world = c.world;
  const problems: string[] = [];
  let lost = false;
  await c.shim.disarm();

  // cdx reads it, refreshes it once more, and makes a feedback bundle: one check process.
  const zip = `${c.dir}/feedback.zip`;
  const answered = world.issuer.refreshAnswers.length;
  const key = "key" in expect ? expect.key : "";
  const check = await c.cdx(
    ["feedback", "--output", zip, "--yes", ...(expect.kind === "none" ? [] : ["--token"])],
    { bait: false, entry: CHECK_ENTRY },
  );
  const parts = splitCheck(check);
  if (!parts.feedback) {
    problems.push(
      `the check process ended early (exit ${check.code}): ${
        check.stderr.split("\n").filter((l) => /error|Error|^\s+at /.test(l)).map((l) =>
          l.slice(0, 160)
        ).slice(0, 12).join(" | ")
      }`,
    );
  }
  const status = parts.status ?? { code: -1, stdout: "", stderr: check.stderr };
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(status.stdout);
  } catch {
    problems.push(`login status --json printed no JSON (exit ${status.code}): ${status.stderr}`);
  }
  let kind = expect.kind;
  if (kind === "chatgpt-or-apikey") kind = parsed.auth_mode === "apikey" ? "apikey" : "chatgpt";
  if (kind === "chatgpt-unexpired") {
    const token = parts.token;
    const stored = await c.storedAuth();
    if (!world.issuer.accepts(stored?.tokens?.refresh_token)) {
      lost = true;
      problems.push("the issuer no longer accepts the stored refresh token");
    }
    if (token?.code !== 0 || !world.issuer.issuedSecrets().includes(token.stdout.trim())) {
      problems.push(`login token: exit ${token?.code}: ${token?.stderr.trim()}`);
    }
    kind = "chatgpt";
  }
  if (kind === "rotated-away") {
    lost = true;
    const token = parts.token;
    if (status.code !== 0 || token?.code !== 1 || !/already used/.test(token.stderr)) {
      problems.push(
        `after a kill in the answer window: status exit ${status.code}, token exit ${token?.code}: ${token?.stderr.trim()}`,
      );
    }
    kind = "chatgpt";
  } else if (kind === "none") {
    if (status.code !== 1 || parsed.state !== "not_logged_in") {
      problems.push(`after logout, login status says ${parsed.state} (exit ${status.code})`);
    }
    if (await c.item() !== undefined) problems.push("the keychain item is still there");
    try {
      await Deno.lstat(`${c.home}/auth.json`);
      problems.push("auth.json is still there");
    } catch { /* gone */ }
  } else {
    if (status.code !== 0 || parsed.state !== "logged_in") {
      problems.push(`login status: ${parsed.state} (exit ${status.code}): ${status.stderr.trim()}`);
      if (parsed.state === "not_logged_in") lost = true;
    } else if (parsed.auth_mode !== kind) {
      problems.push(`login status: auth mode ${parsed.auth_mode}, expected ${kind}`);
    } else if (kind === "apikey" && parsed.api_key !== maskApiKey(key)) {
      problems.push(`login status: API key ${parsed.api_key}, expected ${maskApiKey(key)}`);
    }
  }

  // The issuer still accepts it: the refresh of the check process got new tokens.
  const token = parts.token;
  if (expect.kind === "rotated-away" || expect.kind === "chatgpt-unexpired") {
    // Checked above.
  } else if (kind === "chatgpt") {
    const printed = token?.stdout.trim() ?? "";
    const fresh = world.issuer.refreshAnswers.slice(answered).includes(printed);
    if (token?.code !== 0 || !fresh) {
      lost = true;
      problems.push(
        `the final refresh through cdx failed (exit ${token?.code}, issuer answered it: ${fresh}): ${token?.stderr.trim()}`,
      );
    }
  } else if (kind === "apikey" && (token?.code !== 0 || token.stdout !== `${key}\n`)) {
    lost = true;
    problems.push(`login token: exit ${token?.code}, ${token?.stderr.trim()}`);
  }

  // The real codex reads it.
  const codex = await c.codex(["login", "status"]);
  if (codex) {
    const want = kind === "none"
      ? /Not logged in/
      : kind === "apikey"
      ? new RegExp(`API key configured - ${maskApiKey(key).replace(/[*]/g, "\\*")}`)
      : /Logged in using ChatGPT/;
    if (!want.test(codex.stderr)) {
      problems.push(`codex login status: ${codex.stderr.trim()} (exit ${codex.code})`);
    }
  }

  // The feedback bundle, unzipped.
  let bundle = "";
  if (parts.feedback?.code !== 0) {
    problems.push(
      `cdx feedback failed (exit ${parts.feedback?.code}): ${parts.feedback?.stderr.trim()}`,
    );
  } else {
    const unzip = await runChild("unzip", ["-p", zip]);
    if (unzip.code !== 0) problems.push(`unzip failed: ${unzip.stderr}`);
    bundle = unzip.stdout;
  }

  // No secret on any channel.
  const leaks: string[] = [];
  const secrets = secretsOf(world, c);
  const search = (channel: string, text: string) => {
    for (const secret of secrets) {
      if (text.includes(secret)) {
        leaks.push(`${channel} contains ${secret.slice(0, 6)}…`);
        break;
      }
    }
  };
  for (const [i, run] of c.runs.entries()) {
    const label = `run ${i + 1} (${run.args.join(" ")})`;
    let stdout = run.stdout;
    if (run === check) {
      // `login token` prints the one credential asked for: exactly one line, nothing else.
      stdout = stdout.replace(
        /^(--- cdx-check status exit \d+ ---\n)[^\n]*\n(--- cdx-check token)/m,
        "$1$2",
      );
      if (token?.code === 0 && token.stdout.split("\n").length !== 2) {
        problems.push(`${label}: login token printed more than one line`);
      }
    } else if (run.printsCredential && run.code === 0) {
      const lines = stdout.split("\n");
      if (lines.length !== 2 || lines[1] !== "") problems.push(`${label}: stdout is not one line`);
      stdout = "";
    }
    search(`${label} stdout`, stdout);
    search(`${label} stderr`, run.stderr);
    if (/internal error/.test(run.stderr)) {
      problems.push(`${label} said: ${run.stderr.trim().split("\n").slice(-2).join(" / ")}`);
    }
  }
  try {
    search("cdx.log", await Deno.readTextFile(`${c.home}/log/cdx.log`));
  } catch { /* no log */ }
  search("feedback bundle", bundle);
  const calls = await c.shim.log();
  search("a keychain child's argv or environment", calls);
  for (const name of Object.keys(BAIT_ENV)) {
    if (calls.includes(`env ${name}=`)) leaks.push(`a keychain child's environment has ${name}`);
  }
  if (c.usesKeychain && !calls.includes("call secret-tool")) {
    problems.push("the shim saw no secret-tool call (is it on PATH?)");
  }
  problems.push(...leaks);
  return { problems: [...c.problems, ...problems], lost, leaks };
}

// ---------------------------------------------------------------------------------------------
// Running cases and the table

/** One case: `run` drives the flow (asserting what it must) and says what must be stored after. */
export interface CaseSpec {
  name: string;
  /** The table row it counts in. */
  row: string;
  /** What must be stored when `run` throws (default: a ChatGPT login the issuer accepts). */
  expectOnError?: Expectation;
  /**
   * A defect another branch fixes: the case runs and counts in the table,
   * but its failure does not fail the suite until that branch lands.
   */
  knownIssue?: string;
  run(c: Case): Promise<Expectation>;
}

/** Counts of one table row. */
export interface RowCounts {
  cases: number;
  failures: number;
  lost: number;
  leaked: number;
}

const rows = new Map<string, RowCounts>();

function count(row: string, verdict: Verdict): void {
  const counts = rows.get(row) ?? { cases: 0, failures: 0, lost: 0, leaked: 0 };
  counts.cases++;
  if (verdict.problems.length) counts.failures++;
  if (verdict.lost) counts.lost++;
  if (verdict.leaks.length) counts.leaked++;
  rows.set(row, counts);
}

/** Times the private gnome-keyring crashed during a case (and the case ran again). */
let keyringCrashes = 0;
const restarting = new WeakMap<World, Promise<void>>();

/** Restarts the world's keyring daemon if it died; concurrent callers share one restart. */
async function ensureKeyring(world: World): Promise<void> {
  if (world.ss.alive()) return;
  let pending = restarting.get(world);
  if (!pending) {
    pending = world.ss.restart().finally(() => restarting.delete(world));
    restarting.set(world, pending);
  }
  await pending;
}

/**
 * Runs `spec` and the check; returns the verdict. gnome-keyring 42 aborts
 * now and then (a GLib assertion when a client disconnects while its
 * property read is answered — codex and killed clients do that): the daemon
 * is restarted on the same data, and a case it died under runs once more.
 */
export async function runCase(world: World, spec: CaseSpec): Promise<Verdict> {
  await ensureKeyring(world);
  const pid = world.ss.keyringPid;
  let verdict = await runCaseOnce(world, spec);
  if (!world.ss.alive() || world.ss.keyringPid !== pid) {
    keyringCrashes++;
    await ensureKeyring(world);
    verdict = await runCaseOnce(world, spec);
  }
  count(spec.row, verdict);
  return verdict;
}

async function runCaseOnce(world: World, spec: CaseSpec): Promise<Verdict> {
  const c = await Case.create(world, spec.name);
  let expect: Expectation | undefined;
  try {
    expect = await spec.run(c);
  } catch (error) {
    c.problem(`flow: ${(error as Error).message}`);
  }
  let verdict: Verdict;
  try {
    verdict = await verifyCase(c, expect ?? spec.expectOnError ?? { kind: "chatgpt" });
  } catch (error) {
    verdict = {
      problems: [...c.problems, `check: ${(error as Error).stack}`],
      lost: false,
      leaks: [],
    };
  }
  for (const cleanup of c.cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      verdict.problems.push(`cleanup: ${(error as Error).message}`);
    }
  }
  return verdict;
}

const STEP = { sanitizeOps: false, sanitizeResources: false, sanitizeExit: false };

/** Cases run concurrently at most this many at a time (2 cores; most time is spent waiting). */
export const POOL = 3;

/**
 * Runs every spec as a `t.step` (at most `pool` at once). A step fails with
 * the list of its problems.
 */
export async function runCases(
  t: Deno.TestContext,
  world: World,
  specs: CaseSpec[],
  pool = POOL,
): Promise<void> {
  // CDX_FAULT_FILTER=<regex> runs only the matching cases (while working on one).
  const filter = Deno.env.get("CDX_FAULT_FILTER");
  const queue = filter ? specs.filter((s) => new RegExp(filter).test(s.name)) : [...specs];
  const worker = async () => {
    for (let spec = queue.shift(); spec; spec = queue.shift()) {
      const s = spec;
      await t.step({
        name: s.name,
        ...STEP,
        fn: async () => {
          const verdict = await runCase(world, s);
          if (verdict.problems.length && !s.knownIssue) {
            throw new Error(`${s.name}:\n  - ${verdict.problems.join("\n  - ")}`);
          }
        },
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(pool, queue.length) }, worker));
}

/** The suite needs a private gnome-keyring: Linux with its tools installed. */
const HAS_SS = Deno.build.os === "linux" && hasSecretServiceTools();

/** Options of {@linkcode faultTest}. */
export interface FaultTestOptions {
  /** Skip the test also when this is true (it is always skipped without the keyring tools). */
  ignore?: boolean;
  /** Options of the file's world ({@linkcode startWorld}). */
  world?: { accessTokenTtlS?: number };
}

/**
 * Registers a fault suite file's test: skipped without the keyring tools;
 * `body` runs its cases (as steps, hence no op/resource sanitizers) in one
 * world started for it, and the file's rows go to the table whatever
 * happened.
 */
export function faultTest(
  name: string,
  body: (t: Deno.TestContext, world: World) => Promise<void>,
  options: FaultTestOptions = {},
): void {
  Deno.test({
    name,
    ignore: !HAS_SS || options.ignore,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      await using world = await startWorld(options.world);
      try {
        await body(t, world);
      } finally {
        await writeFaultTable();
      }
    },
  });
}

/** A row skipped on this machine (e.g. no permission to mount), shown in the table. */
export function skipRow(row: string, why: string): void {
  skipped.set(row, why);
}
const skipped = new Map<string, string>();

/** The description of each table row, in table order. */
export const ROWS: Array<[string, string]> = [
  [
    "keychain-fail",
    "`secret-tool` fails on call N of lookup/store/clear (refresh, migration, API-key login, logout)",
  ],
  ["keychain-hang", "`secret-tool` hangs on call N of lookup/store/clear (same flows)"],
  ["keychain-fail-after", "`secret-tool store` does the store, then reports failure (same flows)"],
  ["kill9", "kill -9 at every checkpoint of refresh, migration, login, API-key login, logout"],
  [
    "kill9-window",
    "kill -9 between the issuer's answer and the rescue file's fsync (unavoidable: the rotated token exists only in memory; cdx then says \"already used… sign in again\")",
  ],
  [
    "sigint",
    'SIGINT at the same checkpoints (exit 130, "interrupted"); `deno task test` alternates SIGINT and SIGTERM per checkpoint, this table sends both everywhere',
  ],
  ["sigterm", 'SIGTERM at the same checkpoints (exit 143, "terminated")'],
  [
    "disk",
    "full disk (ENOSPC) before and during a refresh; read-only (EROFS) and immutable (EPERM) CODEX_HOME",
  ],
  [
    "symlink",
    "symlinks: a dangling auth.json.lock, auth.json itself a symlink, log/cdx.log → a victim file",
  ],
  [
    "oversize",
    "oversize inputs: 50 MB auth.json, 1 MB credential, 40 KB / 1 MB tokens, 1 MB error page",
  ],
  [
    "race",
    "3 `cdx login token` and a `codex exec` (0.169.0) refreshing the same expired token at once (file and keychain); the issuer rejects a reused refresh token",
  ],
  [
    "race-strict",
    "the same race, the issuer revoking the whole grant when a rotated refresh token comes back (RFC 9700 §4.14.2)",
  ],
];

/**
 * With `CDX_FAULT_TABLE=<path>`: merges this file's rows into `<path>.json`
 * (under a lock; the suite's files run in parallel) and renders the whole
 * table to `<path>` as Markdown.
 */
export async function writeFaultTable(): Promise<void> {
  const path = Deno.env.get("CDX_FAULT_TABLE");
  if (!path) return;
  await withFileLock(`${path}.lock`, async () => {
    let all: Record<string, RowCounts | { skipped: string }> = {};
    try {
      all = JSON.parse(await Deno.readTextFile(`${path}.json`));
    } catch { /* first file */ }
    for (const [row, counts] of rows) all[row] = counts;
    if (keyringCrashes) {
      const before = (all["keyring-crashes"] as { cases?: number } | undefined)?.cases ?? 0;
      all["keyring-crashes"] = { cases: before + keyringCrashes, failures: 0, lost: 0, leaked: 0 };
    }
    for (const [row, why] of skipped) if (!rows.has(row)) all[row] = { skipped: why };
    await Deno.writeTextFile(`${path}.json`, JSON.stringify(all, null, 2));
    await Deno.writeTextFile(path, renderTable(all));
  });
}

/** The Markdown table. */
export function renderTable(all: Record<string, RowCounts | { skipped: string }>): string {
  const lines = [
    "| Fault | Cases | Failures | Credentials lost | Secrets leaked |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  const total = { cases: 0, failures: 0, lost: 0, leaked: 0 };
  for (const [key, text] of ROWS) {
    const row = all[key];
    if (!row) continue;
    if ("skipped" in row) {
      lines.push(`| ${text} | skipped: ${row.skipped} | | | |`);
      continue;
    }
    lines.push(`| ${text} | ${row.cases} | ${row.failures} | ${row.lost} | ${row.leaked} |`);
    total.cases += row.cases;
    total.failures += row.failures;
    total.lost += row.lost;
    total.leaked += row.leaked;
  }
  lines.push(
    `| **All** | **${total.cases}** | **${total.failures}** | **${total.lost}** | **${total.leaked}** |`,
  );
  const crashes = (all["keyring-crashes"] as RowCounts | undefined)?.cases;
  if (crashes) {
    lines.push(
      "",
      `The private gnome-keyring 42 aborted ${crashes} time(s) (a GLib assertion when a client leaves while its property read is answered); it was restarted on the same data and those cases ran again.`,
    );
  }
  return `${lines.join("\n")}\n`;
}
