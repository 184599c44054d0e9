import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { createTestContext, type Input, mapEnv, MemoryOutput } from "../lib/context.ts";
import { CdxError, ExitCode, UsageError } from "../lib/errors.ts";
import { KeyringUnavailableError } from "../lib/keyring/store.ts";
import { MockKeyringStore } from "../lib/keyring/memory.ts";
import { prepareReport } from "../lib/feedback/report.ts";
import { authStatus } from "../lib/auth/mod.ts";
import { appendBlock } from "../lib/feedback/persist.ts";
import { formatBlock, parseBlocks } from "../lib/feedback/blocks.ts";
import { type FeedbackOptions, runFeedback } from "../commands/feedback.ts";
import { runCdx } from "./helpers/cli.ts";
import { withHome } from "./helpers/auth_context.ts";
import { assertSchema } from "./helpers/schema.ts";

const decoder = new TextDecoder();

function options(extra: Partial<FeedbackOptions> = {}): FeedbackOptions {
  return {
    command: "feedback",
    classification: undefined,
    note: undefined,
    noLogs: undefined,
    output: undefined,
    upload: undefined,
    yes: undefined,
    json: undefined,
    ...extra,
  } as FeedbackOptions;
}

function unzip(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(
    Object.entries(unzipSync(bytes)).map(([name, data]) => [name, decoder.decode(data)]),
  );
}

/** A terminal stdin answering the given lines in order. */
function ttyInput(answers: string[]): Input {
  return {
    isTTY: true,
    readable: new ReadableStream({ start: (c) => c.close() }),
    readLine: () => Promise.resolve(answers.shift()),
  };
}

