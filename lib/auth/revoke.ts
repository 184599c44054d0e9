/**
 * Best-effort token revocation, as codex does on logout: the refresh token
 * (or the access token when there is none), bounded to 10 s.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { abortError, timeoutSignal } from "../cancel.ts";
import type { AuthData } from "./auth_json.ts";
import { codexHeaders, tokenEndpoints } from "./endpoints.ts";

/** Bound on a revoke call. */
export const REVOKE_TIMEOUT_MS = 10_000;

export { isRevocable } from "./auth_json.ts";

/**
 * Revokes `auth`'s refresh token. Throws (an Error whose message holds no
 * secret) when the endpoint fails, answers non-2xx, or takes longer than
 * `timeoutMs`; a Ctrl-C rejects with CancelledError.
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
  const ms = options.timeoutMs ?? REVOKE_TIMEOUT_MS;
  using bound = timeoutSignal(ms, ctx.signal, `token revocation timed out after ${ms / 1000} s`);
  let res: Response;
  try {
    res = await ctx.fetch(endpoints.revokeUrl, { ...init, signal: bound.signal });
    await res.body?.cancel();
  } catch (error) {
    if (bound.signal.aborted) throw abortError(bound.signal);
    throw new Error(`token revocation failed: ${ctx.secrets.redact((error as Error).message)}`);
  }
  if (!res.ok) throw new Error(`token revocation failed with status ${res.status}`);
}
