/**
 * Sessions: `cdx run` keeps each conversation in `$CODEX_HOME/cdx/sessions`
 * (JSONL, 0600 files in a 0700 directory), `--continue` / `--session ID`
 * resend it, `--ephemeral` keeps nothing, and the store stays bounded.
 */
import assert from "node:assert/strict";
import { runCdxBounded } from "./helpers/live_cdx.ts";
import { normalStream, startResponsesServer } from "./fakes/responses_server.ts";
import { modeOf, withHome } from "./helpers/auth_context.ts";
import {
  loadSession,
  saveTurn,
  sessionHistory,
  sessionsDir,
  userMessage,
} from "../lib/model/mod.ts";
import { UsageError } from "../lib/errors.ts";

const KEY = "sk-test-session-key-777";

function env(home: string, baseUrl: string) {
  return { CODEX_HOME: home, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: baseUrl };
}

async function sessionFiles(home: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(sessionsDir(home))) {
      if (e.name.endsWith(".jsonl")) names.push(e.name);
    }
  } catch { /* none */ }
  return names.sort();
}

Deno.test("a run is kept as a session (0600 in 0700, JSONL); --json reports its id; --continue resends it", async () => {
  let n = 0;
  await using server = startResponsesServer(() => normalStream(`Answer ${++n}.`));
  await withHome(async (home) => {
    const first = await runCdxBounded(["run", "--json", "What is one?"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(first.code, 0, first.stderr);
    const id = JSON.parse(first.stdout.split("\n")[0]).thread_id;
    assert.deepEqual(await sessionFiles(home), [`${id}.jsonl`]);
    assert.equal(await modeOf(`${sessionsDir(home)}/${id}.jsonl`), 0o600);
    assert.equal(await modeOf(sessionsDir(home)), 0o700);
    assert.equal(await modeOf(`${home}/cdx`), 0o700);
    const lines = (await Deno.readTextFile(`${sessionsDir(home)}/${id}.jsonl`)).trimEnd().split(
      "\n",
    );
    assert.deepEqual(lines.map((l) => JSON.parse(l).type), ["session", "turn"]);

    const second = await runCdxBounded(["run", "--json", "--continue", "And two?"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(JSON.parse(second.stdout.split("\n")[0]).thread_id, id, "same thread");
    const body = JSON.parse(server.responseRequests()[1].body);
    assert.deepEqual(body.input, [
      { type: "message", role: "user", content: [{ type: "input_text", text: "What is one?" }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Answer 1." }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "And two?" }] },
    ]);
    assert.equal(server.responseRequests()[1].headers.get("session-id"), id);

    // A new session, then --session picks the first one explicitly.
    const other = await runCdxBounded(["run", "Unrelated"], { env: env(home, server.baseUrl) });
    assert.equal(other.code, 0, other.stderr);
    assert.equal((await sessionFiles(home)).length, 2);
    const third = await runCdxBounded(["run", "--session", id, "And three?"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(third.code, 0, third.stderr);
    const texts = JSON.parse(server.responseRequests()[3].body).input.map(
      (m: { content: Array<{ text: string }> }) => m.content[0].text,
    );
    assert.deepEqual(texts, ["What is one?", "Answer 1.", "And two?", "Answer 2.", "And three?"]);
  });
});

Deno.test("--ephemeral keeps nothing; it can still continue an earlier session without writing to it", async () => {
  await using server = startResponsesServer(() => normalStream("ok"));
  await withHome(async (home) => {
    const r = await runCdxBounded(["run", "--ephemeral", "hi"], { env: env(home, server.baseUrl) });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await sessionFiles(home), []);
    await runCdxBounded(["run", "first"], { env: env(home, server.baseUrl) });
    const [file] = await sessionFiles(home);
    const before = await Deno.readTextFile(`${sessionsDir(home)}/${file}`);
    const cont = await runCdxBounded(["run", "--ephemeral", "--continue", "next"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(cont.code, 0, cont.stderr);
    assert.equal(JSON.parse(server.responseRequests().at(-1)!.body).input.length, 3);
    assert.equal(await Deno.readTextFile(`${sessionsDir(home)}/${file}`), before);
  });
});

Deno.test("--continue with no session, an unknown --session, or both options: usage errors, nothing sent", async () => {
  await using server = startResponsesServer(() => normalStream("ok"));
  await withHome(async (home) => {
    const none = await runCdxBounded(["run", "--continue", "x"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /no earlier session to continue/);
    const unknown = await runCdxBounded(["run", "--session", "0000-nope", "x"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /no session 0000-nope/);
    const path = await runCdxBounded(["run", "--session", "../../auth", "x"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(path.code, 2, path.stderr);
    assert.match(path.stderr, /is not a session id/);
    const both = await runCdxBounded(["run", "--continue", "--session", "a", "x"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(both.code, 2, both.stderr);
    assert.equal(server.responseRequests().length, 0);
  });
});

Deno.test("a failed run is not recorded: --continue resumes from the last good turn", async () => {
  await using server = startResponsesServer((i) =>
    i === 1 ? { status: 400, chunks: ['{"error":{"message":"bad"}}'] } : normalStream(`A${i}`)
  );
  await withHome(async (home) => {
    assert.equal((await runCdxBounded(["run", "one"], { env: env(home, server.baseUrl) })).code, 0);
    const failed = await runCdxBounded(["run", "--continue", "two"], {
      env: env(home, server.baseUrl),
    });
    assert.equal(failed.code, 1, failed.stderr);
    const session = await loadSession(home, "last");
    assert.equal(session.turns.length, 1);
  });
});

Deno.test("the store is bounded: oldest sessions pruned first, never the one just saved; too large to continue is refused", async () => {
  await withHome(async (home) => {
    const limits = { maxSessions: 3, maxTotalBytes: 1_000_000, maxContinueBytes: 2000 };
    const turn = (text: string) => ({
      model: "m",
      input: userMessage(text),
      answers: [`re ${text}`],
    });
    for (const id of ["s1", "s2", "s3", "s4"]) {
      await saveTurn(home, id, turn(id), { limits });
      // Distinct modification times, oldest first, without waiting.
      const t = new Date(Date.UTC(2026, 0, 1, 0, 0, Number(id.slice(1))));
      await Deno.utime(`${sessionsDir(home)}/${id}.jsonl`, t, t);
    }
    await saveTurn(home, "s5", turn("s5"), { limits });
    const left = (await sessionFiles(home)).map((f) => f.replace(".jsonl", ""));
    assert.deepEqual(left, ["s3", "s4", "s5"]);
    const s5 = await loadSession(home, "s5", limits);
    assert.deepEqual(sessionHistory(s5).map((m) => m.role), ["user", "assistant"]);

    const big = { model: "m", input: userMessage("x".repeat(3000)), answers: ["y"] };
    await saveTurn(home, "s5", big, { limits });
    await assert.rejects(
      loadSession(home, "s5", limits),
      (e) => e instanceof UsageError && /too large to continue/.test(e.message),
    );
    // By size: a total cap below two sessions keeps only the newest.
    await saveTurn(home, "s6", turn("s6"), { limits: { ...limits, maxTotalBytes: 400 } });
    assert.deepEqual(await sessionFiles(home), ["s6.jsonl"]);
  });
});

Deno.test("a damaged session file is a clear error naming it, not an internal error", async () => {
  await withHome(async (home) => {
    await saveTurn(home, "bad", { model: "m", input: userMessage("a"), answers: ["b"] });
    const path = `${sessionsDir(home)}/bad.jsonl`;
    await Deno.writeTextFile(path, "{not json\n");
    await assert.rejects(
      loadSession(home, "bad"),
      (e) => e instanceof Error && e.message.includes(path),
    );
  });
});
