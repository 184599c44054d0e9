/**
 * Conversations `cdx run --continue` / `--session ID` pick up again: one
 * JSONL file per session in `$CODEX_HOME/cdx/sessions/<id>.jsonl` (0600 in a
 * 0700 directory), a header line and one line per completed turn (the user
 * message as sent, images included, and the assistant's messages). Kept
 * bounded: at most {@linkcode SESSION_LIMITS}'s count and total size, the
 * least recently used pruned first; a session too large to resend is
 * refused before anything is sent. `--ephemeral` writes nothing.
 *
 * cdx keeps its own files here rather than codex's `sessions/` rollouts:
 * codex's format records tool calls and agent state cdx never produces.
 *
 * @module
 */
import { CdxError, UsageError } from "../errors.ts";
import {
  ensurePrivateDir,
  fileError,
  FileTooLargeError,
  homePath,
  readTextIfExists,
  removeIfExists,
  writeFileAtomic,
} from "../fs.ts";
import { withFileLock } from "../file_lock.ts";
import { assistantMessage, type InputMessage } from "./request.ts";

/** Bounds of the session store. */
export interface SessionLimits {
  /** Sessions kept (default 100). */
  maxSessions: number;
  /** Bytes kept across all sessions (default 128 MiB). */
  maxTotalBytes: number;
  /** The largest session `--continue` resends (default 32 MiB). */
  maxContinueBytes: number;
}

/** The default {@linkcode SessionLimits}. */
export const SESSION_LIMITS: SessionLimits = {
  maxSessions: 100,
  maxTotalBytes: 128 * 1024 * 1024,
  maxContinueBytes: 32 * 1024 * 1024,
};

/** One completed turn. */
export interface SessionTurn {
  /** RFC 3339 time the turn completed. */
  at: string;
  /** The model that answered. */
  model: string;
  /** The user message as sent. */
  input: InputMessage;
  /** The assistant's messages. */
  output: InputMessage[];
}

/** A stored session. */
export interface Session {
  /** The session id (the file name, the `thread_id` of `--json`). */
  id: string;
  /** Its file. */
  path: string;
  /** Its completed turns, oldest first. */
  turns: SessionTurn[];
}

const ID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/;
const VERSION = 1;

/** The directory of the sessions of a CODEX_HOME. */
export function sessionsDir(codexHome: string): string {
  return homePath(codexHome, "cdx", "sessions");
}

/** The conversation to resend: every turn's user message and answers, in order. */
export function sessionHistory(session: Session): InputMessage[] {
  return session.turns.flatMap((t) => [t.input, ...t.output]);
}

async function listSessions(
  dir: string,
): Promise<Array<{ id: string; mtime: number; size: number }>> {
  const out: Array<{ id: string; mtime: number; size: number }> = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".jsonl")) continue;
      const id = entry.name.slice(0, -".jsonl".length);
      if (!ID.test(id)) continue;
      try {
        const info = await Deno.stat(homePath(dir, entry.name));
        out.push({ id, mtime: info.mtime?.getTime() ?? 0, size: info.size });
      } catch { /* removed meanwhile */ }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return out;
    }
    throw fileError(error, "cannot list the sessions", dir);
  }
  // Newest first; the id breaks ties so the order is stable.
  return out.sort((a, b) => b.mtime - a.mtime || (a.id < b.id ? 1 : -1));
}

function parseSession(id: string, path: string, text: string): Session {
  const turns: SessionTurn[] = [];
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  lines.forEach((line, i) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      throw new CdxError(`the session file ${path} is damaged (line ${i + 1} is not JSON)`, {
        hint: "start a new session (run without --continue / --session), or delete the file",
      });
    }
    if (i === 0) {
      if (record.type !== "session" || record.version !== VERSION) {
        throw new CdxError(`${path} is not a cdx session (version ${VERSION})`, {
          hint: "start a new session (run without --continue / --session)",
        });
      }
    } else if (record.type === "turn") turns.push(record as unknown as SessionTurn);
  });
  if (lines.length === 0) throw new CdxError(`the session file ${path} is empty`);
  return { id, path, turns };
}

