/**
 * The Responses API request `cdx run` sends: URL per credential kind, the
 * headers codex exec sends, and the minimal streaming body.
 *
 * @module
 */

/**
 * The credential a model request carries. Structurally the same as
 * `RequestAuth` of `lib/auth`, declared here so that `lib/model` does not
 * depend on the credential store.
 */
export type ModelAuth =
  | { kind: "apikey"; apiKey: string; source: "env" | "stored" }
  | { kind: "chatgpt"; accessToken: string; accountId?: string };

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

/** What a request is built from. */
export interface ResponsesRequestParams {
  auth: ModelAuth;
  /** `--base-url` / `OPENAI_BASE_URL` / config `openai_base_url`; else per auth kind. */
  baseUrl?: string;
  model: string;
  instructions?: string;
  prompt: string;
  /** Thread / session id (a UUID), sent as `session-id`, `thread-id` and `x-client-request-id`. */
  sessionId: string;
  /** cdx's version, for the User-Agent. */
  version: string;
  /** `Deno.build.os`-style OS name and arch, for the User-Agent. */
  os: string;
  arch: string;
  /** `OPENAI_ORGANIZATION` / `OPENAI_PROJECT` (API keys only). */
  organization?: string;
  project?: string;
}

/** A built request. */
export interface ResponsesRequest {
  url: string;
  headers: Headers;
  body: string;
}

/** The `/responses` URL for a base URL (trailing slashes trimmed). */
export function responsesUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/responses`;
}

/** The base URL for a credential kind when none is configured. */
export function defaultBaseUrl(auth: ModelAuth): string {
  return auth.kind === "chatgpt" ? CHATGPT_BASE_URL : API_KEY_BASE_URL;
}

/** The User-Agent: cdx's name and version, then codex's originator the way codex appends it. */
export function userAgent(version: string, os: string, arch: string): string {
  return `cdx/${version} (${os}; ${arch}) (${ORIGINATOR}; ${version})`;
}

/** The JSON body: the prompt as one user message, streamed, not stored. */
export function responsesBody(
  params: Pick<ResponsesRequestParams, "model" | "instructions" | "prompt">,
): Record<string, unknown> {
  return {
    model: params.model,
    instructions: params.instructions ?? DEFAULT_INSTRUCTIONS,
    input: [{
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: params.prompt }],
    }],
    stream: true,
    store: false,
  };
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
  const headers = new Headers({
    "authorization": `Bearer ${auth.kind === "chatgpt" ? auth.accessToken : auth.apiKey}`,
    "accept": "text/event-stream",
    "content-type": "application/json",
    "originator": ORIGINATOR,
    "user-agent": userAgent(params.version, params.os, params.arch),
    "session-id": params.sessionId,
    "thread-id": params.sessionId,
    "x-client-request-id": params.sessionId,
  });
  if (auth.kind === "chatgpt" && auth.accountId) {
    headers.set("chatgpt-account-id", auth.accountId);
  }
  if (auth.kind === "apikey") {
    if (params.organization) headers.set("openai-organization", params.organization);
    if (params.project) headers.set("openai-project", params.project);
  }
  return {
    url: responsesUrl(params.baseUrl || defaultBaseUrl(auth)),
    headers,
    body: JSON.stringify(responsesBody(params)),
  };
}
