/**
 * What cdx itself adds to a keychain operation, without the keychain's own
 * time: the secret-tool backend + chunking over an in-process fake
 * secret-tool (no spawn), and the process runner against a bare
 * `Deno.Command` on `/bin/true` (the per-spawn cost cdx adds). The real
 * comparison with a live gnome-keyring is `scripts/bench_keyring.ts`.
 *
 *   deno bench -A bench/keyring_bench.ts
 */
import { mapEnv } from "../lib/context.ts";
import { createProcessRunner } from "../lib/process.ts";
import { createPlatformKeyring } from "../lib/keyring/mod.ts";
import { FakeSecretToolRunner } from "../tests/fakes/secret_tool_runner.ts";

const SERVICE = "Codex Auth";
const ACCOUNT = "cli|9ba275091964248d";
const SMALL = JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: `sk-${"x".repeat(48)}` });
const LARGE = "y".repeat(64 * 1024);

const fake = new FakeSecretToolRunner();
const keyring = createPlatformKeyring({ os: "linux", runner: fake, env: mapEnv({}) });
await keyring.save(SERVICE, ACCOUNT, SMALL);
await keyring.save(SERVICE, "cli|large", LARGE);

Deno.bench("cdx logic: load, value fits (1 tool call)", { group: "logic" }, async () => {
  await keyring.load(SERVICE, ACCOUNT);
});
Deno.bench("cdx logic: save, value fits (3 tool calls)", { group: "logic" }, async () => {
  await keyring.save(SERVICE, ACCOUNT, SMALL);
});
Deno.bench("cdx logic: delete + re-save, value fits", { group: "logic" }, async () => {
  await keyring.delete(SERVICE, ACCOUNT);
  await keyring.save(SERVICE, ACCOUNT, SMALL);
});
Deno.bench("cdx logic: load 64 KiB (9 chunks)", { group: "logic" }, async () => {
  await keyring.load(SERVICE, "cli|large");
});

const runner = createProcessRunner();
const hasTrue = (() => {
  try {
    return Deno.statSync("/bin/true").isFile;
  } catch {
    return false;
  }
})();

Deno.bench("spawn /bin/true: bare Deno.Command", {
  group: "spawn",
  baseline: true,
  ignore: !hasTrue,
}, async () => {
  await new Deno.Command("/bin/true", { stdout: "piped", stderr: "piped" }).output();
});
Deno.bench("spawn /bin/true: cdx runner (timeout + signal + stdin)", {
  group: "spawn",
  ignore: !hasTrue,
}, async () => {
  await runner.run("/bin/true", [], {
    stdin: "secret",
    timeoutMs: 3000,
    signal: new AbortController().signal,
  });
});
