/**
 * Runs a command in a pseudo-terminal (python3's `pty` module), so a test
 * can type at cdx's prompts and press Ctrl-C as a person does: the terminal
 * turns `\x03` into SIGINT for the foreground process, exactly as in a real
 * shell. Steps wait for text on the terminal (never for time); the whole
 * run is bounded and fails with what was seen instead of hanging.
 *
 * @module
 */
import { baseEnv, cdxCommandLine } from "./cli.ts";

/**
 * One step: wait until `wait` appears (after the previous match), then type
 * `send` or send the signal `kill` to cdx (as another process would).
 */
/** Whether this machine can give cdx a pseudo-terminal (python3 with its `pty` module). */
export const HAS_PTY: boolean = (() => {
  try {
    return new Deno.Command("python3", { args: ["-c", "import pty"] }).outputSync().success;
  } catch {
    return false;
  }
})();
/** Appended to the name of a test that needs a terminal, when it is skipped. */
export const NO_PTY: string = HAS_PTY ? "" : " [SKIPPED: python3 is not installed]";

export interface PtyStep {
  wait?: string;
  send?: string;
  kill?: "SIGINT" | "SIGTERM";
}

/** What the terminal showed and how the command ended. */
export interface PtyResult {
  code: number;
  /** Everything written to the terminal (stdout and stderr together). */
  output: string;
  /** Set when a step's text did not appear within the bound. */
  timedOutWaitingFor?: string;
  /** From the last step's keystroke or signal to the exit, ms (measured by the driver). */
  exitMs: number;
}

const DRIVER = String.raw`
import json, os, pty, select, signal, sys, time
argv, env, steps, bound = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execve(argv[0], argv, env)
out = b""
seen = 0
acted = time.monotonic()
deadline = time.time() + bound
result = {}
def pump(timeout):
    global out
    r, _, _ = select.select([fd], [], [], max(0, timeout))
    if not r:
        return True
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        chunk = b""
    if not chunk:
        return False
    out += chunk
    return True
alive = True
for step in steps:
    text = step.get("wait")
    if text is not None:
        while alive and out.find(text.encode(), seen) < 0 and time.time() < deadline:
            alive = pump(deadline - time.time())
        at = out.find(text.encode(), seen)
        if at < 0:
            result["timedOutWaitingFor"] = text
            break
        seen = at + len(text.encode())
    if step.get("send") is not None:
        acted = time.monotonic()
        try:
            os.write(fd, step["send"].encode())
        except OSError:
            pass
    if step.get("kill") is not None:
        acted = time.monotonic()
        os.kill(pid, getattr(signal, step["kill"]))
while alive and time.time() < deadline:
    alive = pump(deadline - time.time())
if alive:
    # The terminal is still open at the bound: the command hangs.
    os.kill(pid, 9)
    result.setdefault("timedOutWaitingFor", "exit")
_, status = os.waitpid(pid, 0)
result["exitMs"] = (time.monotonic() - acted) * 1000
result["code"] = os.waitstatus_to_exitcode(status)
result["output"] = out.decode("utf-8", "replace")
print(json.dumps(result))
`;

/**
 * Runs cdx (from source, with the binary's permissions) in a pseudo-terminal.
 *
 * @example
 * ```ts
 * const r = await runCdxInPty(["feedback"], [{ wait: "What kind", send: "\x03" }], { env });
 * ```
 */
export async function runCdxInPty(
  args: string[],
  steps: PtyStep[],
  options: { env?: Record<string, string>; boundSeconds?: number } = {},
): Promise<PtyResult> {
  const { cmd, args: pre } = cdxCommandLine();
  const env = { ...baseEnv(options.env ?? {}), TERM: "dumb" };
  const spec = JSON.stringify([[cmd, ...pre, ...args], env, steps, options.boundSeconds ?? 60]);
  const out = await new Deno.Command("python3", {
    args: ["-c", DRIVER, spec],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`pty driver failed: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as PtyResult;
}

/** Options of {@linkcode cdxAtTerminal}. */
export interface TerminalOptions {
  /** The terminal's width (default: the pseudo-terminal's own, 0). */
  columns?: number;
  /** Redirect cdx's stdout to this file (stderr and stdin stay the terminal). */
  stdoutTo?: string;
}

/** A cdx process at a terminal: what it showed so far, typing, and the end. */
export interface Terminal {
  /** Everything the terminal showed so far. */
  screen(): string;
  /** Types `text` (`"\x03"` is Ctrl-C). */
  type(text: string): Promise<void>;
  /** Resolves once `text` was shown (rejects when cdx ended first or after 60 s). */
  shows(text: string): Promise<void>;
  /** Waits for the end: the exit code and the whole screen. */
  done(): Promise<{ code: number; screen: string }>;
}

/**
 * cdx (from source, the binary's permissions) with a pseudo-terminal as its
 * stdin, stdout and stderr, streaming what it shows, so a test can act when
 * a line appears.
 *
 * @example
 * ```ts
 * const term = cdxAtTerminal(["logout"], env);
 * await term.shows("Revoking");
 * ```
 */
export function cdxAtTerminal(
  args: string[],
  env: Record<string, string>,
  options: TerminalOptions = {},
): Terminal {
  const { cmd, args: pre } = cdxCommandLine();
  const argv = options.stdoutTo === undefined ? [cmd, ...pre, ...args] : [
    "sh",
    "-c",
    'out="$1"; shift; exec "$@" > "$out"',
    "sh",
    options.stdoutTo,
    cmd,
    ...pre,
    ...args,
  ];
  const extra: Record<string, string> = options.columns === undefined
    ? {}
    : { PTY_COLUMNS: String(options.columns) };
  const child = new Deno.Command("python3", {
    args: [new URL("../fixtures/pty_run.py", import.meta.url).pathname, ...argv],
    env: baseEnv({ ...env, ...extra }),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let screen = "";
  let ended = false;
  const listeners = new Set<() => void>();
  const pump = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      screen += chunk;
      for (const l of listeners) l();
    }
    ended = true;
    for (const l of listeners) l();
  })();
  const writer = child.stdin.getWriter();
  return {
    screen: () => screen,
    type: (text) => writer.write(new TextEncoder().encode(text)),
    shows(text) {
      return new Promise<void>((resolve, reject) => {
        const bound = AbortSignal.timeout(60_000);
        const check = () => {
          if (screen.includes(text)) finish();
          else if (ended || bound.aborted) {
            finish(new Error(`the terminal never showed ${JSON.stringify(text)}:\n${screen}`));
          }
        };
        const finish = (error?: Error) => {
          listeners.delete(check);
          bound.removeEventListener("abort", check);
          if (error) reject(error);
          else resolve();
        };
        listeners.add(check);
        bound.addEventListener("abort", check, { once: true });
        check();
      });
    },
    async done() {
      const status = await child.status;
      await pump;
      await writer.close().catch(() => {});
      await child.stderr.cancel();
      return { code: status.code, screen };
    },
  };
}
