// deno-lint-ignore-file no-console
/**
 * `deno task demo`: cdx's main job end to end — browser login, status,
 * token, streaming a model answer, a bug report, logout, device-code login,
 * API key — against local stand-ins (a fake codex auth server that approves
 * every sign-in by itself, a stand-in "browser" that follows the link cdx
 * prints, a fake Responses API, and a private gnome-keyring on its own D-Bus
 * when the tools are installed), in a temporary CODEX_HOME. Your real
 * ~/.codex, keychain and browser are never touched.
 */
import { cdxCommandLine, realDenoDir } from "../tests/helpers/cli.ts";
import { startCodexAuthServer } from "../tests/fakes/codex_auth_server.ts";
import { normalStream, startResponsesServer } from "../tests/fakes/responses_server.ts";
import { hasSecretServiceTools, startSecretService } from "../tests/helpers/secret_service.ts";

const home = await Deno.makeTempDir({ prefix: "cdx-demo-" });
const codexHome = `${home}/codex`;
const env: Record<string, string> = {
  PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  HOME: home,
  CODEX_HOME: codexHome,
  DENO_DIR: realDenoDir(),
  DENO_NO_UPDATE_CHECK: "1",
};
const bold = (s: string) => `\x1b[1m${s}\x1b[0m`;
const gray = (s: string) => `\x1b[90m${s}\x1b[0m`;
let failures = 0;

/**
 * A login step whose sign-in page the stand-in browser visits: it follows
 * the link cdx prints to the stand-in issuer, which approves at once and
 * sends it back to cdx's local callback.
 */
async function browserStep(title: string, args: string[]): Promise<void> {
  const child = startStep(title, args, { stdin: "null", stderr: "piped" });
  let seen = "";
  let visited = false;
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    await Deno.stderr.write(new TextEncoder().encode(chunk));
    seen += chunk;
    const url = /https?:\/\/\S+\/oauth\/authorize\?\S+/.exec(seen)?.[0];
    if (url && !visited) {
      visited = true;
      const page = await standInBrowser(url);
      console.log(gray(`(the stand-in browser signed in; cdx's page says: "${page}")`));
    }
  }
  await endStep(child, 0);
}

/** Follows the sign-in link like a browser would and returns the title of cdx's page. */
async function standInBrowser(url: string): Promise<string> {
  const signIn = await fetch(url, { redirect: "manual" });
  await signIn.body?.cancel();
  const callback = await fetch(signIn.headers.get("location")!, { redirect: "manual" });
  const html = await callback.text();
  return /<h1[^>]*>([^<]*)<\/h1>/.exec(html)?.[1] ?? `HTTP ${callback.status}`;
}

async function step(title: string, args: string[], expect = 0, stdin?: string): Promise<void> {
  const child = startStep(title, args, {
    stdin: stdin === undefined ? "null" : "piped",
    stderr: "inherit",
  });
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  await endStep(child, expect);
}

/** Prints the step's title and command line, then starts cdx in the demo's environment. */
function startStep(
  title: string,
  args: string[],
  io: { stdin: "null" | "piped"; stderr: "inherit" | "piped" },
): Deno.ChildProcess {
  console.log(`\n${gray(`# ${title}`)}\n${bold(`$ cdx ${args.join(" ")}`)}`);
  const { cmd, args: pre } = cdxCommandLine();
  return new Deno.Command(cmd, {
    args: [...pre, ...args],
    env,
    clearEnv: true,
    stdout: "inherit",
    ...io,
  }).spawn();
}

/** Waits for the step's exit and counts it as a failure unless it is `expect`. */
async function endStep(child: Deno.ChildProcess, expect: number): Promise<void> {
  const { code } = await child.status;
  if (code !== expect) failures++;
  console.log(gray(`(exit ${code}${code === expect ? "" : `, expected ${expect}`})`));
}

try {
  // The OS keychain: a throwaway gnome-keyring on a private D-Bus, never yours.
  await using keyring = hasSecretServiceTools() ? await startSecretService() : undefined;
  if (keyring) Object.assign(env, keyring.env);
  else console.log(gray("(secret-tool/gnome-keyring not installed: credentials go to auth.json)"));

  // codex's authorize, device-auth, token and revoke endpoints; approves every sign-in by itself
  // (a device code after two polls).
  await using issuer = await startCodexAuthServer({
    interval: "1",
    autoApproveAfterPolls: 2,
    email: "demo@example.com",
    plan: "plus",
  });
  // The Responses API, streaming a fixed answer.
  await using model = startResponsesServer(() =>
    normalStream("Hello from the stand-in model! Streaming works.")
  );
  Object.assign(env, {
    CDX_ISSUER: issuer.url,
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`,
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
    OPENAI_BASE_URL: model.baseUrl,
  });

  await step("version and target", ["--version"]);
  await step("nothing stored yet", ["login", "status"], 1);
  await browserStep(
    "browser login (the default). No real browser here (--no-browser): a stand-in follows the link, " +
      "signs in and is sent back to cdx on 127.0.0.1 (--port 0: any free port, so the demo never " +
      "collides with a login waiting on codex's port 1455)",
    ["login", "--no-browser", "--port", "0"],
  );
  await step("who you are, where the credentials live, when the token expires", [
    "login",
    "status",
  ]);
  await step("the bearer credential for scripts, as JSON", ["login", "token", "--json"]);
  await step("stream an answer with the stored credentials", ["run", "say hello"]);
  await step("the same as codex exec --json (JSONL events)", ["run", "--json", "say hello"]);
  await step("bad input: a clear one-line error and exit 2", ["run", "--timeout", "soon", "x"], 2);
  await step("a bug report with the redacted logs of the runs above", [
    "feedback",
    "--classification",
    "bug",
    "--note",
    "demo report",
    "--output",
    `${home}/report.zip`,
    "--yes",
  ]);
  const unzip = await new Deno.Command("unzip", { args: ["-l", `${home}/report.zip`] }).output()
    .catch(() => undefined);
  if (unzip?.success) console.log(new TextDecoder().decode(unzip.stdout));
  await step("revoke the refresh token and remove the credentials everywhere", ["logout"]);
  await step("logged out", ["login", "status"], 1);
  await step(
    "device-code login, for accounts that allow it: enter the code on any device " +
      "(the stand-in approves it after two polls)",
    ["login", "--device-auth", "--no-browser"],
  );
  await step("and log out again", ["logout"]);
  await step(
    "an API key from stdin (never from argv)",
    ["login", "--with-api-key"],
    0,
    "sk-demo-0123456789abcdef\n",
  );
  await step("masked as codex masks it", ["login", "status"]);
  await step("and removed again", ["logout"]);
} finally {
  await Deno.remove(home, { recursive: true });
}
console.log(
  failures
    ? `\ndemo: ${failures} step(s) did not end as expected`
    : "\ndemo: every step ended as expected",
);
Deno.exit(failures ? 1 : 0);
