/**
 * The model client of `cdx run`: Responses API request, SSE parser, retrying
 * streaming client, and codex exec's JSONL events.
 *
 * @module
 */
export { parseSseStream, parseSseText, type SseEvent, SseParser } from "./sse.ts";
export {
  API_KEY_BASE_URL,
  buildResponsesRequest,
  CHATGPT_BASE_URL,
  DEFAULT_INSTRUCTIONS,
  DEFAULT_MODEL,
  defaultBaseUrl,
  type ModelAuth,
  ORIGINATOR,
  responsesBody,
  type ResponsesRequest,
  type ResponsesRequestParams,
  responsesUrl,
  userAgent,
} from "./request.ts";
export {
  type AuthProvider,
  backoffMs,
  ModelError,
  parseErrorBody,
  parseRetryAfter,
  parseTryAgainIn,
  type RetryNotice,
  type StreamOptions,
  streamResponse,
  type StreamResult,
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
