/**
 * Browser login: the OAuth 2.0 authorization-code flow with PKCE S256 and a
 * loopback redirect (RFC 6749 §4.1, RFC 7636, RFC 8252), in two flavours:
 *
 * - **codex**: codex 0.169.0's browser login exactly (codex-interop.md §5,
 *   observed): `{issuer}/oauth/authorize` with codex's parameters in codex's
 *   order, `redirect_uri=http://127.0.0.1:<port>/auth/callback` on port 1455
 *   (1457 when busy: both are on the issuer's allow-list), the code
 *   exchanged at `{issuer}/oauth/token`, then the best-effort API-key token
 *   exchange;
 * - **oidc**: a standard issuer found by discovery: its
 *   `authorization_endpoint` and `token_endpoint`, `--client-id`, `--scope`,
 *   and RFC 9207's `iss` checked when the issuer sends it.
 *
 * The answer arrives at the local {@linkcode startCallbackServer} or is
 * pasted by the user (a browser on another machine); the first valid one
 * wins. The wait is bounded (15 minutes) and Ctrl-C ends it at once.
 * Nothing here writes credentials: the caller's `save` does, before the
 * browser tab is told that the login worked.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError, ExitCode } from "../errors.ts";
import { deadline, isCancellation, TimeoutError } from "../cancel.ts";
import { checkpoint } from "../steps.ts";
import { type CallbackResult, parseCallback, startCallbackServer } from "./callback_server.ts";
import { generatePkce, randomState } from "./pkce.ts";
import { BROWSER_LOGIN_WAIT_MS, type IssuerMetadata, normalizeIssuer } from "./endpoints.ts";
import { type BrowserLoginTokens, exchangeCode, obtainApiKey } from "./code_exchange.ts";

export type { BrowserLoginTokens } from "./code_exchange.ts";

/** codex's callback port and its fallback (both on the issuer's redirect allow-list). */
export const CODEX_CALLBACK_PORTS: readonly number[] = [1455, 1457];
/** The scope codex's browser login asks for. */
export const CODEX_BROWSER_SCOPE =
  "openid profile email offline_access api.connectors.read api.connectors.invoke";
/** codex's `originator` parameter. */
export const CODEX_ORIGINATOR = "codex_cli_rs";

/** What the user must be shown (and what a pasted address is checked against). */
export interface AuthorizePrompt {
  /** The authorize URL: it holds the PKCE challenge and the state, never the verifier. */
  url: string;
  /** The callback address given to the issuer. */
  redirectUri: string;
  /** The local port the callback server listens on (127.0.0.1). */
  port: number;
  /** When the wait ends (ms, wall clock). */
  expiresAt: number;
  /** Offers what the user pasted; says whether it was taken, or why not. */
  submitPasted(text: string): { ok: true } | { ok: false; message: string };
  /** Aborted once the login stops waiting (answered, failed or cancelled). */
  signal: AbortSignal;
}

/** Options of {@linkcode browserLogin}. */
export interface BrowserLoginOptions<R> {
  /** `codex`: codex's endpoints and parameters; `oidc`: a discovered standard issuer. */
  flavour: "codex" | "oidc";
  /** The issuer URL (no trailing slash). */
  issuer: string;
  /** The OAuth client id. */
  clientId: string;
  /** Required for `oidc`: its `authorization_endpoint` and `token_endpoint`. */
  metadata?: IssuerMetadata;
  /** `oidc` only (default `openid profile email offline_access`). */
  scope?: string;
  /** A fixed port (0 = any free port); default codex's 1455, then 1457. */
  port?: number;
  /** The wait bound, ms (default {@linkcode BROWSER_LOGIN_WAIT_MS}). */
  waitMs?: number;
  /** Shows the URL (opens a browser, offers the paste prompt). */
  onAuthorize(prompt: AuthorizePrompt): void | Promise<void>;
  /**
   * Saves the login. Call `saved()` once the credentials are stored: the
   * browser tab then says the login worked (later work, like revoking the
   * replaced token, need not keep it waiting).
   */
  save(tokens: BrowserLoginTokens, apiKey: string | null, saved: () => void): Promise<R>;
}

