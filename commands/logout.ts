/**
 * `cdx logout`.
 *
 * @module
 */
import type { Context } from "../lib/context.ts";
import { CdxError, ExitCode } from "../lib/errors.ts";
import { isCancellation } from "../lib/cancel.ts";
import { startProgress } from "../lib/status_line.ts";
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

/** What became of the token at logout. */
export type Revocation = "revoked" | "failed" | "skipped" | "not_needed";

/** The `--json` report of `cdx logout` (version 1, `schemas/logout.json`). */
export interface LogoutReport {
  /** Version of this shape (`schemas/logout.json`); bumped on incompatible changes. */
  version: 1;
  /** `logged_out`: credentials were removed; `not_logged_in`: there were none; `partial`: some may remain. */
  state: "logged_out" | "not_logged_in" | "partial";
  /** `not_needed`: nothing to revoke (an API key, no credentials); `skipped`: `--no-revoke`. */
  revocation: Revocation;
  /** Why the revocation failed (the logout went on). */
  revocation_error?: string;
  /** Every copy that was deleted. */
  removed: Array<
    { location: AuthLocation["kind"]; path?: string; service?: string; account?: string }
  >;
  /** Copies that may remain, and why. */
  remaining: string[];
  /** The failure, when the state is `partial` (the same object as the error output's). */
  error?: { code: string; message: string; hint: string | null };
}

/**
 * `cdx logout`: revoke the refresh token (bounded; a failure is a warning;
 * `--no-revoke` skips it), then delete every copy. Messages and exit codes
 * as codex: `Successfully logged out`, `Not logged in` (both exit 0). A
 * keychain that could not be read or cleared is never reported as logged
 * out: exit 3, with what was removed and what may remain (`--json`: the
 * report with `state: "partial"` and the error).
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
  let revocation: Revocation = "not_needed";
  let revocationError: string | undefined;
  if (auth && isRevocable(auth)) {
    revocation = options.noRevoke ? "skipped" : "revoked";
    if (!options.noRevoke) {
      const waiting = startProgress(ctx, "Revoking the token…");
      try {
        await revokeAuth(ctx, auth);
      } catch (error) {
        if (ctx.signal.aborted || isCancellation(error)) throw error;
        revocation = "failed";
        revocationError = ctx.secrets.redact((error as Error).message);
        waiting.stop();
        await ctx.stderr.write(`warning: ${revocationError}; the token was not revoked\n`);
      } finally {
        waiting.stop();
      }
    }
  }
  let result: LogoutResult;
  try {
    result = await logoutAuth(ctx, stored.store);
  } catch (error) {
    if (error instanceof CdxError && error.exitCode === ExitCode.FAILURE) {
      throw new CdxError(`Error logging out: ${error.message}`, {
        hint: error.hint,
        cause: error,
        errorCode: error.errorCode,
      });
    }
    throw error;
  }
  const report: LogoutReport = {
    version: 1,
    state: result.removed.length > 0 || auth ? "logged_out" : "not_logged_in",
    revocation,
    ...(revocationError === undefined ? {} : { revocation_error: revocationError }),
    removed: result.removed.map(locationData),
    remaining: result.problems.map((p) => ctx.secrets.redact(p)),
  };
  if (result.problems.length || stored.unknown) {
    const removed = result.removed.map(describeLocation);
    const failure = new CdxError(
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
    if (options.json) {
      if (!report.remaining.length) report.remaining.push("the keychain could not be read");
      report.state = "partial";
      report.error = {
        code: failure.errorCode,
        message: ctx.secrets.redact(failure.message),
        hint: failure.hint ?? null,
      };
      await ctx.stdout.write(`${JSON.stringify(report)}\n`);
    }
    throw failure;
  }
  if (options.json) await ctx.stdout.write(`${JSON.stringify(report)}\n`);
  await ctx.stderr.write(
    report.state === "logged_out" ? "Successfully logged out\n" : "Not logged in\n",
  );
  return ExitCode.OK;
}

function locationData(location: AuthLocation): LogoutReport["removed"][number] {
  switch (location.kind) {
    case "keyring":
      return { location: "keyring", service: location.service, account: location.account };
    case "file":
    case "legacy-file":
      return { location: location.kind, path: location.path };
    case "memory":
      return { location: "memory" };
  }
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
