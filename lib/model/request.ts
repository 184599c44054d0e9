/**
 * The Responses API request `cdx run` sends: URL per credential kind, the
 * headers codex exec sends, and the streaming body — the prompt as one user
 * message (images first, wrapped as codex wraps them), earlier turns of a
 * continued session before it, and the `reasoning` / `text` settings
 * (`--output-schema` becomes `text.format` exactly as codex 0.169.0 sends it).
 *
 * @module
 */

/**
 * The credential a model request carries. `apikey` and `chatgpt` are
 * structurally `RequestAuth` of `lib/auth` (declared here so that
 * `lib/model` does not depend on the credential store); `none` is for a
 * configured model provider that takes no credential (no `env_key`, no
 * `requires_openai_auth`): cdx never sends an OpenAI credential there.
 */
export type ModelAuth =
  | { kind: "apikey"; apiKey: string; source: "env" | "stored" }
  | { kind: "chatgpt"; accessToken: string; accountId?: string }
  | { kind: "none" };

/** Model base URL for API keys (`/responses` is appended). */
export const API_KEY_BASE_URL = "https://api.openai.com/v1";
/** Model base URL for ChatGPT tokens (`/responses` is appended). */
export const CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/codex";
/** The originator codex exec sends; the backend uses it to tell clients apart. */
export const ORIGINATOR = "codex_exec";
/**
 * The model used when neither `--model` nor config.toml's `model` says
 * otherwise: the one codex 0.169.0 sends with no `model` configured
 * (observed against the fake server), so cdx and codex agree by default.
 */
export const DEFAULT_MODEL = "gpt-6.1-sol";
/**
 * Instructions sent when `--instructions` is not given: the ChatGPT backend
 * rejects requests without instructions.
 */
export const DEFAULT_INSTRUCTIONS =
  "You are a helpful assistant answering a prompt from a command-line script. Answer concisely in plain text.";
/** The `text.format.name` codex gives an `--output-schema` schema. */
export const OUTPUT_SCHEMA_NAME = "codex_output_schema";

/** One content part of an input message. */
export type InputContent =
  | { type: "input_text"; text: string }
  | { type: "input_image"; image_url: string; detail: "high" }
  | { type: "output_text"; text: string };

/** One input item: a message of the conversation. */
export interface InputMessage {
  /** Always `message`. */
  type: "message";
  /** Who said it. */
  role: "user" | "assistant";
  /** Its parts: text and images (user), output text (assistant). */
  content: InputContent[];
}

/** An image for the prompt, already read and checked. */
export interface PromptImage {
  /** The path as given on the command line (codex quotes it to the model). */
  path: string;
  /** `image/png`, `image/jpeg`, `image/gif` or `image/webp`. */
  mime: string;
  /** The file's bytes, base64. */
  base64: string;
}

/** `reasoning` of the body (`model_reasoning_effort`, `model_reasoning_summary`). */
export interface ReasoningSettings {
  /** `none` … `xhigh`. */
  effort?: string;
  /** `auto`, `concise`, `detailed` or `none`. */
  summary?: string;
}

/** What a request is built from. */
export interface ResponsesRequestParams {
  /** The credential sent as `Authorization: Bearer …` (none for `kind: "none"`). */
  auth: ModelAuth;
  /** `--base-url` / provider / `OPENAI_BASE_URL` / config `openai_base_url`; else per auth kind. */
  baseUrl?: string;
  /** The model name. */
  model: string;
  /** System instructions (default {@linkcode DEFAULT_INSTRUCTIONS}). */
  instructions?: string;
  /** The prompt text, the last part of the user message. */
  prompt: string;
  /** Images sent before the prompt, in the user message (`-i`). */
  images?: readonly PromptImage[];
  /** Earlier turns of a continued session, sent before the new message. */
  history?: readonly InputMessage[];
  /** `reasoning` of the body (`model_reasoning_effort`, `model_reasoning_summary`). */
  reasoning?: ReasoningSettings;
  /** `text.verbosity` (`model_verbosity`). */
  verbosity?: string;
  /** `--output-schema`: the schema the final message must follow (`text.format`). */
  outputSchema?: Record<string, unknown>;
  /** Thread / session id (a UUID), sent as `session-id`, `thread-id` and `x-client-request-id`. */
  sessionId: string;
  /** cdx's version, for the User-Agent. */
  version: string;
  /** `Deno.build.os`-style OS name and arch, for the User-Agent. */
  os: string;
  /** CPU architecture, for the User-Agent. */
  arch: string;
  /** `OPENAI_ORGANIZATION` / `OPENAI_PROJECT` (API keys only). */
  organization?: string;
  /** `OPENAI_PROJECT` (API keys only). */
  project?: string;
  /** A model provider's `http_headers` / `env_http_headers`. */
  headers?: Readonly<Record<string, string>>;
  /** A model provider's `query_params`. */
  query?: Readonly<Record<string, string>>;
}

