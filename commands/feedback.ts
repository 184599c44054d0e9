/**
 * `cdx feedback`: export or upload recent logs as a bug report.
 *
 * @module
 */
import { object } from "@optique/core/constructs";
import { command, constant, flag, option } from "@optique/core/primitives";
import { optional } from "@optique/core/modifiers";
import { choice, string } from "@optique/core/valueparser";
import { message } from "@optique/core/message";
import type { InferValue } from "@optique/core/parser";
import type { Context } from "../lib/context.ts";
import { notImplemented } from "../lib/errors.ts";
import { jsonOption } from "./options.ts";

/** Feedback classifications, as codex names them. */
export const CLASSIFICATIONS = ["bug", "bad_result", "good_result", "other"] as const;

/** The `feedback` command. */
export const feedbackCommand = command(
  "feedback",
  object({
    command: constant("feedback" as const),
    classification: optional(
      option("--classification", choice(CLASSIFICATIONS, { metavar: "KIND" }), {
        description: message`what kind of report this is`,
      }),
    ),
    note: optional(option("--note", string({ metavar: "TEXT" }), {
      description: message`a note describing the problem`,
    })),
    noLogs: optional(flag("--no-logs", { description: message`leave the logs out of the bundle` })),
    output: optional(option("--output", string({ metavar: "FILE" }), {
      description: message`write the bundle (zip) to FILE`,
    })),
    upload: optional(flag("--upload", {
      description:
        message`upload to the Sentry DSN in ${"CDX_FEEDBACK_DSN"} or config feedback.dsn`,
    })),
    yes: optional(flag("-y", "--yes", { description: message`do not ask; for scripts` })),
    json: jsonOption,
  }),
  {
    brief: message`Export or upload a bug report with recent (redacted) logs`,
    footer: message`Examples:
  cdx feedback --classification bug --note "login hangs" --output report.zip --yes
  cdx feedback --upload --classification bug --note "run exits 1"`,
  },
);

/** Options of `cdx feedback`. */
export type FeedbackOptions = InferValue<typeof feedbackCommand>;

/** `cdx feedback`. Returns the exit code. */
export function runFeedback(_ctx: Context, _options: FeedbackOptions): Promise<number> {
  return Promise.reject(notImplemented("feedback"));
}
