/**
 * `cdx run`: one prompt in, the model's answer streamed out.
 *
 * @module
 */
import type { Context, Output } from "../lib/context.ts";
import { CdxError, UsageError } from "../lib/errors.ts";
import { CancelledError, deadline, orCancel, TimeoutError } from "../lib/cancel.ts";
import { configString } from "../lib/config.ts";
import type {
  AuthProvider,
  ExecEvent,
  ModelAuth,
  ModelEvent,
  RetryNotice,
} from "../lib/model/mod.ts";
import type { RunCommandOptions, StoreMode } from "./grammar.ts";

export type { RunCommandOptions } from "./grammar.ts";

/** `--idle-timeout` default, in seconds (codex's `stream_idle_timeout_ms`). */
export const DEFAULT_IDLE_TIMEOUT_S = 300;

/** Environment variables holding an API key, in the order codex exec reads them. */
export const API_KEY_ENV = ["CODEX_API_KEY", "OPENAI_API_KEY"] as const;

/** How long stdin may stay silent before cdx says it is waiting for it. */
const STDIN_NOTICE_MS = 250;

/**
 * Reads all of stdin as text (cancellable). When `notice` is given and stdin
 * is silent for a moment, prints it on stderr, so a script that forgot to
 * close stdin sees why cdx waits.
 */
async function readStdin(ctx: Context, notice?: string): Promise<string> {
  const chunks: string[] = [];
  const reader = ctx.stdin.readable.getReader();
  const dec = new TextDecoder();
  try {
    let first: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = reader.read();
    if (notice) {
      await deadline(first, STDIN_NOTICE_MS, { signal: ctx.signal }).catch(async (error) => {
        if (!(error instanceof TimeoutError)) throw error;
        await ctx.stderr.write(`${notice}\n`);
      });
    }
    while (true) {
      const { done, value } = await orCancel(first ?? reader.read(), ctx.signal);
      first = undefined;
      if (done) break;
      chunks.push(dec.decode(value, { stream: true }));
    }
  } finally {
    reader.releaseLock();
  }
  chunks.push(dec.decode());
  return chunks.join("");
}

/**
 * The prompt, the way codex exec builds it: the argument; `-` or no argument
 * with piped stdin reads stdin; an argument plus piped stdin appends stdin as
 * `<stdin>…</stdin>` context. No argument and a terminal is a usage error.
 */
export async function resolvePrompt(ctx: Context, prompt: string | undefined): Promise<string> {
  if (prompt === undefined || prompt === "-") {
    if (ctx.stdin.isTTY) {
      throw new UsageError(
        "no prompt given: pass it as an argument or pipe it into stdin",
        { hint: 'cdx run "your prompt"   or   echo "your prompt" | cdx run' },
      );
    }
    const text = await readStdin(ctx);
    if (text.trim() === "") {
      throw new UsageError("no prompt given: stdin was empty", {
        hint: 'cdx run "your prompt"   or   echo "your prompt" | cdx run',
      });
    }
    return text;
  }
  if (ctx.stdin.isTTY) return prompt;
  const extra = await readStdin(ctx, "Reading additional input from stdin...");
  if (extra.trim() === "") return prompt;
  return `${prompt}\n\n<stdin>\n${extra}${extra.endsWith("\n") ? "" : "\n"}</stdin>`;
}

/** `--base-url` > `OPENAI_BASE_URL` > config.toml `openai_base_url`; checked to be an http(s) URL. */
export function resolveBaseUrl(ctx: Context, option: string | undefined): string | undefined {
  const env = ctx.env.get("OPENAI_BASE_URL");
  const value = option ?? (env ? env : undefined) ?? configString(ctx.config, "openai_base_url");
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(value)} (--base-url / OPENAI_BASE_URL)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`the base URL must be http(s): ${JSON.stringify(value)}`);
  }
  return value;
}

