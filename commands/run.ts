/**
 * `cdx run`: one prompt in, the model's answer streamed out.
 *
 * @module
 */
import { object } from "@optique/core/constructs";
import { argument, command, constant, option } from "@optique/core/primitives";
import { optional } from "@optique/core/modifiers";
import { float, string } from "@optique/core/valueparser";
import { message } from "@optique/core/message";
import type { InferValue } from "@optique/core/parser";
import type { Context } from "../lib/context.ts";
import { notImplemented } from "../lib/errors.ts";
import { jsonOption, storeOption } from "./options.ts";

/** The `run` command. */
export const runCommand = command(
  "run",
  object({
    command: constant("run" as const),
    prompt: optional(argument(string({ metavar: "PROMPT" }), {
      description: message`the prompt; ${"-"} or absent reads it from stdin`,
    })),
    model: optional(option("-m", "--model", string({ metavar: "MODEL" }), {
      description: message`model (default: ${"model"} in config.toml)`,
    })),
    instructions: optional(option("--instructions", string({ metavar: "TEXT" }), {
      description: message`system instructions sent with the prompt`,
    })),
    baseUrl: optional(option("--base-url", string({ metavar: "URL" }), {
      description: message`Responses API base URL (env ${"OPENAI_BASE_URL"})`,
    })),
    timeout: optional(option("--timeout", float({ min: 0, metavar: "SECONDS" }), {
      description: message`give up after this many seconds (exit 124)`,
    })),
    idleTimeout: optional(option("--idle-timeout", float({ min: 0, metavar: "SECONDS" }), {
      description: message`give up when no event arrives for this long (default 300)`,
    })),
    outputLastMessage: optional(
      option("-o", "--output-last-message", string({ metavar: "FILE" }), {
        description: message`also write the final message to FILE`,
      }),
    ),
    json: jsonOption,
    store: storeOption,
  }),
  {
    brief: message`Send a prompt to the model and stream the answer`,
    description:
      message`Streams the answer to stdout as it arrives; progress and errors go to stderr. With --json prints codex exec's JSONL events.`,
    footer: message`Examples:
  cdx run "explain this error" < build.log
  git diff | cdx run "write a commit message"
  cdx run --json "list three colours" | jq -r 'select(.type=="item.completed").item.text'`,
  },
);

/** Options of `cdx run`. */
export type RunCommandOptions = InferValue<typeof runCommand>;

/** `cdx run`. Returns the exit code. */
export function runRun(_ctx: Context, _options: RunCommandOptions): Promise<number> {
  return Promise.reject(notImplemented("run"));
}
