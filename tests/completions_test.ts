/**
 * Shell completions, tested for real: the generated script is sourced in the
 * shell, which calls back into cdx (on PATH through a wrapper that runs it
 * with the baked permissions) to complete a partial command line.
 */
import assert from "node:assert/strict";
import { baseEnv, cdxCommandLine, runCdx } from "./helpers/cli.ts";

function hasShell(name: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** A temp dir with an executable `cdx` that runs this checkout's cdx. */
async function cdxOnPath(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const { cmd, args } = cdxCommandLine();
  const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  await Deno.writeTextFile(`${dir}/cdx`, `#!/bin/sh\nexec ${quoted} "$@"\n`, { mode: 0o755 });
  return dir;
}

async function inShell(shell: string, script: string, bin: string): Promise<string> {
  const env = baseEnv({ PATH: `${bin}:${Deno.env.get("PATH")}` });
  const out = await new Deno.Command(shell, { args: ["-c", script], env, clearEnv: true })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name:
    "bash: completing `cdx lo` offers login and logout; `cdx login --with` offers --with-api-key",
  ignore: !hasShell("bash"),
  async fn() {
    const bin = await cdxOnPath();
    try {
      const script = (await runCdx(["completions", "bash"])).stdout;
      await Deno.writeTextFile(`${bin}/cdx.bash`, script);
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
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  },
});

Deno.test({
  name: "fish: completing `cdx lo` offers login and logout with their descriptions",
  ignore: !hasShell("fish"),
  async fn() {
    const bin = await cdxOnPath();
    try {
      const script = (await runCdx(["completions", "fish"])).stdout;
      await Deno.writeTextFile(`${bin}/cdx.fish`, script);
      const out = await inShell("fish", `source '${bin}/cdx.fish'; complete -C 'cdx lo'`, bin);
      const names = out.trim().split("\n").map((l) => l.split("\t")[0]).sort();
      assert.deepEqual(names, ["login", "logout"]);
      assert.match(out, /login\tLog in/);
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  },
});

Deno.test({
  name: "zsh: the completion script parses and registers _cdx for cdx",
  ignore: !hasShell("zsh"),
  async fn() {
    const bin = await cdxOnPath();
    try {
      const script = (await runCdx(["completions", "zsh"])).stdout;
      await Deno.writeTextFile(`${bin}/_cdx`, script);
      await inShell("zsh", `zsh -n '${bin}/_cdx'`, bin);
      const out = await inShell(
        "zsh",
        `autoload -U compinit && compinit -u -D && source '${bin}/_cdx' && print -r -- $_comps[cdx]`,
        bin,
      );
      assert.equal(out.trim(), "_cdx");
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  },
});
