/**
 * Shell completions, tested for real: the generated script is sourced in the
 * shell, which calls back into cdx (on PATH through a wrapper that runs it
 * with the baked permissions) to complete a partial command line.
 */
import assert from "node:assert/strict";
import { baseEnv, cdxCommandLine, runCdx } from "./helpers/cli.ts";
import { runChild } from "./helpers/spawn.ts";

function hasShell(name: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` with a temp dir holding an executable `cdx` (this checkout's cdx)
 * and the completion script for `shell` in the file `name`; removes it after.
 */
async function withCompletionScript(
  shell: string,
  name: string,
  fn: (bin: string, script: string) => Promise<void>,
): Promise<void> {
  const bin = await Deno.makeTempDir();
  try {
    const { cmd, args } = cdxCommandLine();
    const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    await Deno.writeTextFile(`${bin}/cdx`, `#!/bin/sh\nexec ${quoted} "$@"\n`, { mode: 0o755 });
    await Deno.writeTextFile(`${bin}/${name}`, (await runCdx(["completions", shell])).stdout);
    await fn(bin, `${bin}/${name}`);
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
}

async function inShell(shell: string, script: string, bin: string): Promise<string> {
  const env = baseEnv({ PATH: `${bin}:${Deno.env.get("PATH")}` });
  const out = await runChild(shell, ["-c", script], { env, clearEnv: true });
  assert.equal(out.code, 0, out.stderr);
  return out.stdout;
}

Deno.test({
  name:
    "bash: completing `cdx lo` offers login and logout; `cdx login --with` offers --with-api-key",
  ignore: !hasShell("bash"),
  async fn() {
    await withCompletionScript("bash", "cdx.bash", async (bin) => {
      const words = await inShell(
        "bash",
        `source '${bin}/cdx.bash'; COMP_WORDS=(cdx lo); COMP_CWORD=1; _cdx; printf '%s\\n' "\${COMPREPLY[@]}"`,
        bin,
      );
      assert.deepEqual(words.trim().split("\n").sort(), ["login", "logout"]);
      const flags = await inShell(
        "bash",
        `source '${bin}/cdx.bash'; COMP_WORDS=(cdx login --with); COMP_CWORD=2; _cdx; printf '%s\\n' "\${COMPREPLY[@]}"`,
        bin,
      );
      assert.deepEqual(flags.trim().split("\n"), ["--with-api-key"]);
    });
  },
});

Deno.test({
  name: "fish: completing `cdx lo` offers login and logout with their descriptions",
  ignore: !hasShell("fish"),
  async fn() {
    await withCompletionScript("fish", "cdx.fish", async (bin) => {
      const out = await inShell("fish", `source '${bin}/cdx.fish'; complete -C 'cdx lo'`, bin);
      const names = out.trim().split("\n").map((l) => l.split("\t")[0]).sort();
      assert.deepEqual(names, ["login", "logout"]);
      assert.match(out, /login\tLog in/);
    });
  },
});

Deno.test({
  name: "zsh: the completion script parses and registers _cdx for cdx",
  ignore: !hasShell("zsh"),
  async fn() {
    await withCompletionScript("zsh", "_cdx", async (bin) => {
      await inShell("zsh", `zsh -n '${bin}/_cdx'`, bin);
      const out = await inShell(
        "zsh",
        `autoload -U compinit && compinit -u -D && source '${bin}/_cdx' && print -r -- $_comps[cdx]`,
        bin,
      );
      assert.equal(out.trim(), "_cdx");
    });
  },
});
