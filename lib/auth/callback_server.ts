/**
 * The local server a browser login redirects to: `127.0.0.1` only, one path
 * (`/auth/callback`), one answer per login. A response whose `state` is not
 * this login's is shown an error page and ignored (never exchanged: it may be
 * a forged or stale redirect), so the login keeps waiting for the right one;
 * the first valid response — from the browser or pasted by the user — wins,
 * and its browser tab is held open until the login has been saved, so the
 * page can say truthfully whether it worked.
 *
 * Pages are small self-contained HTML (no scripts, no external assets, a CSP
 * that forbids both), `Cache-Control: no-store`, `Referrer-Policy: no-referrer`,
 * and never contain the code or a token.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import { CdxError } from "../errors.ts";

/** The path of the redirect URI. */
export const CALLBACK_PATH = "/auth/callback";
/**
 * codex's login servers answer `GET /cancel` by giving up their login: a
 * newer `codex login` that finds the port busy sends it (observed with codex
 * 0.169.0) before it falls back to the other port. cdx answers it the same way.
 */
export const CANCEL_PATH = "/cancel";

/**
 * What an authorization response carried (RFC 6749 §4.1.2), or `cancelled`:
 * another login asked this one to stop (`GET /cancel`).
 */
export type CallbackResult =
  | { kind: "code"; code: string; iss?: string }
  | { kind: "error"; error: string; description?: string; iss?: string }
  | { kind: "cancelled" };

/** A parsed authorization response, or why it is not one for this login. */
export type ParsedCallback =
  | CallbackResult
  | { kind: "wrong-state" }
  | { kind: "no-code" }
  | { kind: "not-a-callback" };

function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Reads an authorization response: a callback URL, or what a user pasted
 * (the whole address, or only its `?code=…&state=…` part). The `state` is
 * checked first, for errors too, so a forged `error=` cannot end a login.
 *
 * @example
 * ```ts
 * parseCallback("http://127.0.0.1:1455/auth/callback?code=c&state=s", "s");
 * // { kind: "code", code: "c" }
 * ```
 */