async function unzipTest(path: string): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command("unzip", {
    args: ["-t", path],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return { code: out.code, text: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

Deno.test("feedback --output --yes writes a 0600 zip with metadata, logs and diagnostics that unzip -t accepts", async () => {
  await withHome(async (home) => {
    await Deno.writeTextFile(
      `${home}/config.toml`,
      'model = "o4"\n[feedback]\ndsn = "https://secretkey@o1.ingest.sentry.io/1"\n',
    );
    await appendBlock(
      home,
      formatBlock({
        id: "earlier-run",
        startedAt: Date.UTC(2026, 10, 26),
        version: "0.1.0",
        exitCode: 1,
        argv: ["run", "hi"],
        tags: { auth_mode: "chatgpt", model: "o4" },
      }, "2026-11-26T00:00:00.000Z DEBUG cdx.model: stream started\n"),
      { maxBytes: 1 << 20 },
    );
    const stdout = new MemoryOutput();
    const ctx = createTestContext({
      env: mapEnv({ HTTPS_PROXY: "http://user:proxypass@proxy:3128", no_proxy: "localhost" }),
      stdout,
      config: {
        path: `${home}/config.toml`,
        values: { model: "o4", feedback: { dsn: "https://secretkey@o1.ingest.sentry.io/1" } },
        text: await Deno.readTextFile(`${home}/config.toml`),
      },
      keyring: () => {
        throw new KeyringUnavailableError("no D-Bus session bus", {
          hint: "install gnome-keyring",
        });
      },
      globals: { codexHome: home },
    });
    const output = `${home}/report.zip`;
    const code = await runFeedback(
      ctx,
      options({ output, yes: true, classification: "bad_result", note: "answer was wrong" }),
    );
    assert.equal(code, ExitCode.OK);
    assert.match(stdout.text(), /Saved the report to .*report\.zip \(3 files/);
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(output)).mode! & 0o777, 0o600);
    const tested = await unzipTest(output);
    assert.equal(tested.code, 0, tested.text);
    assert.match(tested.text, /No errors detected/);

    const files = unzip(await Deno.readFile(output));
    assert.deepEqual(Object.keys(files), ["metadata.json", "cdx-logs.log", "diagnostics.txt"]);
    const metadata = JSON.parse(files["metadata.json"]);
    assert.equal(metadata.classification, "bad_result");
    assert.equal(metadata.note, "answer was wrong");
    assert.equal(metadata.cdx_version, "0.0.0-test");
    assert.equal(metadata.deno_version, Deno.version.deno);
    assert.equal(metadata.os, Deno.build.os);
    assert.equal(metadata.arch, Deno.build.arch);
    // The truth of the store, as the commands resolve it: nothing stored, mode auto by default
    // (the earlier run's auth_mode tag is history, kept in tags).
    assert.equal(metadata.auth_mode, "none");
    assert.equal(metadata.credential_store, "auto");
    assert.equal(metadata.credential_store_source, "default");
    assert.deepEqual(metadata.tags, { auth_mode: "chatgpt", model: "o4" });
    assert.ok(metadata.invocation_ids.includes("earlier-run"));
    assert.match(files["cdx-logs.log"], /stream started/);

    const diagnostics = files["diagnostics.txt"];
    assert.match(
      diagnostics,
      /keychain\n {2}unavailable: no D-Bus session bus \(install gnome-keyring\)\n/,
    );
    assert.match(diagnostics, /credential store: auto \(from default\)/);
    assert.match(diagnostics, /HTTPS_PROXY/);
    assert.match(diagnostics, /no_proxy/);
    assert.ok(!diagnostics.includes("proxypass"));
    assert.match(diagnostics, /model = "o4"/);
    assert.ok(!diagnostics.includes("secretkey"));
  });
});

Deno.test("feedback --no-logs leaves cdx-logs.log out of the bundle", async () => {
  await withHome(async (home) => {
    const ctx = createTestContext({ globals: { codexHome: home } });
    const output = `${home}/r.zip`;
    assert.equal(await runFeedback(ctx, options({ output, yes: true, noLogs: true })), 0);
    const files = unzip(await Deno.readFile(output));
    assert.deepEqual(Object.keys(files), ["metadata.json", "diagnostics.txt"]);
    assert.equal(JSON.parse(files["metadata.json"]).logs_included, false);
  });
});

Deno.test("the bundle's log holds the newest whole invocations within 4 MiB", async () => {
  await withHome(async (home) => {
    const line = `${"x".repeat(1000)}\n`;
    for (let i = 0; i < 6; i++) {
      await appendBlock(
        home,
        formatBlock(
          { id: `big${i}`, startedAt: 0, version: "0.1.0", exitCode: 0, argv: [], tags: {} },
          line.repeat(1000),
        ),
        { maxBytes: 64 << 20 },
      );
    }
    const ctx = createTestContext({ globals: { codexHome: home } });
    const output = `${home}/r.zip`;
    assert.equal(await runFeedback(ctx, options({ output, yes: true })), 0);
    const log = unzipSync(await Deno.readFile(output))["cdx-logs.log"];
    assert.ok(log.length <= 4 * 1024 * 1024);
    const blocks = parseBlocks(decoder.decode(log));
    assert.deepEqual(blocks.map((b) => b.id), ["big2", "big3", "big4", "big5"]);
    assert.ok(blocks.every((b) => b.complete));
  });
});

Deno.test("feedback --upload with no DSN is a clear error that suggests --output", async () => {
  const ctx = createTestContext();
  await assert.rejects(runFeedback(ctx, options({ upload: true, yes: true })), (error) => {
    assert.ok(error instanceof CdxError);
    assert.match(error.message, /no feedback DSN/);
    assert.match(error.hint!, /--output/);
    return true;
  });
});

Deno.test("feedback --upload from a script without --yes is refused: nothing leaves unconfirmed", async () => {
  const ctx = createTestContext({ env: mapEnv({ CDX_FEEDBACK_DSN: "http://k@127.0.0.1:9/1" }) });
  await assert.rejects(runFeedback(ctx, options({ upload: true })), UsageError);
});

Deno.test("on a terminal feedback asks for what is missing and previews the files with sizes", async () => {
  await withHome(async (home) => {
    await appendBlock(
      home,
      formatBlock({
        id: "earlier",
        startedAt: Date.UTC(2026, 10, 26),
        version: "0.1.0",
        exitCode: 0,
        argv: ["run", "<prompt: 5 chars>"],
        tags: {},
      }, "2026-11-26T00:00:00.000Z DEBUG cdx.model: stream started\n"),
      { maxBytes: 1 << 20 },
    );
    const stderr = new MemoryOutput(true);
    const output = `${home}/r.zip`;
    const ctx = createTestContext({
      stdin: ttyInput(["2", "the answer was off", "y"]),
      stderr,
      globals: { codexHome: home },
    });
    assert.equal(await runFeedback(ctx, options({ output })), 0);
    const shown = stderr.text();
    assert.match(shown, /What kind of report\?/);
    assert.match(shown, /Describe the problem/);
    assert.match(shown, /metadata\.json\s+\d+(\.\d)? (B|KiB)/);
    assert.match(shown, /diagnostics\.txt\s+\d+(\.\d)? (B|KiB)/);
    assert.match(shown, /Write .*r\.zip\? \[Y\/n\]/);
    // The preview says what each file holds and which runs' logs are in.
    assert.match(shown, /cdx-logs\.log\s+\S+ \S+\s+log lines of the runs below/);
    assert.match(shown, /diagnostics\.txt\s+\S+ \S+\s+keychain state/);
    assert.match(
      shown,
      /Logs of 1 cdx run\(s\), oldest first:\n {2}2026-11-26T00:00:00\.000Z {2}cdx run <prompt: 5 chars>\n/,
    );
    const metadata = JSON.parse(unzip(await Deno.readFile(output))["metadata.json"]);
    assert.equal(metadata.classification, "bad_result");
    assert.equal(metadata.note, "the answer was off");
  });
});

Deno.test("on a terminal, declining the preview writes nothing", async () => {
  await withHome(async (home) => {
    const output = `${home}/r.zip`;
    const ctx = createTestContext({
      stdin: ttyInput(["bug", "", "n"]),
      stderr: new MemoryOutput(true),
      globals: { codexHome: home },
    });
    assert.equal(await runFeedback(ctx, options({ output })), ExitCode.FAILURE);
    await assert.rejects(Deno.stat(output), Deno.errors.NotFound);
  });
});

Deno.test("on a terminal, closing stdin at a prompt (Ctrl-D) writes nothing, exit 1", async () => {
  await withHome(async (home) => {
    const output = `${home}/r.zip`;
    const stderr = new MemoryOutput(true);
    const ctx = createTestContext({
      stdin: ttyInput(["bug"]),
      stderr,
      globals: { codexHome: home },
    });
    assert.equal(await runFeedback(ctx, options({ output })), ExitCode.FAILURE);
    assert.match(stderr.text(), /Cancelled; nothing was written or sent/);
    await assert.rejects(Deno.stat(output), Deno.errors.NotFound);
  });
});

Deno.test("cdx feedback --output --yes --json (real CLI): JSON receipt, zip accepted by unzip -t", async () => {
  await withHome(async (home) => {
    await runCdx(["--log-level", "trace", "logout", "--no-revoke"], { env: { CODEX_HOME: home } });
    const output = `${home}/report.zip`;
    const r = await runCdx(
      ["feedback", "--output", output, "--yes", "--json", "--classification", "other"],
      { env: { CODEX_HOME: home } },
    );
    assert.equal(r.code, 0, r.stderr);
    const receipt = assertSchema("feedback", JSON.parse(r.stdout));
    assert.equal(receipt.bundle, output);
    assert.equal(receipt.uploaded, false);
    assert.deepEqual(receipt.files.map((f: { name: string }) => f.name), [
      "metadata.json",
      "cdx-logs.log",
      "diagnostics.txt",
    ]);
    const tested = await unzipTest(output);
    assert.equal(tested.code, 0, tested.text);
    const files = unzip(await Deno.readFile(output));
    const ids = JSON.parse(files["metadata.json"]).invocation_ids;
    assert.equal(ids.length, 2, "the logout run and this feedback run");
    assert.match(files["cdx-logs.log"], /logout/);
  });
});

Deno.test("diagnostics say what `login status` says: store mode and its source, a real keychain read, the active credential", async () => {
  await withHome(async (home) => {
    const keyring = new MockKeyringStore();
    const report = async (env: Record<string, string>, config: Record<string, unknown> = {}) => {
      const ctx = createTestContext({
        env: mapEnv(env),
        config: { path: `${home}/config.toml`, values: config },
        keyring: () => keyring,
        globals: { codexHome: home },
      });
      const prepared = await prepareReport(ctx, { classification: "bug", includeLogs: false });
      const status = await authStatus(ctx);
      return {
        status,
        metadata: prepared.metadata,
        diagnostics: decoder.decode(prepared.files.find((f) => f.name === "diagnostics.txt")!.data),
      };
    };
    const plain = await report({});
    assert.equal(plain.metadata.credential_store, "auto");
    assert.equal(plain.metadata.credential_store_source, "default");
    assert.equal(plain.metadata.auth_mode, "none");
    assert.equal(plain.status.state, "not_logged_in");
    assert.match(String(plain.metadata.keychain), /^ok/);
    assert.ok(keyring.calls.some((c) => c.operation === "load"), "the keychain was really read");

    const fromConfig = await report({}, { cli_auth_credentials_store: "keyring" });
    assert.equal(fromConfig.metadata.credential_store, "keyring");
    assert.equal(fromConfig.metadata.credential_store_source, "config");

    const fromEnv = await report({
      CDX_CREDENTIALS_STORE: "file",
      OPENAI_API_KEY: "sk-env-key-123456789",
    });
    assert.equal(fromEnv.metadata.credential_store, "file");
    assert.equal(fromEnv.metadata.keychain, "unused");
    assert.equal(fromEnv.metadata.auth_mode, fromEnv.status.auth_mode);
    assert.match(fromEnv.diagnostics, /credential store: file \(from env\)/);
    assert.match(fromEnv.diagnostics, /auth mode:\s+apikey \(from OPENAI_API_KEY\)/);
    assert.ok(!fromEnv.diagnostics.includes("sk-env-key-123456789"));

    await Deno.writeTextFile(
      `${home}/auth.json`,
      JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-stored-key-0123456789" }),
    );
    const stored = await report({ CDX_CREDENTIALS_STORE: "file" });
    assert.equal(stored.metadata.auth_mode, "apikey");
    assert.match(stored.diagnostics, /auth mode:\s+apikey \(in file\)/);
    assert.ok(!JSON.stringify(stored.metadata).includes("sk-stored-key-0123456789"));
    assert.ok(!stored.diagnostics.includes("sk-stored-key-0123456789"));

    keyring.inject({ failure: "locked" });
    const locked = await report({ CDX_CREDENTIALS_STORE: "keyring" });
    assert.equal(locked.status.state, "unknown");
    assert.equal(locked.metadata.auth_mode, "unknown", "a locked keychain is never 'none'");
    assert.match(String(locked.metadata.keychain), /^unreadable: .*locked/);
    assert.match(locked.diagnostics, /keychain\n {2}unreadable: /);
  });
});
