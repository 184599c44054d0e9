/**
 * The real `oidc-provider` (npm) as an RFC 8628 device-grant server on
 * 127.0.0.1 (ux-anchors.md §8): discovery with `device_authorization_endpoint`,
 * no `interval` in its device response, refresh-token rotation, revocation.
 * Approve or deny a user code programmatically, and inject `slow_down`
 * answers with a middleware.
 *
 * @example
 * ```ts
 * await using op = await startOidcProvider();
 * // cdx login --issuer op.issuer --client-id op.clientId ; then op.approve(userCode)
 * ```
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A running provider. */
export interface OidcTestProvider {
  /** Issuer URL (discovery at `/.well-known/openid-configuration`). */
  readonly issuer: string;
  readonly clientId: string;
  /** POST /token requests seen (device-code polls and refreshes), as timestamps. */
  readonly tokenRequests: string[];
  /** Approves a user code (as shown, e.g. `3106-1133`) for the test account. */
  approve(userCode: string): Promise<void>;
  /** Denies a user code. */
  deny(userCode: string): Promise<void>;
  /** Answers the next `n` device-code polls with `slow_down`. */
  slowDown(n: number): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@linkcode startOidcProvider}. */
export interface OidcProviderOptions {
  /** Device code lifetime, seconds (default 600). */
  deviceCodeTtlS?: number;
  /** Access token lifetime, seconds (default 60). */
  accessTokenTtlS?: number;
  /**
   * Also the authorization-code flow for a native client (redirect URI
   * `http://127.0.0.1/auth/callback`, any port, PKCE) with oidc-provider's
   * own login and consent pages (`devInteractions`: any login and password).
   */
  authorizationCode?: boolean;
}

/** The account every approval signs in. */
export const OIDC_ACCOUNT = {
  sub: "user-oidc-1",
  email: "oidc@example.com",
  accountId: "acct-oidc",
  plan: "team",
};

/** Starts oidc-provider on 127.0.0.1, port 0. */
export async function startOidcProvider(
  options: OidcProviderOptions = {},
): Promise<OidcTestProvider> {
  const { default: Provider } = await import("oidc-provider");
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = "cdx-test-client";
  const tokenRequests: string[] = [];
  let slowDowns = 0;

  const code = options.authorizationCode === true;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      token_endpoint_auth_method: "none",
      application_type: "native",
      grant_types: [
        "urn:ietf:params:oauth:grant-type:device_code",
        "refresh_token",
        ...(code ? ["authorization_code"] : []),
      ],
      response_types: code ? ["code"] : [],
      redirect_uris: code ? ["http://127.0.0.1/auth/callback"] : [],
    }],
    features: {
      deviceFlow: { enabled: true, charset: "digits" },
      revocation: { enabled: true },
      devInteractions: { enabled: code },
    },
    scopes: ["openid", "offline_access", "email", "profile"],
    claims: {
      openid: ["sub"],
      email: ["email", "https://api.openai.com/auth"],
    },
    conformIdTokenClaims: false,
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      // The device-grant tests check ChatGPT-style claims; a plain issuer (the code flow) has none.
      claims: () => ({
        sub: id,
        email: OIDC_ACCOUNT.email,
        ...(code ? {} : {
          "https://api.openai.com/auth": {
            chatgpt_account_id: OIDC_ACCOUNT.accountId,
            chatgpt_plan_type: OIDC_ACCOUNT.plan,
          },
        }),
      }),
    }),
    ttl: {
      DeviceCode: options.deviceCodeTtlS ?? 600,
      AccessToken: options.accessTokenTtlS ?? 60,
      IdToken: 3600,
      RefreshToken: 86400,
      Grant: 86400,
      Session: 86400,
      Interaction: 3600,
    },
  });
  // deno-lint-ignore no-explicit-any
  provider.use(async (ctx: any, next: () => Promise<void>) => {
    if (ctx.method === "POST" && ctx.path === "/token") {
      tokenRequests.push(new Date().toISOString());
      // The body is left unread: tests inject slow_down only while polling.
      if (slowDowns > 0) {
        slowDowns--;
        ctx.status = 400;
        ctx.body = { error: "slow_down", error_description: "poll less often" };
        return;
      }
    }
    await next();
  });
  handler = provider.callback();

  const normalise = (code: string) => code.toUpperCase().replace(/\W/g, "");
  // deno-lint-ignore no-explicit-any
  const p = provider as any;
  const load = async (userCode: string) => {
    const dc = await p.DeviceCode.findByUserCode(normalise(userCode), { ignoreExpiration: true });
    if (!dc) throw new Error(`unknown user code ${userCode}`);
    return dc;
  };
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  return {
    issuer,
    clientId,
    tokenRequests,
    async approve(userCode) {
      const dc = await load(userCode);
      const grant = new p.Grant({ accountId: OIDC_ACCOUNT.sub, clientId });
      grant.addOIDCScope("openid offline_access email");
      const grantId = await grant.save();
      dc.accountId = OIDC_ACCOUNT.sub;
      dc.grantId = grantId;
      dc.scope = "openid offline_access email";
      dc.authTime = Math.floor(Date.now() / 1000);
      await dc.save();
    },
    async deny(userCode) {
      const dc = await load(userCode);
      dc.error = "access_denied";
      dc.errorDescription = "the user denied the request";
      await dc.save();
    },
    slowDown(n) {
      slowDowns = n;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
