/**
 * Best-effort token revocation, as codex does on logout: the refresh token
 * (or the access token when there is none), bounded like every request cdx
 * makes (10 s by default, `CDX_REQUEST_TIMEOUT` to change it). A failure —
 * timeout included — is a {@linkcode CdxError} the caller reports as a
 * warning; only Ctrl-C ends the command.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { CdxError } from "../errors.ts";
import { fetchText, requestTimeoutMs } from "../http.ts";
import type { AuthData } from "./auth_json.ts";
import { codexHeaders, tokenEndpoints } from "./endpoints.ts";

/** Default bound on a revoke call (`CDX_REQUEST_TIMEOUT` overrides it). */
export const REVOKE_TIMEOUT_MS = 10_000;

/**
 * Revokes `auth`'s refresh token. Throws a {@linkcode CdxError} (naming the
 * host, never a secret) when the endpoint cannot be reached, answers non-2xx
 * or does not answer within the bound (`RequestTimeoutError`); a Ctrl-C
 * rejects with CancelledError.
 */
export async function revokeAuth(
  ctx: Context,
  auth: AuthData,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const tokens = auth.tokens;
  if (!tokens) return;
  const endpoints = await tokenEndpoints(ctx, auth);
  const useRefresh = !!tokens.refresh_token;
  const token = useRefresh ? tokens.refresh_token : tokens.access_token;
  const hint = useRefresh ? "refresh_token" : "access_token";
  let init: RequestInit;
  if (endpoints.style === "codex") {
    const body: Record<string, string> = { token, token_type_hint: hint };
    if (useRefresh) body.client_id = endpoints.clientId;
    init = { method: "POST", headers: codexHeaders(ctx), body: JSON.stringify(body) };
  } else {
    init = {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, token_type_hint: hint, client_id: endpoints.clientId })
        .toString(),
    };
  }
  const res = await fetchText(ctx, endpoints.revokeUrl, init, {
    what: "token revocation",
    timeoutMs: options.timeoutMs ?? requestTimeoutMs(ctx, REVOKE_TIMEOUT_MS),
    maxBodyBytes: 64 * 1024,
  });
  if (!res.ok) throw new CdxError(`token revocation failed with status ${res.status}`);
}
