/**
 * `deno task compile` and the compiled binary. Building needs the Deno
 * runtime binary from dl.deno.land; where it cannot be fetched the script
 * must stop with a clear message (that is what this test checks here), and
 * where it can, it must build and checksum the host executable.
 * Binary smoke tests run when `CDX_BINARY=<path>` is given and say visibly
 * that they were skipped otherwise.
 */
import assert from "node:assert/strict";
import { ROOT, runCdx } from "./helpers/cli.ts";
import { isRuntimeDownloadFailure, permissionSetFor, TARGETS } from "../scripts/targets.ts";
import { VERSION } from "../lib/version.ts";

Deno.test("compile builds the host target with checksums, or stops naming DENORT_BIN and the cache", async () => {
  const out = await Deno.makeTempDir();
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "compile", "--host", "--out", out],
      cwd: ROOT,
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).output();
    const stderr = new TextDecoder().decode(r.stderr);
    assert.doesNotMatch(stderr, /Stack backtrace| {4}at /, "no stack trace");
    if (r.code === 0) {
      const sums = await Deno.readTextFile(`${out}/SHA256SUMS`);
      assert.match(sums, new RegExp(`^[0-9a-f]{64}  cdx-${Deno.build.target}`));
    } else {
      assert.equal(r.code, 3, stderr);
      assert.match(stderr, /DENORT_BIN/);
      assert.match(stderr, /dl\/release\/v/);
      assert.match(stderr, /could not download the Deno runtime binary/);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a download failure of deno compile is recognised; other errors are not", () => {
  assert.equal(
    isRuntimeDownloadFailure(
      "error: Writing deno compile executable to temporary file\n    0: Setting up base binary.\n    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip)",
    ),
    true,
  );
  assert.equal(isRuntimeDownloadFailure('error: Module not found "file:///x.ts"'), false);
});

Deno.test("five release targets; Windows uses its own permission set only when deno.json defines it", () => {
  assert.equal(TARGETS.length, 5);
  assert.equal(permissionSetFor("x86_64-pc-windows-msvc", { cdx: {} }), "cdx");
  assert.equal(
    permissionSetFor("x86_64-pc-windows-msvc", { cdx: {}, "cdx-windows": {} }),
    "cdx-windows",
  );
  assert.equal(permissionSetFor("aarch64-apple-darwin", { cdx: {}, "cdx-windows": {} }), "cdx");
});

const binary = Deno.env.get("CDX_BINARY");

Deno.test({
  name: binary
    ? `compiled binary ${binary}: --version and login status`
    : "compiled binary smoke test — SKIPPED: set CDX_BINARY=<path to a compiled cdx> to run it",
  ignore: !binary,
  async fn() {
    const v = await runCdx(["--version"]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, new RegExp(`^cdx ${VERSION.replaceAll(".", "\\.")} \\(`));
    const home = await Deno.makeTempDir();
    try {
      const s = await runCdx(["login", "status"], {
        env: { CODEX_HOME: home, CDX_CREDENTIALS_STORE: "file" },
      });
      assert.equal(s.code, 1);
      assert.match(s.stdout + s.stderr, /Not logged in/);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name: binary
    ? `compiled binary ${binary}: run, feedback and completions find their modules`
    : "compiled binary: run, feedback, completions — SKIPPED: set CDX_BINARY=<path to a compiled cdx> to run it",
  ignore: !binary,
  async fn() {
    // These modules are imported by a run-time specifier (commands/mod.ts HIDDEN_MODULES):
    // only scripts/compile.ts's --include puts them in the binary.
    const completions = await runCdx(["completions", "bash"]);
    assert.equal(completions.code, 0, completions.stderr);
    assert.match(completions.stdout, /complete .*cdx/);
    const home = await Deno.makeTempDir();
    try {
      const run = await runCdx(["run"], { env: { CODEX_HOME: home }, stdin: "" });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /no prompt given/);
      const feedback = await runCdx(["feedback", "--output", `${home}/r.zip`, "--yes"], {
        env: { CODEX_HOME: home },
      });
      assert.equal(feedback.code, 0, feedback.stderr);
      assert.ok((await Deno.stat(`${home}/r.zip`)).size > 0);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