/** An API key from `CODEX_API_KEY` / `OPENAI_API_KEY`, registered as a secret. */
export function envApiKey(ctx: Context): ModelAuth | undefined {
  for (const name of API_KEY_ENV) {
    const value = ctx.env.get(name)?.trim();
    if (value) {
      ctx.secrets.register(value);
      return { kind: "apikey", apiKey: value, source: "env" };
    }
  }
  return undefined;
}

/**
 * Credentials for the request: an API key in the environment wins (as in
 * codex exec), else the stored credentials of `lib/auth` (refreshed when
 * expired; reloaded and refreshed after a 401).
 */
export async function requestAuthProvider(
  ctx: Context,
  store: StoreMode | undefined,
): Promise<AuthProvider> {
  const fromEnv = envApiKey(ctx);
  if (fromEnv) {
    return { get: () => Promise.resolve(fromEnv), recover: () => Promise.resolve(undefined) };
  }
  // Loaded only when needed: with a key in the environment cdx run starts faster.
  const auth = await import("../lib/auth/mod.ts");
  const register = (a: ModelAuth) => {
    ctx.secrets.register(a.kind === "chatgpt" ? a.accessToken : a.apiKey);
    return a;
  };
  return {
    get: async () => register(await auth.getRequestAuth(ctx, { store, allowEnvApiKey: false })),
    recover: async (failed) => {
      const next = await auth.recoverUnauthorized(ctx, { store }, failed);
      return next && register(next);
    },
  };
}

/**
 * `cdx run`: streams the answer to stdout (each network read written and
 * flushed as it arrives), or codex exec's JSONL events with `--json`.
 * Returns the exit code; failures are thrown (exit 1, 124 on timeouts, 130
 * on Ctrl-C) after the partial output has been ended with a newline.
 */
