/**
 * `cdx login`, `cdx login status`, `cdx login token`.
 *
 * @module
 */
import { longestMatch, object } from "@optique/core/constructs";
import { command, constant, flag, option } from "@optique/core/primitives";
import { optional } from "@optique/core/modifiers";
import { string } from "@optique/core/valueparser";
import { message } from "@optique/core/message";
import type { InferValue } from "@optique/core/parser";
import type { Context } from "../lib/context.ts";
import { notImplemented } from "../lib/errors.ts";
import { jsonOption, storeOption } from "./options.ts";

const loginStatus = command(
  "status",
  object({ command: constant("login-status" as const), store: storeOption, json: jsonOption }),
  {
    brief: message`Show how you are logged in`,
    description:
      message`Shows the account or masked API key, where the credentials live and when the token expires. Exit 0 when logged in, 1 when not.`,
  },
);

const loginToken = command(
  "token",
  object({ command: constant("login-token" as const), store: storeOption, json: jsonOption }),
  {
    brief: message`Print the bearer credential for scripts`,
    description:
      message`Prints the access token (or API key) on stdout, refreshing it first when it has expired.`,
  },
);

const loginMain = object({
  command: constant("login" as const),
  withApiKey: optional(
    flag("--with-api-key", { description: message`read an API key from stdin and save it` }),
  ),
  issuer: optional(
    option("--issuer", string({ metavar: "URL" }), {
      description: message`OAuth issuer (default https://auth.openai.com; env ${"CDX_ISSUER"})`,
    }),
  ),
  clientId: optional(
    option("--client-id", string({ metavar: "ID" }), {
      description: message`OAuth client id for a standard RFC 8628 issuer`,
    }),
  ),
  scope: optional(
    option("--scope", string({ metavar: "SCOPE" }), {
      description: message`OAuth scope for a standard RFC 8628 issuer`,
    }),
  ),
  noBrowser: optional(
    flag("--no-browser", { description: message`do not try to open the verification page` }),
  ),
  store: storeOption,
});

/** The `login` command and its subcommands. */
export const loginCommand = command("login", longestMatch(loginStatus, loginToken, loginMain), {
  brief: message`Log in with a device code or an API key`,
  description:
    message`Signs in with a device code (default) or an API key read from stdin, and stores the credentials where codex finds them.`,
  footer: message`Examples:
  cdx login
  printenv OPENAI_API_KEY | cdx login --with-api-key
  cdx login status --json
  curl -H "Authorization: Bearer $(cdx login token)" ...`,
});

/** Options of `cdx login`. */
export type LoginOptions = Extract<InferValue<typeof loginCommand>, { command: "login" }>;
/** Options of `cdx login status`. */
export type LoginStatusOptions = Extract<
  InferValue<typeof loginCommand>,
  { command: "login-status" }
>;
/** Options of `cdx login token`. */
export type LoginTokenOptions = Extract<
  InferValue<typeof loginCommand>,
  { command: "login-token" }
>;

/** `cdx login`. Returns the exit code. */
export function runLogin(_ctx: Context, _options: LoginOptions): Promise<number> {
  return Promise.reject(notImplemented("login"));
}

/** `cdx login status`. Returns the exit code. */
export function runLoginStatus(_ctx: Context, _options: LoginStatusOptions): Promise<number> {
  return Promise.reject(notImplemented("login status"));
}

/** `cdx login token`. Returns the exit code. */
export function runLoginToken(_ctx: Context, _options: LoginTokenOptions): Promise<number> {
  return Promise.reject(notImplemented("login token"));
}