/** The default scope for standard issuers. */
export const OIDC_DEFAULT_SCOPE = "openid profile email offline_access";

/** The authorize URL, parameters in codex's order (codex) or RFC 6749's (oidc). */
export function authorizeUrl(
  options: Pick<BrowserLoginOptions<unknown>, "flavour" | "issuer" | "clientId" | "scope"> & {
    metadata?: IssuerMetadata;
    redirectUri: string;
    challenge: string;
    state: string;
  },
): string {
  if (options.flavour === "codex") {
    const query = new URLSearchParams([
      ["response_type", "code"],
      ["client_id", options.clientId],
      ["redirect_uri", options.redirectUri],
      ["code_challenge", options.challenge],
      ["code_challenge_method", "S256"],
      ["state", options.state],
      ["scope", CODEX_BROWSER_SCOPE],
      ["id_token_add_organizations", "true"],
      ["codex_cli_simplified_flow", "true"],
      ["originator", CODEX_ORIGINATOR],
    ]);
    return `${normalizeIssuer(options.issuer)}/oauth/authorize?${query}`;
  }
  const url = new URL(options.metadata!.authorization_endpoint!);
  const params: Array<[string, string]> = [
    ["response_type", "code"],
    ["client_id", options.clientId],
    ["redirect_uri", options.redirectUri],
    ["scope", options.scope ?? OIDC_DEFAULT_SCOPE],
    ["state", options.state],
    ["code_challenge", options.challenge],
    ["code_challenge_method", "S256"],
  ];
  // OIDC Core §11: a refresh token (offline_access) needs the user's explicit consent.
  if ((options.scope ?? OIDC_DEFAULT_SCOPE).split(/\s+/).includes("offline_access")) {
    params.push(["prompt", "consent"]);
  }
  for (const [k, v] of params) url.searchParams.set(k, v);
  return url.toString();
}

/** A sign-in the issuer refused (`error=` on the callback), or one that failed afterwards. */
export class BrowserLoginError extends CdxError {
  /** Exit 1 unless `exitCode` says otherwise (124 when nothing arrived in time). */
  constructor(message: string, hint?: string, exitCode: ExitCode = ExitCode.FAILURE) {
    super(message, {
      hint,
      exitCode,
      errorCode: exitCode === ExitCode.FAILURE ? "login_failed" : undefined,
    });
    this.name = "BrowserLoginError";
  }
}

function signInFailed(result: Extract<CallbackResult, { kind: "error" }>): BrowserLoginError {
  const detail = result.description?.trim() || result.error;
  const entitlement = result.error === "access_denied" &&
    /missing_codex_entitlement/i.test(result.description ?? "");
  if (entitlement) {
    return new BrowserLoginError(
      "Codex is not enabled for your workspace. Contact your workspace administrator to request access to Codex.",
    );
  }
  return new BrowserLoginError(
    `Sign-in failed: ${detail}`,
    result.error === "access_denied"
      ? "run `cdx login` again to retry, or sign in with another account"
      : undefined,
  );
}

async function waitForAnswer(
  ctx: Context,
  answer: Promise<CallbackResult>,
  waitMs: number,
): Promise<CallbackResult> {
  try {
    return await deadline(answer, waitMs, { signal: ctx.signal });
  } catch (error) {
    // Our own bound (not an outer --timeout, which aborts ctx.signal): say what to do about it.
    if (!(error instanceof TimeoutError) || ctx.signal.aborted) throw error;
    const minutes = Math.round(waitMs / 60_000);
    throw new BrowserLoginError(
      `no sign-in arrived within ${minutes >= 1 ? `${minutes} minutes` : `${waitMs} ms`}`,
      "run `cdx login` again and finish the sign-in in the browser sooner",
      ExitCode.TIMEOUT,
    );
  }
}

