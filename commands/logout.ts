/**
 * `cdx logout`.
 *
 * @module
 */
import type { Context } from "../lib/context.ts";
import { CdxError, ExitCode } from "../lib/errors.ts";
import { isCancellation } from "../lib/cancel.ts";
import {
  type AuthLocation,
  checkCodexHome,
  isRevocable,
  logoutAuth,
  type LogoutResult,
  resolveAuthStore,
  revokeAuth,
  storedForLogout,
} from "../lib/auth/mod.ts";
import type { LogoutOptions } from "./grammar.ts";

export type { LogoutOptions } from "./grammar.ts";

/**
 * `cdx logout`: revoke the refresh token (bounded; a failure is a warning;
 * `--no-revoke` skips it), then delete every copy. Messages and exit codes
 * as codex: `Successfully logged out`, `Not logged in` (both exit 0). A
 * keychain that could not be read or cleared is never reported as logged
 * out: exit 3, with what was removed and what may remain.
 */
export async function runLogout(ctx: Context, options: LogoutOptions): Promise<number> {
  // A CODEX_HOME that is a file holds nothing to delete and no lock to take: say so first.
  await checkCodexHome(ctx.globals.codexHome);
  let stored: Awaited<ReturnType<typeof storedForLogout>>;
  try {
    stored = await storedForLogout(ctx, { store: options.store });
  } catch (error) {
    if (isCancellation(error) || !(error instanceof CdxError)) throw error;
    // Unreadable credentials are still deleted below; the delete reports real problems.
    await ctx.stderr.write(`warning: ${ctx.secrets.redact(error.message)}\n`);
    stored = { store: resolveAuthStore(ctx, { store: options.store }), unknown: false };
  }
  const auth = stored.auth;
  if (auth && isRevocable(auth) && !options.noRevoke) {
    try {
      await revokeAuth(ctx, auth);
    } catch (error) {
      if (ctx.signal.aborted || isCancellation(error)) throw error;
      await ctx.stderr.write(
        `warning: ${ctx.secrets.redact((error as Error).message)}; the token was not revoked\n`,
      );
    }
  }
  let result: LogoutResult;
  try {
    result = await logoutAuth(ctx, stored.store);
  } catch (error) {
    if (error instanceof CdxError && error.exitCode === ExitCode.FAILURE) {
      throw new CdxError(`Error logging out: ${error.message}`, { hint: error.hint, cause: error });
    }
    throw error;
  }
  if (result.problems.length || stored.unknown) {
    const removed = result.removed.map(describeLocation);
    throw new CdxError(
      `Error logging out: ${result.problems.join("; ") || "the keychain could not be read"}${
        removed.length ? ` (removed: ${removed.join(", ")})` : ""
      }`,
      {
        hint: stored.unknown && !auth
          ? "the token could not be revoked; unlock the keychain and run `cdx logout` again"
          : "unlock the keychain and run `cdx logout` again",
        exitCode: result.keyringUnknown || stored.unknown
          ? ExitCode.STORE_UNAVAILABLE
          : ExitCode.FAILURE,
      },
    );
  }
  await ctx.stderr.write(
    result.removed.length > 0 || auth ? "Successfully logged out\n" : "Not logged in\n",
  );
  return ExitCode.OK;
}

function describeLocation(location: AuthLocation): string {
  switch (location.kind) {
    case "keyring":
      return "the keychain item";
    case "file":
    case "legacy-file":
      return location.path;
    case "memory":
      return "memory";
  }
}
