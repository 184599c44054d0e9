/**
 * codex's own device-code login (codex-interop.md §4–§5): not RFC 8628 but
 * `/api/accounts/deviceauth/usercode` → poll `/deviceauth/token` (403/404 =
 * pending, `interval` a string, 15-minute cap) → code exchange at
 * `/oauth/token` with the server-generated PKCE verifier.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError, ExitCode } from "../errors.ts";
import { delay } from "../cancel.ts";
import { fetchText } from "../http.ts";
import { normalizeIssuer } from "./endpoints.ts";
import { randomBase64url } from "./pkce.ts";

/** The device-code lifetime and poll cap codex uses. */
export const DEVICE_CODE_LIFETIME_MS = 15 * 60 * 1000;

/** What the user must see to approve a login. */
export interface DeviceCodePrompt {
  /** The page where the user enters the code. */
  verificationUri: string;
  /** The one-time code to enter. */
  userCode: string;
  /** RFC 8628 `verification_uri_complete`, when the issuer sent one. */
  verificationUriComplete?: string;
  /** When the code expires (ms, wall clock). */
  expiresAt: number;
  /** Lifetime in ms, for "expires in N minutes". */
  lifetimeMs: number;
}

/** Tokens from a finished device login. */
export interface DeviceLoginTokens {
  /** The OIDC id token (a JWT), or empty (RFC 8628 without `openid`). */
  id_token: string;
  /** The bearer token. */
  access_token: string;
  /** The refresh token, or empty. */
  refresh_token: string;
}

/** Options shared by both device flows. */
export interface DeviceFlowOptions {
  /** The issuer URL. */
  issuer: string;
  /** The OAuth client id. */
  clientId: string;
  /** Multiplies every wait and the poll cap (tests: `CDX_TEST_POLL_SCALE`); default 1. */
  pollScale?: number;
  /** Shows the code to the user. */
  onCode: (prompt: DeviceCodePrompt) => void | Promise<void>;
  /** Waits between polls (tests record the intervals); default: a cancellable delay. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The default poll wait. */
export function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, { signal });
}

/** A device login failure; the command prefixes it with codex's "Error logging in with device code". */
export class DeviceLoginError extends CdxError {
  /** `hint`: what the user can do about it; `exitCode` 124 when the login's own deadline passed. */
  constructor(message: string, hint?: string, exitCode?: ExitCode) {
    super(message, { hint, exitCode, errorCode: exitCode === 124 ? "timeout" : "login_failed" });
    this.name = "DeviceLoginError";
  }
}

/** An issuer's answer to {@linkcode postToIssuer}. */
export interface IssuerAnswer {
  /** The HTTP status. */
  status: number;
  /** Whether the status is 2xx. */
  ok: boolean;
  /** The whole body as text. */
  text: string;
  /** The body parsed as a JSON object; `{}` when it is not one. */
  body: Record<string, unknown>;
}

/**
 * POSTs to an issuer endpoint through {@linkcode fetchText} (bounded by
 * `CDX_REQUEST_TIMEOUT`, cancelled by Ctrl-C; errors name the host and
 * `what`, never the URL's query or a body). Used by every login flow.
 */
export async function postToIssuer(
  ctx: Context,
  url: string,
  init: { headers: Record<string, string>; body: string },
  what: string,
): Promise<IssuerAnswer> {
  const res = await fetchText(ctx, url, { method: "POST", ...init }, { what });
  // fetchText has parsed the body already; only an object is an answer to read fields from.
  const body = res.json && typeof res.json === "object" ? res.json as Record<string, unknown> : {};
  return { status: res.status, ok: res.ok, text: res.text, body };
}