export async function runRun(ctx: Context, options: RunCommandOptions): Promise<number> {
  const model = await import("../lib/model/mod.ts");
  const prompt = await resolvePrompt(ctx, options.prompt);
  const baseUrl = resolveBaseUrl(ctx, options.baseUrl);
  const modelName = options.model ?? configString(ctx.config, "model") ?? model.DEFAULT_MODEL;
  const seconds = (s: number | undefined) => (s === undefined || s === 0 ? undefined : s * 1000);
  const timeoutMs = seconds(options.timeout);
  const idleTimeoutMs = seconds(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_S) ?? 2 ** 31 - 1;
  const auth = await requestAuthProvider(ctx, options.store);
  const threadId = crypto.randomUUID();
  const json = options.json === true;
  const jsonl = new model.ExecEventWriter(threadId);
  const emit = (event: ExecEvent) => ctx.stdout.write(model.jsonLine(event));
  const log = ctx.logger.getChild("model");

  /** Text of the current message as streamed, and the last complete message. */
  let streamed = "";
  let lastMessage: string | undefined;
  let printed = false;
  let endsWithNewline = true;

  const out = new CoalescingWriter(ctx.stdout);
  const print = (text: string) => {
    if (!text) return;
    printed = true;
    endsWithNewline = text.endsWith("\n");
    out.write(text);
  };

  const onEvents = async (events: ModelEvent[]) => {
    let text = "";
    for (const event of events) {
      if (event.type === "text_delta") {
        if (streamed === "" && lastMessage !== undefined && !json) {
          // A second message of the same answer starts on its own line.
          const atLineStart = text ? text.endsWith("\n") : endsWithNewline;
          if (!atLineStart) text += "\n";
        }
        streamed += event.delta;
        text += event.delta;
      } else if (event.type === "message_done") {
        // A server that sends no deltas still gets its message printed.
        if (!json && streamed === "") text += event.text;
        lastMessage = event.text;
        streamed = "";
        if (json) await emit(jsonl.agentMessage(event.text));
      }
    }
    if (!json) print(text);
    // Surface a failed write (closed terminal, full disk) without waiting for the next one.
    out.throwIfFailed();
  };

  const onRetry = async (notice: RetryNotice) => {
    const line = `${notice.reason}; retrying in ${
      (notice.delayMs / 1000).toFixed(1)
    } s (${notice.attempt}/${notice.maxRetries})`;
    await ctx.stderr.write(`warning: ${line}\n`);
    if (json) {
      await emit(jsonl.error(`Reconnecting... ${notice.attempt}/${notice.maxRetries} (${line})`));
    }
  };

  if (json) {
    await emit(jsonl.threadStarted());
    await emit(jsonl.turnStarted());
  }
  try {
    const result = await model.streamResponse({
      fetch: ctx.fetch,
      auth,
      signal: ctx.signal,
      timeoutMs,
      idleTimeoutMs,
      logger: log,
      onEvents,
      onRetry,
      buildRequest: (credential) =>
        model.buildResponsesRequest({
          auth: credential,
          baseUrl,
          model: modelName,
          instructions: options.instructions,
          prompt,
          sessionId: threadId,
          version: ctx.version,
          os: ctx.os,
          arch: Deno.build.arch,
          organization: ctx.env.get("OPENAI_ORGANIZATION"),
          project: ctx.env.get("OPENAI_PROJECT"),
        }),
    });
    if (streamed !== "") {
      // Deltas without a closing output_item.done: they are the message.
      lastMessage = streamed;
      if (json) await emit(jsonl.agentMessage(streamed));
    }
    if (json) await emit(jsonl.turnCompleted(result.usage));
    else {
      if (printed && !endsWithNewline) out.write("\n");
      await out.flush();
    }
    log.info("response {id} usage {usage}", { id: result.responseId, usage: result.usage });
    if (options.outputLastMessage !== undefined) {
      await writeLastMessage(ctx, options.outputLastMessage, lastMessage);
    }
    return 0;
  } catch (error) {
    // Keep what was printed, but end its line so the shell prompt starts clean.
    if (!json && printed && !endsWithNewline) out.write("\n");
    await out.flush().catch(() => {});
    if (json && !(error instanceof CancelledError)) {
      // codex exec: an `error` event, then `turn.failed` with the same message.
      const message = ctx.secrets.redact(error instanceof Error ? error.message : String(error));
      await emit(jsonl.error(message));
      await emit(jsonl.turnFailed(message));
    }
    throw error;
  }
}

/** `-o FILE`: the last message, or an empty file and a warning, as codex exec does. */
async function writeLastMessage(ctx: Context, path: string, text: string | undefined) {
  try {
    await Deno.writeTextFile(path, text ?? "");
  } catch (error) {
    throw new CdxError(`cannot write ${path}: ${(error as Error).message}`);
  }
  if (text === undefined) {
    await ctx.stderr.write(`Warning: no last agent message; wrote empty content to ${path}\n`);
  }
}

/**
 * Writes text to an Output as fast as it takes it: a write is started at
 * once when none is in flight; text arriving meanwhile is joined into the
 * next write. The stream reader never waits for the terminal, and 10,000
 * deltas do not cost 10,000 write calls when the reader is faster.
 */
export class CoalescingWriter {
  #pending: string[] = [];
  #draining: Promise<void> | undefined;
  #error: unknown;
  constructor(readonly output: Output) {}

  /** Queues `text`; it is written immediately unless a write is in flight. */
  write(text: string): void {
    this.#pending.push(text);
    this.#draining ??= this.#drain();
  }

  /** Rethrows the error of a failed write, if any. */
  throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /** Resolves when everything queued has been written. */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
    this.throwIfFailed();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length) {
        const text = this.#pending.length === 1 ? this.#pending[0] : this.#pending.join("");
        this.#pending = [];
        await this.output.write(text);
      }
    } catch (error) {
      this.#error ??= error;
      this.#pending = [];
    } finally {
      this.#draining = undefined;
    }
  }
}
