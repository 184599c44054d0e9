/**
 * `cdx run`: one prompt in, the model's answer streamed out — codex exec's
 * contract for scripts (`--json`, `-o`, `--output-schema`, `-i`, `-c`,
 * continuing a session), with exit codes a script can trust.
 *
 * Everything a user can get wrong (options, files, the prompt) is checked
 * before the request; then the credentials (refreshed under the run's
 * `--timeout` and `--idle-timeout`), the request, and one of two renderers
 * of the event stream.
 *
 * @module
 */
import type { Context } from "../lib/context.ts";
import { CdxError, UsageError } from "../lib/errors.ts";
import { abortError, orCancel, timeoutSignal } from "../lib/cancel.ts";
import { fileError } from "../lib/fs.ts";
import { requestTimeoutMs } from "../lib/http.ts";
import { startProgress } from "../lib/status_line.ts";
// The one env-key lookup of lib/auth, from its leaf module: lib/auth/mod.ts
// loads the whole credential store, which a run with a key in the
// environment never needs (start-up time).
import { apiKeyFromEnv } from "../lib/auth/env_key.ts";
import type { AuthProvider, ModelAuth, ProviderSettings, RunSettings } from "../lib/model/mod.ts";
import type { RunCommandOptions, StoreMode } from "./grammar.ts";

export type { RunCommandOptions } from "./grammar.ts";

/** `--idle-timeout` default, in seconds (codex's `stream_idle_timeout_ms`). */
const DEFAULT_IDLE_TIMEOUT_S = 300;

const WAITING = "Waiting for the model…";

