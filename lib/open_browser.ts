/**
 * Opening a URL in the user's browser — only where one can appear: not over
 * SSH, not on Linux without a graphical session. The opener (`xdg-open`,
 * `open`, Windows' URL handler) gets the URL as its only argument, through
 * the process runner; a failure is reported, never thrown, so the caller
 * can print the URL instead.
 *
 * @module
 */
import type { Context } from "./context.ts";

/**
 * Why no browser can be opened here, or undefined when one probably can.
 *
 * @example
 * ```ts
 * noBrowserReason({ env: mapEnv({ SSH_CONNECTION: "…" }), os: "linux" }); // "this is an SSH session"
 * ```
 */
export function noBrowserReason(
  ctx: Pick<Context, "env" | "os">,
): string | undefined {
  if (ctx.env.get("SSH_CONNECTION") || ctx.env.get("SSH_TTY")) return "this is an SSH session";
  if (ctx.os === "darwin" || ctx.os === "windows") return undefined;
  if (!ctx.env.get("DISPLAY") && !ctx.env.get("WAYLAND_DISPLAY")) {
    return "no graphical session: DISPLAY and WAYLAND_DISPLAY are not set";
  }
  return undefined;
}

/**
 * Opens `url` in the user's browser (`xdg-open`, `open`, or Windows' URL
 * handler) unless {@linkcode noBrowserReason} says none can be opened. The
 * URL holds only the PKCE challenge and the state, never a secret.
 */
export async function openBrowser(
  ctx: Context,
  url: string,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const reason = noBrowserReason(ctx);
  if (reason) return { ok: false, reason };
  const [cmd, args] = ctx.os === "darwin"
    ? ["open", [url]]
    : ctx.os === "windows"
    ? ["rundll32", ["url.dll,FileProtocolHandler", url]]
    : ["xdg-open", [url]];
  const run = ctx.runner.run(cmd, args, { signal: ctx.signal });
  // Some openers stay in the foreground as long as the browser runs: not a failure.
  const stillRunning = Symbol("running");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const result = await Promise.race([
      run,
      new Promise<typeof stillRunning>((r) => timer = setTimeout(() => r(stillRunning), 5000)),
    ]);
    if (result === stillRunning || result.code === 0) return { ok: true };
    return { ok: false, reason: `${cmd} exited with status ${result.code}` };
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    return { ok: false, reason: `${cmd} failed: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
    run.catch(() => {});
  }
}
