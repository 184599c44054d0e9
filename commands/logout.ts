/**
 * `cdx logout`.
 *
 * @module
 */
import { object } from "@optique/core/constructs";
import { command, constant, flag } from "@optique/core/primitives";
import { optional } from "@optique/core/modifiers";
import { message } from "@optique/core/message";
import type { InferValue } from "@optique/core/parser";
import type { Context } from "../lib/context.ts";
import { notImplemented } from "../lib/errors.ts";
import { storeOption } from "./options.ts";

/** The `logout` command. */
export const logoutCommand = command(
  "logout",
  object({
    command: constant("logout" as const),
    noRevoke: optional(
      flag("--no-revoke", { description: message`do not revoke the refresh token first` }),
    ),
    store: storeOption,
  }),
  {
    brief: message`Revoke and remove stored credentials`,
    description:
      message`Revokes the refresh token, then deletes the credentials from the keychain (every chunk), auth.json and the legacy token file.`,
    footer: message`Examples:
  cdx logout
  cdx logout --no-revoke`,
  },
);

/** Options of `cdx logout`. */
export type LogoutOptions = InferValue<typeof logoutCommand>;

/** `cdx logout`. Returns the exit code. */
export function runLogout(_ctx: Context, _options: LogoutOptions): Promise<number> {
  return Promise.reject(notImplemented("logout"));
}
