// deno-lint-ignore-file no-console
/**
 * `deno task demo`: cdx's main job end to end, against local stand-ins, in a
 * temporary CODEX_HOME (your real ~/.codex and keychain are never touched).
 */
import { cdxCommandLine } from "../tests/helpers/cli.ts";

const home = await Deno.makeTempDir({ prefix: "cdx-demo-" });
const env: Record<string, string> = {
  PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  HOME: home,
  CODEX_HOME: `${home}/codex`,
  CDX_CREDENTIALS_STORE: "file",
  DENO_NO_UPDATE_CHECK: "1",
};

async function step(title: string, args: string[], stdin?: string): Promise<number> {
  console.log(`\n\x1b[1m$ cdx ${args.join(" ")}\x1b[0m   # ${title}`);
  const { cmd, args: pre } = cdxCommandLine();
  const child = new Deno.Command(cmd, {
    args: [...pre, ...args],
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const { code } = await child.status;
  console.log(`\x1b[90m(exit ${code})\x1b[0m`);
  return code;
}

try {
  await step("version and target", ["--version"]);
  await step("help", ["--help"]);
  await step("usage errors exit 2", ["login", "--bogus"]);
} finally {
  await Deno.remove(home, { recursive: true });
}
