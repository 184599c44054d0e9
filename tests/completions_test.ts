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

/** A directory with two files, a hidden file and a subdirectory, for path completion. */
async function withFiles(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/answer.txt`, "");
    await Deno.writeTextFile(`${dir}/archive.zip`, "");
    await Deno.writeTextFile(`${dir}/.hidden`, "");
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "bash: file paths complete after -o, --output-last-message, --output-schema, -i, --output (also --output=) and directories after --codex-home",
  ignore: !hasShell("bash"),
  async fn() {
    await withCompletionScript("bash", "cdx.bash", async (bin) => {
      await withFiles(async (dir) => {
        const complete = async (...words: string[]) => {
          const list = words.map((w) => `'${w}'`).join(" ");
          const out = await inShell(
            "bash",
            `cd '${dir}'; source '${bin}/cdx.bash'; COMP_WORDS=(cdx ${list}); COMP_CWORD=${words.length}; _cdx; printf '%s\\n' "\${COMPREPLY[@]}"`,
            bin,
          );
          return out.trim().split("\n").filter(Boolean).sort();
        };
        assert.deepEqual(await complete("run", "-o", "a"), ["answer.txt", "archive.zip"]);
        assert.deepEqual(await complete("run", "--output-last-message", "an"), ["answer.txt"]);
        assert.deepEqual(await complete("run", "--output-schema", "an"), ["answer.txt"]);
        assert.deepEqual(await complete("run", "-i", "x.png", "-i", "ar"), ["archive.zip"]);
        assert.deepEqual(await complete("feedback", "--output", "ar"), ["archive.zip"]);
        assert.deepEqual(await complete("feedback", "--output=ar"), ["--output=archive.zip"]);
        // Only directories, and only the value: not the commands that could follow.
        assert.deepEqual(await complete("--codex-home", ""), ["sub/"]);
        assert.deepEqual(await complete("logout", "--codex-home", "s"), ["sub/"]);
        // A value that is not a path still completes as before.
        assert.deepEqual(await complete("logout", "--store", "f"), ["file"]);
      });
    });
  },
});

Deno.test({
  name: "fish: file paths complete after -o, --image and --output, directories after --codex-home",
  ignore: !hasShell("fish"),
  async fn() {
    await withCompletionScript("fish", "cdx.fish", async (bin) => {
      await withFiles(async (dir) => {
        const complete = async (line: string) => {
          const out = await inShell(
            "fish",
            `cd '${dir}'; source '${bin}/cdx.fish'; complete -C '${line}'`,
            bin,
          );
          return out.trim().split("\n").filter(Boolean).map((l) => l.split("\t")[0]).sort();
        };
        assert.deepEqual(await complete("cdx run -o a"), ["answer.txt", "archive.zip"]);
        assert.deepEqual(await complete("cdx run --image an"), ["answer.txt"]);
        assert.deepEqual(await complete("cdx feedback --output ar"), ["archive.zip"]);
        assert.deepEqual(await complete("cdx --codex-home "), ["sub/"]);
      });
    });
  },
});

Deno.test({
  name: "zsh: the completion script hands path values to zsh's own file completion",
  ignore: !hasShell("zsh"),
  async fn() {
    await withCompletionScript("zsh", "_cdx", async (bin) => {
      // What the script asks cdx for a path value: a file directive, not a list of commands.
      const out = await inShell(
        "zsh",
        `cdx completions zsh run -o a; print; cdx completions zsh --codex-home ''`,
        bin,
      );
      assert.match(out, /__FILE__:file:[^\n]*a/);
      assert.match(out, /__FILE__:directory:/);
      assert.doesNotMatch(out, /login|logout/);
      const script = await Deno.readTextFile(`${bin}/_cdx`);
      assert.match(script, /_files/); // the directive is served by zsh's _files
    });
  },
});
