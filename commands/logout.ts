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
import { CdxError, ExitCode } from "../lib/errors.ts";
import { isCancellation } from "../lib/cancel.ts";
import { type AuthData, isRevocable, openAuthStore, revokeAuth } from "../lib/auth/mod.ts";
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

/**
 * `cdx logout`: revoke the refresh token (bounded to 10 s; a failure is a
 * warning; `--no-revoke` skips it), then delete every copy. Messages and exit
 * codes as codex: `Successfully logged out`, `Not logged in` (both exit 0).
 */
export async function runLogout(ctx: Context, options: LogoutOptions): Promise<number> {
  const store = openAuthStore(ctx, { store: options.store });
  let auth: AuthData | undefined;
  try {
    auth = (await store.load({ migrate: false }))?.auth;
  } catch (error) {
    if (isCancellation(error)) throw error;
    // Unreadable credentials are still deleted below; the delete reports real problems.
    ctx.logger.getChild("auth").warn("could not read the stored credentials: {error}", {
      error: (error as Error).message,
    });
  }
  if (auth && isRevocable(auth) && !options.noRevoke) {
    try {
      await revokeAuth(ctx, auth);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      await ctx.stderr.write(
        `warning: ${ctx.secrets.redact((error as Error).message)}; the token was not revoked\n`,
      );
    }
  }
  let removed: number;
  try {
    removed = (await store.delete()).removed.length;
  } catch (error) {
    if (error instanceof CdxError && error.exitCode === ExitCode.FAILURE) {
      throw new CdxError(`Error logging out: ${error.message}`, { hint: error.hint, cause: error });
    }
    throw error;
  }
  await ctx.stderr.write(removed > 0 || auth ? "Successfully logged out\n" : "Not logged in\n");
  return ExitCode.OK;
}