export function parseCallback(input: string | URL, expectedState: string): ParsedCallback {
  let params: URLSearchParams;
  if (input instanceof URL) {
    params = input.searchParams;
  } else {
    const text = input.trim().replace(/^["'<]+|["'>]+$/g, "");
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch { /* not a whole URL */ }
    if (url) {
      if (url.pathname !== CALLBACK_PATH) return { kind: "not-a-callback" };
      params = url.searchParams;
    } else if (/^\??[^\s?#]*(?:code|error|state)=/.test(text)) {
      params = new URLSearchParams(text.replace(/^\?/, ""));
    } else {
      return { kind: "not-a-callback" };
    }
  }
  const state = params.get("state") ?? "";
  if (!state || !sameSecret(state, expectedState)) return { kind: "wrong-state" };
  const iss = params.get("iss") ?? undefined;
  const error = params.get("error");
  if (error) {
    const description = params.get("error_description") ?? undefined;
    return {
      kind: "error",
      error,
      ...(description ? { description } : {}),
      ...(iss ? { iss } : {}),
    };
  }
  const code = params.get("code");
  if (!code) return { kind: "no-code" };
  return { kind: "code", code, ...(iss ? { iss } : {}) };
}

/** How the login ended, for the page of the tab that delivered the winning response. */
export type LoginOutcome = { ok: true } | { ok: false; message: string };

/** A running callback server. */
export interface CallbackServer {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** `http://<redirectHost>:<port>/auth/callback`. */
  readonly redirectUri: string;
  /** Settles with the first valid response, from the browser or {@linkcode CallbackServer.submit}. */
  readonly result: Promise<CallbackResult>;
  /** Offers a response from elsewhere (a pasted address); false when one already won. */
  submit(result: CallbackResult): boolean;
  /** Tells the waiting browser tab how the login ended. */
  finish(outcome: LoginOutcome): void;
  /** Stops listening (finishing a waiting tab as "not completed" first). */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@linkcode startCallbackServer}. */
export interface CallbackServerOptions {
  /** The login's `state`. */
  state: string;
  /** Ports to try in order (0 = any free port). */
  ports: readonly number[];
  /** Host written in the redirect URI (the server binds 127.0.0.1 whatever it is). */
  redirectHost?: string;
  /** Where the server notes ignored responses and its port. */
  logger: Logger;
}

/** Every port cdx may use is taken. */
export class CallbackPortsBusyError extends CdxError {
  /** `ports`: the ports that were all in use. */
  constructor(readonly ports: readonly number[], hint: string) {
    super(
      `cannot listen for the sign-in on 127.0.0.1 port ${
        ports.join(" or ")
      }: already in use (another login waiting?)`,
      { hint },
    );
    this.name = "CallbackPortsBusyError";
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/** A self-contained page; `lines` are plain text (escaped here). */
export function page(status: number, title: string, lines: string[]): Response {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)} - cdx</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}</style></head>
<body><h1 id="title">${escapeHtml(title)}</h1>
${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join("\n")}
</body></html>
`;
  return new Response(body, { status, headers: PAGE_HEADERS });
}

const CLOSE_TAB = "You can close this tab and return to the terminal.";

/** The page for a finished login. */
export function outcomePage(outcome: LoginOutcome): Response {
  return outcome.ok
    ? page(200, "Signed in to cdx", ["You are signed in.", CLOSE_TAB])
    : page(400, "Sign-in failed", [outcome.message, CLOSE_TAB]);
}

function listen(
  port: number,
  handler: Deno.ServeHandler,
): Deno.HttpServer<Deno.NetAddr> | undefined {
  try {
    return Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, handler);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return undefined;
    throw new CdxError(
      `cannot listen for the sign-in on 127.0.0.1 port ${port}: ${(error as Error).message}`,
      { hint: "choose another port with --port N (0 = any free port)" },
    );
  }
}

/**
 * Starts the callback server on the first free port of `ports`.
 * Throws {@linkcode CallbackPortsBusyError} when all are taken.
 */
export function startCallbackServer(options: CallbackServerOptions): CallbackServer {
  const log = options.logger;
  let settle!: (r: CallbackResult) => void;
  const result = new Promise<CallbackResult>((resolve) => settle = resolve);
  let claimed = false;
  let endLogin!: (o: LoginOutcome) => void;
  const ended = new Promise<LoginOutcome>((resolve) => endLogin = resolve);

  const claim = (r: CallbackResult): boolean => {
    if (claimed) return false;
    claimed = true;
    settle(r);
    return true;
  };

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname === CANCEL_PATH && req.method === "GET") {
      if (!claim({ kind: "cancelled" })) {
        return page(409, "Nothing to cancel", ["This login has already received its answer."]);
      }
      log.info("another login asked this one to stop (GET /cancel)");
      return page(200, "Login cancelled", ["cdx stopped waiting for this sign-in.", CLOSE_TAB]);
    }
    if (url.pathname !== CALLBACK_PATH) {
      return page(404, "Not found", ["cdx only answers the sign-in redirect here."]);
    }
    if (req.method !== "GET") return page(405, "Method not allowed", []);
    const parsed = parseCallback(url, options.state);
    switch (parsed.kind) {
      case "wrong-state":
      case "not-a-callback":
        log.warn("ignored a sign-in response that is not for this login (state mismatch)");
        return page(400, "Not the sign-in cdx is waiting for", [
          "This response does not belong to the login cdx started (its state does not match), so it was ignored.",
          "If you ran cdx login again, use the link it printed last.",
        ]);
      case "no-code":
        return page(400, "Sign-in response without a code", [
          "The issuer redirected here without an authorization code. cdx keeps waiting.",
        ]);
    }
    if (!claim(parsed)) {
      return page(409, "Already answered", [
        "This login has already received its sign-in response.",
        CLOSE_TAB,
      ]);
    }
    const response = outcomePage(await ended);
    response.headers.set("connection", "close");
    return response;
  };

  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  for (const port of options.ports) {
    server = listen(port, handler);
    if (server) break;
    log.debug("port {port} is busy", { port });
  }
  if (!server) {
    throw new CallbackPortsBusyError(
      options.ports,
      "finish or cancel the other login (a codex login may be waiting), or use `cdx login --device-auth`",
    );
  }
  const port = server.addr.port;
  const redirectUri = `http://${options.redirectHost ?? "127.0.0.1"}:${port}${CALLBACK_PATH}`;
  log.debug("waiting for the sign-in on 127.0.0.1:{port}", { port });
  const running = server;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      endLogin({ ok: false, message: "cdx stopped before the login was completed." });
      await running.shutdown();
      await running.finished;
    })();
  return {
    port,
    redirectUri,
    result,
    submit: claim,
    finish: (o) => endLogin(o),
    close,
    [Symbol.asyncDispose]: close,
  };
}