/** `interval` as codex reads it: a string (or number) of seconds, trimmed, default 0. */
export function parseCodexInterval(value: unknown): number {
  const n = typeof value === "number" ? value : Number(String(value ?? "").trim() || "0");
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The detail of a token-endpoint error, as codex extracts it. */
export function tokenErrorDetail({ body, text }: Pick<IssuerAnswer, "body" | "text">): string {
  if (typeof body.error_description === "string") return body.error_description;
  const error = body.error;
  if (error && typeof error === "object") {
    const e = error as Record<string, unknown>;
    if (typeof e.message === "string") return e.message;
    if (typeof e.code === "string") return e.code;
  }
  if (typeof error === "string") return error;
  return text.slice(0, 200);
}

/**
 * Runs codex's device-code login against `issuer` and returns the tokens.
 * Cancelled by `ctx.signal` at any wait.
 */
export async function codexDeviceLogin(
  ctx: Context,
  options: DeviceFlowOptions,
): Promise<DeviceLoginTokens> {
  const issuer = normalizeIssuer(options.issuer);
  const scale = options.pollScale ?? 1;
  const sleep = options.sleep ?? defaultSleep;
  const log = ctx.logger.getChild("auth");
  const json = { "content-type": "application/json", accept: "*/*" };

  const codeRes = await postToIssuer(ctx, `${issuer}/api/accounts/deviceauth/usercode`, {
    headers: json,
    body: JSON.stringify({ client_id: options.clientId }),
  }, "device code request");
  if (codeRes.status === 404) {
    throw new DeviceLoginError(
      "device code login is not enabled for this Codex server. Use the browser login or verify the server URL.",
      "sign in with `cdx login` (browser) instead, or enable device code authorization for Codex in ChatGPT Security Settings",
    );
  }
  if (!codeRes.ok) {
    throw new DeviceLoginError(`device code request failed with status ${codeRes.status}`);
  }
  const code = codeRes.body;
  const deviceAuthId = code.device_auth_id;
  const userCode = code.user_code ?? code.usercode;
  if (typeof deviceAuthId !== "string" || typeof userCode !== "string") {
    throw new DeviceLoginError("device code response is missing device_auth_id or user_code");
  }
  ctx.secrets.register(deviceAuthId);
  const intervalMs = parseCodexInterval(code.interval) * 1000 * scale;
  const capMs = DEVICE_CODE_LIFETIME_MS * scale;
  const started = ctx.clock.monotonic();
  await options.onCode({
    verificationUri: `${issuer}/codex/device`,
    userCode,
    expiresAt: ctx.clock.now() + DEVICE_CODE_LIFETIME_MS,
    lifetimeMs: DEVICE_CODE_LIFETIME_MS,
  });

  let grant: Record<string, unknown>;
  while (true) {
    const res = await postToIssuer(ctx, `${issuer}/api/accounts/deviceauth/token`, {
      headers: json,
      body: JSON.stringify({ device_auth_id: deviceAuthId, user_code: userCode }),
    }, "device code poll");
    if (res.ok) {
      grant = res.body;
      break;
    }
    if (res.status !== 403 && res.status !== 404) {
      throw new DeviceLoginError(`device auth failed with status ${res.status}`);
    }
    const left = capMs - (ctx.clock.monotonic() - started);
    if (left <= 0) {
      throw new DeviceLoginError(
        "device auth timed out after 15 minutes",
        "run `cdx login` again and approve the code sooner",
        ExitCode.TIMEOUT,
      );
    }
    log.trace("device code pending; next poll in {ms} ms", { ms: Math.min(intervalMs, left) });
    if (intervalMs > 0) await sleep(Math.min(intervalMs, left), ctx.signal);
  }
  const authorizationCode = grant.authorization_code;
  const codeVerifier = grant.code_verifier;
  if (typeof authorizationCode !== "string" || typeof codeVerifier !== "string") {
    throw new DeviceLoginError(
      "device auth response is missing authorization_code or code_verifier",
    );
  }
  ctx.secrets.register(authorizationCode);
  ctx.secrets.register(codeVerifier);

  const form = [
    ["grant_type", "authorization_code"],
    ["client_id", options.clientId],
    ["code", authorizationCode],
    ["redirect_uri", `${issuer}/deviceauth/callback`],
    ["code_verifier", codeVerifier],
  ].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
  const exchange = await postToIssuer(ctx, `${issuer}/oauth/token`, {
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "*/*" },
    body: form,
  }, "token exchange");
  // The token fields are registered below; the code and verifier above. Not the whole body:
  // a large answer would become one huge pattern in the redactor.
  if (!exchange.ok) {
    throw new DeviceLoginError(
      `device code exchange failed: token endpoint returned status ${exchange.status}: ${
        ctx.secrets.redact(tokenErrorDetail(exchange))
      }`,
    );
  }
  const tokens = exchange.body;
  for (const key of ["id_token", "access_token", "refresh_token"]) {
    if (typeof tokens[key] !== "string" || tokens[key] === "") {
      throw new DeviceLoginError(`device code exchange failed: the response has no ${key}`);
    }
    ctx.secrets.register(tokens[key] as string);
  }
  return {
    id_token: tokens.id_token as string,
    access_token: tokens.access_token as string,
    refresh_token: tokens.refresh_token as string,
  };
}

/** A random 43-char base64url value (what codex 0.169.0 writes as `login_owner_id`). */
export function randomLoginOwnerId(): string {
  return randomBase64url(32);
}
