/**
 * What the browser login tests need: waiting for an observable event with a
 * bound, a scripted "browser" (plain fetch following the authorize redirect
 * to cdx's callback), and a real headless Chromium (Debian's `chromium`,
 * driven by puppeteer-core) with a fresh profile and no network beyond
 * 127.0.0.1.
 *
 * @module
 */
import type { Browser, Page } from "puppeteer-core";

/**
 * Polls `probe` until it returns a value (not undefined/false), failing
 * after `timeoutMs` with `what` in the message: an event, never a clock.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const end = performance.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The first authorize URL printed in `text` (what cdx tells the user to open). */
export function authorizeUrlIn(text: string): string | undefined {
  return /https?:\/\/\S+?\/(?:oauth\/)?auth(?:orize)?\?\S+/.exec(text)?.[0];
}

/** What the scripted browser saw at cdx's callback. */
export interface CallbackVisit {
  /** The callback URL the issuer redirected to (holds the code: a secret). */
  callback: URL;
  status: number;
  headers: Headers;
  body: string;
}

/**
 * Plays the browser for an issuer that redirects at once (the codex fake's
 * `authorize: "auto"` or `"deny"`): GET the authorize URL, then the callback
 * it redirects to, optionally changed by `tamper` first.
 */
export async function playBrowser(
  url: string,
  tamper?: (callback: URL) => void,
): Promise<CallbackVisit> {
  const authorize = await fetch(url, { redirect: "manual" });
  await authorize.body?.cancel();
  const location = authorize.headers.get("location");
  if (authorize.status !== 302 || !location) {
    throw new Error(`the issuer answered ${authorize.status} instead of redirecting`);
  }
  const callback = new URL(location);
  tamper?.(callback);
  return await visit(callback);
}

/** GETs `url` without following redirects and reads the whole answer. */
export async function visit(url: URL | string): Promise<CallbackVisit> {
  const res = await fetch(url, { redirect: "manual" });
  return {
    callback: new URL(url),
    status: res.status,
    headers: res.headers,
    body: await res.text(),
  };
}

/** Where Debian's chromium is, if installed (`which chromium`). */
export const CHROMIUM: string | undefined = (() => {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch { /* not here */ }
    }
  }
  return undefined;
})();

/** Appended to a test name when it cannot run here. */
export const NO_CHROMIUM = CHROMIUM
  ? ""
  : " [SKIPPED: chromium is not installed; apt-get install chromium]";

/** A headless Chromium with a fresh profile. */
export interface Chromium {
  readonly browser: Browser;
  /** Every URL any page requested, in order. */
  readonly requests: string[];
  /** A new tab that may reach only 127.0.0.1/localhost (anything else is aborted). */
  newPage(): Promise<Page>;
  [Symbol.asyncDispose](): Promise<void>;
}

function loopback(url: string): boolean {
  try {
    const { hostname, protocol } = new URL(url);
    return protocol === "data:" || hostname === "127.0.0.1" || hostname === "localhost";
  } catch {
    return false;
  }
}

/** Launches Chromium headless with the flags a test machine needs (root, no GPU, offline). */
export async function launchChromium(): Promise<Chromium> {
  if (!CHROMIUM) throw new Error("chromium is not installed");
  const { default: puppeteer } = await import("puppeteer-core");
  const profile = await Deno.makeTempDir({ prefix: "cdx-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
    ],
  });
  const requests: string[] = [];
  return {
    browser,
    requests,
    async newPage() {
      const page = await browser.newPage();
      await page.setRequestInterception(true);
      page.on("request", (req) => {
        requests.push(req.url());
        if (loopback(req.url())) req.continue();
        else req.abort("blockedbyclient");
      });
      return page;
    },
    async [Symbol.asyncDispose]() {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** A cdx child whose stderr is collected as it arrives. */
export interface CdxChild {
  readonly child: Deno.ChildProcess;
  /** stderr so far. */
  stderr(): string;
  /** stdout so far. */
  stdout(): string;
  /** Waits for the authorize URL on stderr. */
  authorizeUrl(): Promise<string>;
  /** Waits for the exit; all of stdout and stderr. */
  done(): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Collects a spawned cdx's output (see `spawnCdx` in helpers/cli.ts). */
export function watchCdx(child: Deno.ChildProcess): CdxChild {
  let err = "";
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) add(chunk);
  };
  const pumps = Promise.all([
    pump(child.stderr, (t) => err += t),
    pump(child.stdout, (t) => out += t),
  ]);
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    authorizeUrl: () => waitFor(() => authorizeUrlIn(err), "the authorize URL on stderr"),
    async done() {
      const status = await child.status;
      await pumps;
      return { code: status.code, stdout: out, stderr: err };
    },
  };
}