/** A built request. */
export interface ResponsesRequest {
  /** `{base}/responses` with the provider's query parameters. */
  url: string;
  /** codex exec's headers, the credential and the provider's headers. */
  headers: Headers;
  /** The JSON body. */
  body: string;
}

/** The `/responses` URL for a base URL (trailing slashes trimmed), with query parameters. */
export function responsesUrl(baseUrl: string, query?: Readonly<Record<string, string>>): string {
  const url = `${baseUrl.replace(/\/+$/, "")}/responses`;
  if (!query || Object.keys(query).length === 0) return url;
  return `${url}?${new URLSearchParams(query)}`;
}

/** The base URL for a credential kind when none is configured. */
export function defaultBaseUrl(auth: ModelAuth): string {
  return auth.kind === "chatgpt" ? CHATGPT_BASE_URL : API_KEY_BASE_URL;
}

/** The User-Agent: cdx's name and version, then codex's originator the way codex appends it. */
export function userAgent(version: string, os: string, arch: string): string {
  return `cdx/${version} (${os}; ${arch}) (${ORIGINATOR}; ${version})`;
}

/**
 * The user message: each image wrapped the way codex 0.169.0 wraps it
 * (`<image name=[Image #n] path="…">`, the image, `</image>`), then the prompt.
 *
 * @example
 * ```ts
 * userMessage("describe", [{ path: "a.png", mime: "image/png", base64: "iVBOR…" }]).content.length; // 4
 * ```
 */
export function userMessage(prompt: string, images: readonly PromptImage[] = []): InputMessage {
  const content: InputContent[] = [];
  images.forEach((image, i) => {
    content.push(
      { type: "input_text", text: `<image name=[Image #${i + 1}] path="${image.path}">` },
      {
        type: "input_image",
        image_url: `data:${image.mime};base64,${image.base64}`,
        detail: "high",
      },
      { type: "input_text", text: "</image>" },
    );
  });
  content.push({ type: "input_text", text: prompt });
  return { type: "message", role: "user", content };
}

/** An assistant message of an earlier turn, as the Responses API takes it back as input. */
export function assistantMessage(text: string): InputMessage {
  return { type: "message", role: "assistant", content: [{ type: "output_text", text }] };
}

/** The JSON body: earlier turns and the new user message, streamed, not stored. */
export function responsesBody(
  params: Omit<ResponsesRequestParams, "auth" | "sessionId" | "version" | "os" | "arch">,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: params.model,
    instructions: params.instructions ?? DEFAULT_INSTRUCTIONS,
    input: [...(params.history ?? []), userMessage(params.prompt, params.images)],
  };
  if (params.reasoning && (params.reasoning.effort || params.reasoning.summary)) {
    body.reasoning = { ...params.reasoning };
  }
  const text: Record<string, unknown> = {};
  if (params.verbosity) text.verbosity = params.verbosity;
  if (params.outputSchema) {
    text.format = {
      type: "json_schema",
      strict: true,
      schema: params.outputSchema,
      name: OUTPUT_SCHEMA_NAME,
    };
  }
  if (Object.keys(text).length) body.text = text;
  body.stream = true;
  body.store = false;
  return body;
}

/**
 * Builds the request.
 *
 * @example
 * ```ts
 * const req = buildResponsesRequest({ auth, model: "gpt-5", prompt: "hi", sessionId,
 *   version: "0.1.0", os: "linux", arch: "x86_64" });
 * await fetch(req.url, { method: "POST", headers: req.headers, body: req.body });
 * ```
 */
export function buildResponsesRequest(params: ResponsesRequestParams): ResponsesRequest {
  const { auth } = params;
  const headers = new Headers(params.headers);
  if (auth.kind !== "none") {
    headers.set(
      "authorization",
      `Bearer ${auth.kind === "chatgpt" ? auth.accessToken : auth.apiKey}`,
    );
  }
  headers.set("accept", "text/event-stream");
  headers.set("content-type", "application/json");
  headers.set("originator", ORIGINATOR);
  headers.set("user-agent", userAgent(params.version, params.os, params.arch));
  headers.set("session-id", params.sessionId);
  headers.set("thread-id", params.sessionId);
  headers.set("x-client-request-id", params.sessionId);
  if (auth.kind === "chatgpt" && auth.accountId) {
    headers.set("chatgpt-account-id", auth.accountId);
  }
  if (auth.kind === "apikey") {
    if (params.organization) headers.set("openai-organization", params.organization);
    if (params.project) headers.set("openai-project", params.project);
  }
  return {
    url: responsesUrl(params.baseUrl || defaultBaseUrl(auth), params.query),
    headers,
    body: JSON.stringify(responsesBody(params)),
  };
}
