/**
 * The model side of `cdx run`: its inputs (prompt, images, output schema,
 * `-c` settings, sessions), the Responses API request, the SSE parser, the
 * streaming client with its retry policy and 401 recovery, and the two
 * renderers of its output (text, codex exec's JSONL events).
 *
 * @module
 */
// Types only: the parser module brings an npm package and is loaded when a
// response arrives (stream.ts); import it from lib/model/sse.ts directly.
export type { SseEvent, SseLimitError, SseLimits, SseParser } from "./sse.ts";
export {
  API_KEY_BASE_URL,
  assistantMessage,
  buildResponsesRequest,
  CHATGPT_BASE_URL,
  DEFAULT_INSTRUCTIONS,
  DEFAULT_MODEL,
  defaultBaseUrl,
  type InputContent,
  type InputMessage,
  type ModelAuth,
  ORIGINATOR,
  OUTPUT_SCHEMA_NAME,
  type PromptImage,
  type ReasoningSettings,
  responsesBody,
  type ResponsesRequest,
  type ResponsesRequestParams,
  responsesUrl,
  userAgent,
  userMessage,
} from "./request.ts";
export {
  classifyHttpError,
  classifyTransportError,
  clip,
  ModelError,
  parseErrorBody,
  parseRetryAfter,
  parseTryAgainIn,
} from "./http_error.ts";
export {
  decideRetry,
  DEFAULT_RETRY_POLICY,
  giveUpError,
  type ModelRetryPolicy,
} from "./retry_policy.ts";
export { IdleWatchdog, readEventStream, type StreamResult } from "./stream.ts";
export {
  type AuthProvider,
  type RetryNotice,
  type StreamOptions,
  streamResponse,
} from "./client.ts";
export {
  type ExecEvent,
  ExecEventWriter,
  interpretEvent,
  jsonLine,
  messageText,
  type ModelEvent,
  parseUsage,
  ProtocolError,
  type ResponseFailure,
  type ResponseUsage,
} from "./events.ts";
export {
  checkOutputFile,
  loadImages,
  loadOutputSchema,
  MAX_IMAGE_BYTES,
  MAX_PROMPT_BYTES,
  MAX_SCHEMA_BYTES,
  resolvePrompt,
  sniffImage,
} from "./inputs.ts";
export {
  applyConfigOverrides,
  type ConfigOverride,
  OVERRIDE_KEYS,
  parseConfigOverride,
  type ProviderSettings,
  REASONING_EFFORTS,
  type RunSettings,
  runSettings,
} from "./settings.ts";
export {
  loadSession,
  saveTurn,
  type SaveTurnOptions,
  type Session,
  SESSION_LIMITS,
  sessionHistory,
  type SessionLimits,
  sessionsDir,
  type SessionTurn,
} from "./session.ts";
export {
  JsonlRenderer,
  type RenderTarget,
  type RunRenderer,
  TextRenderer,
  Transcript,
} from "./render.ts";