/**
 * Runs a browser login and returns what `save` returned. Throws
 * {@linkcode BrowserLoginError} when the issuer refuses, the exchange fails
 * or nothing arrives in time (exit 124); `CancelledError` on Ctrl-C.
 */
export async function browserLogin<R>(ctx: Context, options: BrowserLoginOptions<R>): Promise<R> {
  const log = ctx.logger.getChild("auth");
  if (options.flavour === "oidc") {
    if (!options.metadata?.authorization_endpoint || !options.metadata.token_endpoint) {
      throw new BrowserLoginError("the issuer publishes no authorization_endpoint/token_endpoint");
    }
  }
  const pkce = await generatePkce();
  const state = randomState();
  ctx.secrets.register(pkce.verifier);
  ctx.secrets.register(state);
  const ports = options.port === undefined ? CODEX_CALLBACK_PORTS : [options.port];
  await using server = startCallbackServer({ state, ports, logger: log });
  if (options.port === undefined && server.port !== ports[0]) {
    log.info("port {busy} is busy; listening on {port} instead", {
      busy: ports[0],
      port: server.port,
    });
  }
  const url = authorizeUrl({
    ...options,
    redirectUri: server.redirectUri,
    challenge: pkce.challenge,
    state,
  });
  const waiting = new AbortController();
  const waitMs = options.waitMs ?? BROWSER_LOGIN_WAIT_MS;
  try {
    await options.onAuthorize({
      url,
      redirectUri: server.redirectUri,
      port: server.port,
      expiresAt: ctx.clock.now() + waitMs,
      signal: waiting.signal,
      submitPasted(text) {
        const parsed = parseCallback(text, state);
        if (parsed.kind === "code") ctx.secrets.register(parsed.code);
        switch (parsed.kind) {
          case "code":
          case "error":
            server.submit(parsed); // false: the browser's answer won already; either way it is done
            return { ok: true };
          case "wrong-state":
            return {
              ok: false,
              message:
                "That address belongs to another login (its state does not match). Paste the address the browser ended on after opening the link above.",
            };
          default:
            return {
              ok: false,
              message:
                `That is not the sign-in redirect. It starts with ${server.redirectUri}?code=`,
            };
        }
      },
    });
    const answer = await waitForAnswer(ctx, server.result, waitMs);
    waiting.abort();
    if (answer.kind === "cancelled") {
      throw new BrowserLoginError(
        `the sign-in was cancelled: another login (codex login or cdx login) took over port ${server.port}`,
        "finish the sign-in in the other login, or run `cdx login` again",
      );
    }
    if (answer.kind === "code") ctx.secrets.register(answer.code);
    await checkpoint(ctx, "browser-login:answered");
    const issuerId = options.metadata?.issuer;
    if (
      answer.iss !== undefined && issuerId &&
      normalizeIssuer(answer.iss) !== normalizeIssuer(issuerId)
    ) {
      throw new BrowserLoginError(
        `the sign-in response came from another issuer (${answer.iss}, expected ${issuerId}); ignored`,
      );
    }
    if (answer.kind === "error") throw signInFailed(answer);
    const target = { ...options, tokenEndpoint: options.metadata?.token_endpoint };
    const tokens = await exchangeCode(ctx, target, answer.code, pkce.verifier, server.redirectUri);
    const apiKey = options.flavour === "codex"
      ? await obtainApiKey(ctx, target, tokens.id_token)
      : null;
    return await options.save(tokens, apiKey, () => server.finish({ ok: true }));
  } catch (error) {
    waiting.abort();
    if (!isCancellation(error)) {
      server.finish({
        ok: false,
        message: error instanceof CdxError
          ? ctx.secrets.redact(error.message)
          : "cdx failed to complete the login.",
      });
    }
    throw error;
  }
}
