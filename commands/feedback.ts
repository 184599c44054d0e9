/**
 * `cdx feedback`: export or upload recent logs as a bug report.
 *
 * @module
 */
import type { Context } from "../lib/context.ts";
import { CdxError, ExitCode, UsageError } from "../lib/errors.ts";
import { CancelledError, cancelledFrom } from "../lib/cancel.ts";
import { ensurePrivateDir, fileError, homePath } from "../lib/fs.ts";
import type { Classification, PreparedReport } from "../lib/feedback/mod.ts";
import { CLASSIFICATIONS, type FeedbackOptions } from "./grammar.ts";

export { CLASSIFICATIONS, type FeedbackOptions } from "./grammar.ts";

/** The feedback library, loaded when the command runs (keeps every other command's start-up small). */
let fb: typeof import("../lib/feedback/mod.ts");

/** The `--json` receipt (version 1). */
export interface FeedbackReceipt {
  /** Version of this shape (`schemas/feedback.json`); bumped on incompatible changes. */
  version: 1;
  /** UUID of the report (this run's invocation id in the logs); the upload's session id. */
  report_id: string;
  /** When the report was built (RFC 3339, milliseconds). */
  created_at: string;
  /** Where the zip is (null after an upload without --output: the temporary copy is removed). */
  bundle: string | null;
  /** Size of the zip. */
  bytes: number;
  /** Each file in the zip and its size in bytes (uncompressed). */
  files: Array<{ name: string; bytes: number }>;
  /** Whether the redacted logs went in (false with `--no-logs` or when declined at the prompt). */
  logs_included: boolean;
  /** Whether Sentry accepted the report; false when it was only saved. */
  uploaded: boolean;
  /** The event id Sentry acknowledged (uploads only). */
  event_id?: string;
  /** When Sentry acknowledged it (RFC 3339, milliseconds; uploads only). */
  uploaded_at?: string;
}

/** The user closed stdin at a prompt (Ctrl-D): nothing is written or sent. */
class PromptClosed extends Error {}

/** `cdx feedback`. Returns the exit code. */
export async function runFeedback(ctx: Context, options: FeedbackOptions): Promise<number> {
  try {
    return await feedback(ctx, options);
  } catch (error) {
    if (!(error instanceof PromptClosed)) throw error;
    await ctx.stderr.write("\nCancelled; nothing was written or sent.\n");
    return ExitCode.FAILURE;
  }
}

async function feedback(ctx: Context, options: FeedbackOptions): Promise<number> {
  // Loaded here, not at start-up: the bundle/zip code is only needed by this command.
  fb = await import("../lib/feedback/mod.ts");
  const logger = ctx.logger.getChild("feedback");
  const upload = options.upload === true;
  const dsn = upload ? fb.feedbackDsn(ctx) : undefined;
  if (upload && !dsn) {
    throw new CdxError("no feedback DSN is configured, so there is nowhere to upload to", {
      errorCode: "config",
      hint:
        "set CDX_FEEDBACK_DSN or feedback.dsn in config.toml, or save the report with `cdx feedback --output report.zip` and attach it to an issue",
    });
  }
  const interactive = options.yes !== true && ctx.stdin.isTTY && ctx.stdin.readLine !== undefined;
  if (upload && options.yes !== true && !interactive) {
    throw new UsageError("--upload sends the report off this machine and needs confirmation", {
      hint: "add --yes to confirm when stdin is not a terminal (or save it with --output FILE)",
    });
  }
  // A path that cannot be written is said before any question is asked.
  if (options.output) await fb.checkBundlePath(options.output);
  const prompt = new Prompter(ctx);
  const classification: Classification = options.classification ??
    (interactive ? await prompt.classification() : "bug");
  const note = options.note ??
    (interactive ? await prompt.line("Describe the problem in one line (Enter to skip): ") : "");
  const includeLogs = options.noLogs !== true &&
    (!interactive || !upload ||
      await prompt.yesNo("Include recent logs (redacted) in the upload? [Y/n] ", true));

  const report = await fb.prepareReport(ctx, {
    classification,
    note: note ? note : undefined,
    includeLogs,
  });
  if (ctx.signal.aborted) throw cancelledFrom(ctx.signal);
  // An upload without --output keeps its copy next to cdx.log until Sentry has it.
  const copyDir = fb.logDir(ctx.globals.codexHome);
  const path = options.output ??
    (upload
      ? homePath(copyDir, `cdx-feedback-${report.reportId}.zip`)
      : `cdx-feedback-${report.reportId.slice(0, 8)}.zip`);
  logger.debug("feedback report {id}: {files} files, {bytes} bytes zipped", {
    id: report.reportId,
    files: report.files.length,
    bytes: report.zip.length,
  });

  if (interactive) {
    await ctx.stderr.write(preview(report, path, dsn?.host));
    const go = upload
      ? await prompt.yesNo(`Upload it to ${dsn!.host}? [y/N] `, false)
      : await prompt.yesNo(`Write ${path}? [Y/n] `, true);
    if (!go) {
      await ctx.stderr.write("Cancelled; nothing was written or sent.\n");
      return ExitCode.FAILURE;
    }
  }

  if (!options.output && upload) {
    await ensurePrivateDir(copyDir).catch((error) => {
      throw fileError(error, "cannot keep a copy of the report", path);
    });
  }
  if (ctx.signal.aborted) throw cancelledFrom(ctx.signal);
  await fb.writeBundle(path, report.zip);
  const receipt: FeedbackReceipt = {
    version: 1,
    report_id: report.reportId,
    created_at: String(report.metadata.created_at),
    bundle: path,
    bytes: report.zip.length,
    files: report.files.map((f) => ({ name: f.name, bytes: f.data.length })),
    logs_included: includeLogs,
    uploaded: false,
  };

  if (!upload) {
    await ctx.stdout.write(
      options.json
        ? `${JSON.stringify(receipt)}\n`
        : `Saved the report to ${path} (${receipt.files.length} files, ${
          fb.formatSize(report.zip.length)
        }).\n`,
    );
    return ExitCode.OK;
  }

  let eventId: string;
  try {
    eventId = (await fb.uploadReport(ctx, report, dsn!)).eventId;
  } catch (error) {
    const kept = `the report is kept at ${path}; attach it to an issue or retry later`;
    if (error instanceof CdxError) {
      throw new CdxError(`feedback upload failed: ${error.message}`, {
        exitCode: error.exitCode,
        errorCode: error.errorCode,
        hint: error.hint ? `${error.hint}; ${kept}` : kept,
        cause: error,
      });
    }
    if (!(error instanceof CancelledError)) {
      throw new CdxError(`feedback upload failed: ${String(error)}`, { hint: kept, cause: error });
    }
    await ctx.stderr.write(`${kept}\n`);
    throw error;
  }
  if (!options.output) await Deno.remove(path).catch(() => {});
  receipt.bundle = options.output ?? null;
  receipt.uploaded = true;
  receipt.event_id = eventId;
  receipt.uploaded_at = new Date(ctx.clock.now()).toISOString();
  await ctx.stdout.write(
    options.json
      ? `${JSON.stringify(receipt)}\n`
      : `Feedback uploaded (event ${eventId}, report ${report.reportId}).${
        options.output ? ` A copy is at ${options.output}.` : ""
      }\n`,
  );
  return ExitCode.OK;
}

