// deno-lint-ignore-file no-console
/**
 * The browser login's timings, each run a fresh cdx process with the
 * binary's permissions against the local codex fake:
 *
 * - start → authorize URL printed (what the user waits for before the link);
 * - callback received → cdx exited (exchange, API-key exchange, save);
 * - Ctrl-C (SIGINT) while waiting for the browser → exit 130;
 * - puppeteer-core + Debian's chromium: launch, one page's DOM read, close
 *   (the cost each Chromium test pays; skipped without chromium).
 *
 * Usage: `deno run -A scripts/bench_login_browser.ts [runs=7]`. Prints the
 * median and min/max per row. Numbers go to the README, never into tests.
 */
import { spawnCdx } from "../tests/helpers/cli.ts";
import { startCodexAuthServer } from "../tests/fakes/codex_auth_server.ts";
import { CHROMIUM, launchChromium, watchCdx } from "../tests/helpers/browser.ts";

const runs = Number(Deno.args[0] ?? 7);

function report(label: string, times: number[]): void {
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `${label.padEnd(44)} median ${median.toFixed(0).padStart(5)} ms  (min ${
      times[0].toFixed(0)
    }, max ${times[times.length - 1].toFixed(0)}, n=${times.length})`,
  );
}

await using fake = await startCodexAuthServer({});
const toUrl: number[] = [];
const callbackToExit: number[] = [];
const interrupt: number[] = [];
for (let i = 0; i <= runs; i++) {
  const home = await Deno.makeTempDir({ prefix: "cdx-bench-" });
  const env = { CODEX_HOME: home, CDX_CREDENTIALS_STORE: "file", CDX_ISSUER: fake.url };
  const t0 = performance.now();
  const cdx = watchCdx(spawnCdx(["login", "--no-browser", "--port", "0"], { env }));
  const url = await cdx.authorizeUrl();
  const t1 = performance.now();
  const signIn = await fetch(url, { redirect: "manual" });
  await signIn.body?.cancel();
  const t2 = performance.now();
  await (await fetch(signIn.headers.get("location")!)).body?.cancel();
  const done = await cdx.done();
  const t3 = performance.now();
  if (done.code !== 0) throw new Error(`login failed: ${done.stderr}`);

  const waiting = watchCdx(spawnCdx(["login", "--no-browser", "--port", "0"], { env }));
  await waiting.authorizeUrl();
  const t4 = performance.now();
  waiting.child.kill("SIGINT");
  const stopped = await waiting.done();
  const t5 = performance.now();
  if (stopped.code !== 130) throw new Error(`Ctrl-C gave exit ${stopped.code}`);
  await Deno.remove(home, { recursive: true });
  if (i === 0) continue; // warm-up (module cache)
  toUrl.push(t1 - t0);
  callbackToExit.push(t3 - t2);
  interrupt.push(t5 - t4);
}
report("cdx login: start → URL printed", toUrl);
report("cdx login: callback → exit 0 (exchange+save)", callbackToExit);
report("cdx login: SIGINT while waiting → exit 130", interrupt);

if (CHROMIUM) {
  const chromium: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const browser = await launchChromium();
    const page = await browser.newPage();
    await page.setContent("<h1 id=t>ready</h1>");
    await page.$eval("#t", (e) => e.textContent);
    await browser[Symbol.asyncDispose]();
    chromium.push(performance.now() - t0);
  }
  report("chromium: launch + DOM read + close", chromium);
} else {
  console.log("chromium: not installed, skipped");
}
