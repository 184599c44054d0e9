/**
 * Whether and how the feedback capture keeps its records in
 * `$CODEX_HOME/log/cdx.log`: shared by the capture (which decides at start
 * whether to register the exit hook) and the persisted log (which obeys the
 * cap). A leaf, so neither imports the other.
 *
 * @module
 */
import type { Context } from "../context.ts";

/** Where persistence stands for this process. */
export interface PersistSettings {
  /** Whether records are appended to `$CODEX_HOME/log/cdx.log` at exit. */
  enabled: boolean;
  /** Why not, when disabled. */
  reason?: string;
  /** Size cap of cdx.log in bytes. */
  maxBytes: number;
}

/** Default cap of cdx.log: 8 MiB. */
export const DEFAULT_LOG_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Persistence settings from `CDX_LOG_PERSIST` (0/false/no/off disables),
 * config `feedback.persist_logs = false`, and `CDX_LOG_MAX_BYTES` (the cap).
 * A read-only command (`login status`) keeps no log.
 *
 * @example
 * ```ts
 * persistSettings(ctx); // { enabled: true, maxBytes: 8388608 }
 * ```
 */
export function persistSettings(
  ctx: Pick<Context, "env" | "config"> & { globals?: Pick<Context["globals"], "readOnly"> },
): PersistSettings {
  const raw = ctx.env.get("CDX_LOG_PERSIST");
  const maxRaw = Number(ctx.env.get("CDX_LOG_MAX_BYTES"));
  const maxBytes = Number.isInteger(maxRaw) && maxRaw > 0 ? maxRaw : DEFAULT_LOG_MAX_BYTES;
  if (ctx.globals?.readOnly) return { enabled: false, reason: "read-only command", maxBytes };
  if (raw !== undefined && /^(0|false|no|off)$/i.test(raw.trim())) {
    return { enabled: false, reason: "CDX_LOG_PERSIST=0", maxBytes };
  }
  const feedback = ctx.config.values.feedback;
  if (
    feedback && typeof feedback === "object" &&
    (feedback as Record<string, unknown>).persist_logs === false
  ) {
    return { enabled: false, reason: "config feedback.persist_logs = false", maxBytes };
  }
  return { enabled: true, maxBytes };
}
