/**
 * The standard OAuth 2.0 Device Authorization Grant (RFC 8628), for issuers
 * whose discovery document has a `device_authorization_endpoint`:
 * `authorization_pending` keeps polling, `slow_down` adds 5 s for good,
 * `access_denied` / `expired_token` stop, a missing `interval` means 5 s, and
 * `expires_in` is the deadline.
 *
 * @module
 */
import type { Context } from "../context.ts";
import {
  defaultSleep,
  type DeviceFlowOptions,
  DeviceLoginError,
  type DeviceLoginTokens,
  type IssuerAnswer,
  postToIssuer,
  tokenErrorDetail,
} from "./device_code.ts";
import type { IssuerMetadata } from "./endpoints.ts";
import { ExitCode } from "../errors.ts";

/** RFC 8628 §3.2 default polling interval. */
export const DEFAULT_INTERVAL_S = 5;
/** RFC 8628 §3.5: `slow_down` adds this to the interval. */
export const SLOW_DOWN_STEP_S = 5;
/** Scope requested when `--scope` is not given. */
export const DEFAULT_SCOPE = "openid profile email offline_access";

/** Options of {@linkcode rfc8628Login}. */
export interface Rfc8628Options extends DeviceFlowOptions {
  /** The issuer's discovery document (needs `device_authorization_endpoint`, `token_endpoint`). */
  metadata: IssuerMetadata;
  /** Requested scope (default `openid profile email offline_access`). */
  scope?: string;
}

/** A form POST to a standard OAuth endpoint. */
async function postForm(
  ctx: Context,
  url: string,
  form: Record<string, string>,
  what: string,
): Promise<IssuerAnswer> {
  return await postToIssuer(ctx, url, {
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams(form).toString(),
  }, what);
}

/** Runs the RFC 8628 flow and returns the tokens (`id_token` may be empty). */
export async function rfc8628Login(
  ctx: Context,
  options: Rfc8628Options,
): Promise<DeviceLoginTokens> {
  const { metadata } = options;
  const scale = options.pollScale ?? 1;
  const sleep = options.sleep ?? defaultSleep;
  const log = ctx.logger.getChild("auth");
  if (!metadata.device_authorization_endpoint || !metadata.token_endpoint) {
    throw new DeviceLoginError("the issuer does not support the device authorization grant");
  }
  const form: Record<string, string> = { client_id: options.clientId };
  form.scope = options.scope ?? DEFAULT_SCOPE;
  const device = await postForm(
    ctx,
    metadata.device_authorization_endpoint,
    form,
    "device authorization request",
  );
  if (!device.ok) {
    throw new DeviceLoginError(
      `device authorization request failed with status ${device.status}: ${
        tokenErrorDetail(device)
      }`,
    );
  }
  const b = device.body;
  const deviceCode = b.device_code;
  const userCode = b.user_code;
  const verificationUri = b.verification_uri ?? b.verification_url;
  if (
    typeof deviceCode !== "string" || typeof userCode !== "string" ||
    typeof verificationUri !== "string"
  ) {
    throw new DeviceLoginError(
      "device authorization response is missing device_code, user_code or verification_uri",
    );
  }
  ctx.secrets.register(deviceCode);
  const expiresInS = typeof b.expires_in === "number" && b.expires_in > 0 ? b.expires_in : 900;
  let intervalS = typeof b.interval === "number" && b.interval > 0
    ? b.interval
    : DEFAULT_INTERVAL_S;
  const started = ctx.clock.monotonic();
  const deadlineMs = expiresInS * 1000 * scale;
  await options.onCode({
    verificationUri,
    userCode,
    verificationUriComplete: typeof b.verification_uri_complete === "string"
      ? b.verification_uri_complete
      : undefined,
    expiresAt: ctx.clock.now() + expiresInS * 1000,
    lifetimeMs: expiresInS * 1000,
  });

  const expired = () =>
    new DeviceLoginError(
      "the code expired before the login was approved",
      "run `cdx login` again and approve the new code",
      ExitCode.TIMEOUT,
    );
  while (true) {
    const left = deadlineMs - (ctx.clock.monotonic() - started);
    if (left <= 0) throw expired();
    await sleep(Math.min(intervalS * 1000 * scale, left), ctx.signal);
    const res = await postForm(ctx, metadata.token_endpoint, {
      grant_type: "urn:ietf:params:oauth:grant-type:device_code",
      device_code: deviceCode,
      client_id: options.clientId,
    }, "device code poll");
    if (res.ok) {
      const access = res.body.access_token;
      if (typeof access !== "string" || access === "") {
        throw new DeviceLoginError("token response has no access_token");
      }
      const str = (k: string) => typeof res.body[k] === "string" ? res.body[k] as string : "";
      const tokens = {
        id_token: str("id_token"),
        access_token: access,
        refresh_token: str("refresh_token"),
      };
      for (const t of Object.values(tokens)) ctx.secrets.register(t);
      return tokens;
    }
    const error = typeof res.body.error === "string" ? res.body.error : undefined;
    switch (error) {
      case "authorization_pending":
        log.trace("authorization pending");
        continue;
      case "slow_down":
        intervalS += SLOW_DOWN_STEP_S;
        log.debug("slow_down: polling every {s} s from now on", { s: intervalS });
        continue;
      case "access_denied":
        throw new DeviceLoginError(
          "the login was denied",
          "run `cdx login` again if that was a mistake",
        );
      case "expired_token":
        throw expired();
      default:
        throw new DeviceLoginError(
          `token request failed with status ${res.status}: ${tokenErrorDetail(res)}`,
        );
    }
  }
}