/**
 * Loads a session to continue: `"last"` is the most recently used one. A
 * missing session is a usage error; one over `maxContinueBytes` too.
 */
export async function loadSession(
  codexHome: string,
  which: string,
  limits: SessionLimits = SESSION_LIMITS,
): Promise<Session> {
  const dir = sessionsDir(codexHome);
  let id = which;
  if (which === "last") {
    const newest = (await listSessions(dir))[0];
    if (!newest) {
      throw new UsageError("--continue: there is no earlier session to continue", {
        hint: `sessions are kept in ${dir}; run without --continue to start one`,
      });
    }
    id = newest.id;
  } else if (!ID.test(which)) {
    throw new UsageError(`--session: ${JSON.stringify(which)} is not a session id`, {
      hint: "`cdx run --json …` prints the session id in its thread.started event",
    });
  }
  const path = homePath(dir, `${id}.jsonl`);
  let text: string | undefined;
  try {
    text = await readTextIfExists(path, { maxBytes: limits.maxContinueBytes });
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      throw new UsageError(
        `session ${id} is too large to continue (${error.size} bytes; the limit is ${limits.maxContinueBytes})`,
        { hint: "start a new session (run without --continue / --session)" },
      );
    }
    throw fileError(error, "cannot read the session", path);
  }
  if (text === undefined) {
    throw new UsageError(`--session: no session ${id} in ${dir}`, {
      hint: "`cdx run --json …` prints the session id in its thread.started event",
    });
  }
  return parseSession(id, path, text);
}

/** Options of {@linkcode saveTurn}. */
export interface SaveTurnOptions {
  /** Bounds of the store (default {@linkcode SESSION_LIMITS}). */
  limits?: SessionLimits;
  /** The turn's time (default now). */
  now?: Date;
  /** Cancels the wait for `sessions.lock`. */
  signal?: AbortSignal;
}

/**
 * Appends a completed turn to session `id` (created when new), then prunes
 * the oldest sessions beyond the limits (never `id`). Runs under
 * `sessions.lock`, so concurrent runs never lose each other's turns.
 */
export async function saveTurn(
  codexHome: string,
  id: string,
  turn: { model: string; input: InputMessage; answers: readonly string[] },
  options: SaveTurnOptions = {},
): Promise<void> {
  const dir = sessionsDir(codexHome);
  const limits = options.limits ?? SESSION_LIMITS;
  const at = (options.now ?? new Date()).toISOString();
  const path = homePath(dir, `${id}.jsonl`);
  const record: SessionTurn = {
    at,
    model: turn.model,
    input: turn.input,
    output: turn.answers.map(assistantMessage),
  };
  try {
    await ensurePrivateDir(dir);
    await withFileLock(homePath(dir, "sessions.lock"), async () => {
      // Re-read under the lock: another run may have added a turn since we loaded it.
      const existing = await readTextIfExists(path);
      const head = existing ??
        JSON.stringify({ type: "session", version: VERSION, id, created_at: at }) + "\n";
      const line = JSON.stringify({ type: "turn", ...record }) + "\n";
      // No fsync: a session is a convenience, not worth a disk flush on every run; the
      // rename still guarantees a reader sees the old file or the new one, whole.
      await writeFileAtomic(path, head.endsWith("\n") ? head + line : `${head}\n${line}`, {
        mode: 0o600,
        sync: false,
      });
      await prune(dir, id, limits);
    }, { signal: options.signal });
  } catch (error) {
    throw fileError(error, "cannot save the session", path);
  }
}

async function prune(dir: string, keep: string, limits: SessionLimits): Promise<void> {
  let count = 0;
  let total = 0;
  for (const s of await listSessions(dir)) {
    count++;
    total += s.size;
    if (s.id !== keep && (count > limits.maxSessions || total > limits.maxTotalBytes)) {
      await removeIfExists(homePath(dir, `${s.id}.jsonl`));
      count--;
      total -= s.size;
    }
  }
}