/** `--base-url` > a configured provider's `base_url` > `OPENAI_BASE_URL` > `openai_base_url`. */
function resolveBaseUrl(ctx: Context, option: string | undefined, settings: RunSettings) {
  const env = ctx.env.get("OPENAI_BASE_URL") || undefined;
  const value = option ??
    (settings.provider.builtin ? env ?? settings.openaiBaseUrl : settings.provider.baseUrl);
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

/** Bounds the credential step: `signal` carries `--timeout`, `idleMs` is `--idle-timeout`. */
interface AuthBounds {
  signal: AbortSignal;
  idleMs: number;
}

/**
 * Runs `work` with a Context whose signal also ends at `--idle-timeout`
 * and `--timeout`, so a hung keychain or token endpoint ends with 124, and
 * Ctrl-C with 130 — whatever `lib/auth` makes of the abort.
 */
async function bounded<T>(ctx: Context, bounds: AuthBounds, work: (c: Context) => Promise<T>) {
  using bound = timeoutSignal(
    bounds.idleMs,
    bounds.signal,
    `no answer from the credential store or the token endpoint for ${
      bounds.idleMs / 1000
    } s (--idle-timeout)`,
  );
  try {
    return await orCancel(work({ ...ctx, signal: bound.signal }), bound.signal);
  } catch (error) {
    if (bound.signal.aborted) throw abortError(bound.signal);
    throw error;
  }
}

/**
 * Credentials for the request. The built-in provider (and one with
 * `requires_openai_auth`): an API key in the environment wins (as in codex
 * exec), else the stored login of `lib/auth` (refreshed when expired;
 * reloaded and refreshed once after a 401). A provider with `env_key`: that
 * variable. Any other configured provider gets no credential at all.
 */
async function authProvider(
  ctx: Context,
  store: StoreMode | undefined,
  provider: ProviderSettings,
  bounds: AuthBounds,
): Promise<AuthProvider> {
  const fixed = (auth: ModelAuth): AuthProvider => ({
    get: () => Promise.resolve(auth),
    recover: () => Promise.resolve(undefined),
  });
  if (provider.envKey) {
    const value = ctx.env.get(provider.envKey)?.trim();
    if (!value) {
      throw new CdxError(
        `model provider "${provider.id}" needs an API key in ${provider.envKey}, which is not set`,
        { hint: provider.envKeyInstructions ?? `export ${provider.envKey}=<your key>` },
      );
    }
    ctx.secrets.register(value);
    return fixed({ kind: "apikey", apiKey: value, source: "env" });
  }
  if (!provider.builtin && !provider.requiresOpenaiAuth) return fixed({ kind: "none" });
  const fromEnv = apiKeyFromEnv(ctx);
  if (fromEnv) return fixed({ kind: "apikey", apiKey: fromEnv.value, source: "env" });
  const auth = await import("../lib/auth/mod.ts");
  const register = (a: ModelAuth) => {
    if (a.kind !== "none") ctx.secrets.register(a.kind === "chatgpt" ? a.accessToken : a.apiKey);
    return a;
  };
  return {
    get: () =>
      bounded(
        ctx,
        bounds,
        async (c) => register(await auth.getRequestAuth(c, { store, allowEnvApiKey: false })),
      ),
    recover: (failed) => {
      if (failed.kind === "none") return Promise.resolve(undefined);
      return bounded(ctx, bounds, async (c) => {
        const next = await auth.recoverUnauthorized(c, { store }, failed);
        return next && register(next);
      });
    },
  };
}

/**
 * `cdx run`: streams the answer to stdout, or codex exec's JSONL events with
 * `--json`. Returns the exit code; failures are thrown (exit 1, 2 for usage,
 * 124 on timeouts, 130 on Ctrl-C) after the partial output has been ended
 * with a newline.
 */
export async function runRun(ctx: Context, options: RunCommandOptions): Promise<number> {
  const model = await import("../lib/model/mod.ts");
  // 1. Everything a user can get wrong, before a byte is sent.
  if (options.continueLast && options.session !== undefined) {
    throw new UsageError("--continue and --session cannot be used together");
  }
  const overrides = await Promise.all((options.config ?? []).map(model.parseConfigOverride));
  const settings = model.runSettings(
    model.applyConfigOverrides(ctx.config.values, overrides),
    overrides.length ? `${ctx.config.path || "config.toml"} with -c` : ctx.config.path,
  );
  const baseUrl = resolveBaseUrl(ctx, options.baseUrl, settings);
  if (options.outputLastMessage !== undefined) {
    await model.checkOutputFile(options.outputLastMessage);
  }
  const outputSchema = options.outputSchema === undefined
    ? undefined
    : await model.loadOutputSchema(options.outputSchema);
  const images = await model.loadImages(options.images ?? []);
  const codexHome = ctx.globals.codexHome;
  const which = options.continueLast ? "last" : options.session;
  const session = which === undefined ? undefined : await model.loadSession(codexHome, which);
  const connectTimeoutMs = requestTimeoutMs(ctx);
  const prompt = await model.resolvePrompt(ctx, options.prompt);

  // 2. Bounds, credentials, output.
  const seconds = (s: number | undefined) => (s === undefined || s === 0 ? undefined : s * 1000);
  const timeoutMs = seconds(options.timeout);
  const idleTimeoutMs = seconds(options.idleTimeout) ??
    (options.idleTimeout === undefined
      ? settings.provider.streamIdleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_S * 1000
      : 2 ** 31 - 1);
  using overall = timeoutMs === undefined ? undefined : timeoutSignal(
    timeoutMs,
    ctx.signal,
    `no complete answer within ${timeoutMs / 1000} s (--timeout)`,
  );
  const signal = overall?.signal ?? ctx.signal;
  const modelName = options.model ?? settings.model ?? model.DEFAULT_MODEL;
  const threadId = session?.id ?? crypto.randomUUID();
  const log = ctx.logger.getChild("model");
  const headers = { ...settings.provider.headers };
  for (const [name, variable] of Object.entries(settings.provider.envHeaders)) {
    const value = ctx.env.get(variable);
    if (!value) continue;
    ctx.secrets.register(value);
    headers[name] = value;
  }

  let waiting = startProgress(ctx, WAITING);
  const target = {
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    redact: (text: string) => ctx.secrets.redact(text),
    beforeOutput: () => waiting.stop(),
  };
  const renderer = options.json
    ? new model.JsonlRenderer(target, new model.ExecEventWriter(threadId))
    : new model.TextRenderer(target);
  try {
    await renderer.start();
    const auth = await authProvider(ctx, options.store, settings.provider, {
      signal,
      idleMs: idleTimeoutMs,
    });
    const result = await model.streamResponse({
      fetch: ctx.fetch,
      auth,
      signal,
      connectTimeoutMs,
      idleTimeoutMs,
      policy: settings.provider.requestMaxRetries === undefined
        ? undefined
        : { maxRetries: settings.provider.requestMaxRetries },
      logger: log,
      onEvents: (events) => renderer.events(events),
      onRetry: async (notice) => {
        await renderer.retry(notice);
        waiting = startProgress(ctx, WAITING);
      },
      buildRequest: (credential) =>
        model.buildResponsesRequest({
          auth: credential,
          baseUrl,
          model: modelName,
          instructions: options.instructions,
          prompt,
          images,
          history: session && model.sessionHistory(session),
          reasoning: { effort: settings.reasoningEffort, summary: settings.reasoningSummary },
          verbosity: settings.verbosity,
          outputSchema,
          sessionId: threadId,
          version: ctx.version,
          os: ctx.os,
          arch: ctx.arch,
          organization: ctx.env.get("OPENAI_ORGANIZATION"),
          project: ctx.env.get("OPENAI_PROJECT"),
          headers,
          query: settings.provider.query,
        }),
    });
    waiting.stop();
    const last = renderer.settle();
    log.info("response {id} usage {usage}", { id: result.responseId, usage: result.usage });
    if (options.outputLastMessage !== undefined) {
      await writeLastMessage(ctx, options.outputLastMessage, last);
    }
    if (outputSchema) checkJsonAnswer(last);
    await renderer.finish(result.usage);
    if (!options.ephemeral) {
      await model.saveTurn(codexHome, threadId, {
        model: modelName,
        input: model.userMessage(prompt, images),
        answers: renderer.messages,
      }, { signal: ctx.signal }).catch(async (error) => {
        if (ctx.signal.aborted) throw error;
        const why = error instanceof Error ? error.message : String(error);
        await ctx.stderr.write(`warning: the session was not saved: ${why}\n`);
      });
    }
    return 0;
  } catch (error) {
    waiting.stop();
    await renderer.fail(error);
    throw error;
  }
}

/** `--output-schema`: the final message must be JSON (the raw text stays in -o and --json). */
function checkJsonAnswer(last: string | undefined): void {
  if (last === undefined) {
    throw new CdxError("the model sent no final message (--output-schema)");
  }
  try {
    JSON.parse(last);
  } catch (error) {
    throw new CdxError(
      `the model's final message is not valid JSON (--output-schema): ${(error as Error).message}`,
      { hint: "the raw text is in the -o file and in --json's item.completed event" },
    );
  }
}

/** `-o FILE`: the last message, or an empty file and a warning, as codex exec does. */
async function writeLastMessage(ctx: Context, path: string, text: string | undefined) {
  try {
    await Deno.writeTextFile(path, text ?? "");
  } catch (error) {
    throw fileError(error, "cannot write the last message (-o)", path);
  }
  if (text === undefined) {
    await ctx.stderr.write(`Warning: no last agent message; wrote empty content to ${path}\n`);
  }
}