/** What each file of the bundle holds, for the preview. */
const FILE_CONTENT: Record<string, string> = {
  "metadata.json":
    "cdx and Deno versions, OS, report kind, your note, auth mode, store mode, keychain state",
  "cdx-logs.log":
    "log lines of the runs below, every level (secrets masked, prompts replaced by their length)",
  "diagnostics.txt":
    "keychain state, names (not values) of proxy variables, config.toml with secret values masked",
};

/** The files with sizes and what each holds, the runs whose logs are in, and where it goes. */
function preview(report: PreparedReport, path: string, host?: string): string {
  const width = Math.max(...report.files.map((f) => f.name.length));
  const files = report.files.map((f) =>
    `  ${f.name.padEnd(width)}  ${fb.formatSize(f.data.length).padStart(9)}  ${
      FILE_CONTENT[f.name] ?? ""
    }`
  );
  const runs = !report.request.includeLogs ? ["Logs are left out."] : report.runs.length
    ? [
      `Logs of ${report.runs.length} cdx run(s), oldest first:`,
      ...report.runs.map((r) => `  ${r.start}  cdx ${r.argv.join(" ")}`.slice(0, 160)),
    ]
    : ["No cdx run has been logged yet."];
  const where = host ? `upload to ${host} (a copy stays in ${path} until it succeeds)` : path;
  return [
    "",
    `The report (${fb.formatSize(report.zip.length)} zipped) holds:`,
    ...files,
    ...runs,
    `Destination: ${where}`,
    "Nothing else is in it; open the zip to check before sending if in doubt.",
    "",
    "",
  ].join("\n");
}

/** Questions on the terminal (stderr for the question, stdin for the answer). */
class Prompter {
  constructor(readonly ctx: Context) {}

  /** One answer. Ctrl-C rejects with CancelledError; a closed stdin with PromptClosed. */
  async line(question: string): Promise<string> {
    await this.ctx.stderr.write(question);
    let answer: string | undefined;
    try {
      answer = await this.ctx.stdin.readLine?.(this.ctx.signal);
    } finally {
      // Ctrl-C or SIGTERM mid-question: end the question's line, so `interrupted` stands alone.
      if (this.ctx.signal.aborted) await this.ctx.stderr.write("\n");
    }
    if (this.ctx.signal.aborted) throw cancelledFrom(this.ctx.signal);
    if (answer === undefined) throw new PromptClosed();
    return answer.trim();
  }

  async yesNo(question: string, byDefault: boolean): Promise<boolean> {
    const answer = (await this.line(question)).toLowerCase();
    if (answer === "") return byDefault;
    return answer === "y" || answer === "yes";
  }

  async classification(): Promise<Classification> {
    const choices = CLASSIFICATIONS.map((c, i) => `${i + 1}) ${fb.CLASSIFICATION_DISPLAY[c]}`).join(
      "  ",
    );
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = (await this.line(`What kind of report? ${choices} [1]: `)).toLowerCase();
      if (answer === "") return "bug";
      const index = Number(answer) - 1;
      if (CLASSIFICATIONS[index]) return CLASSIFICATIONS[index];
      const named = CLASSIFICATIONS.find((c) =>
        c === answer || fb.CLASSIFICATION_DISPLAY[c].toLowerCase() === answer
      );
      if (named) return named;
    }
    throw new UsageError("no valid report kind given", {
      hint: "use --classification bug|bad_result|good_result|other",
    });
  }
}
