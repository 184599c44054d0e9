/**
 * The README's "main job" command must keep working: run the demo and check
 * that every step ended with the exit code it expects.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers/cli.ts";

Deno.test("deno task demo runs browser login → status → token → run → feedback → logout → device login and every step ends as expected", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "demo"],
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /every step ended as expected/);
  assert.match(text, /Hello from the stand-in model!/);
  assert.match(text, /Successfully logged out/);
  // The browser login: cdx's own page after the stand-in browser signed in.
  assert.match(text, /cdx's page says: "Signed in to cdx"/);
  assert.match(text, /ABCD-1234/); // and the device-code login
});
