/**
 * Public surface of the feedback module: log capture (ring buffer sink with
 * redaction), the persisted log, the bundle, and the Sentry upload.
 *
 * `cli.ts` imports `capture.ts` directly (it runs for every command and must
 * stay light); everything else goes through this module.
 *
 * @module
 */
export { ByteRing, DEFAULT_RING_CAPACITY } from "./ring.ts";
export { MASK, maskArgv, Redactor, redactPatterns } from "../redact.ts";
export {
  DEFAULT_LOG_MAX_BYTES,
  FEEDBACK_TAGS_CATEGORY,
  FeedbackCapture,
  installedCapture,
  installFeedbackCapture,
  MAX_TAG_KEYS,
  persistSettings,
} from "./capture.ts";
export type { InstalledCapture, PersistSettings } from "./capture.ts";
export {
  appendBlock,
  formatBlock,
  type LogBlock,
  logFilePath,
  parseBlocks,
  readLog,
} from "./persist.ts";
export { buildZip, BUNDLE_FILES, formatSize, MAX_BUNDLE_LOG_BYTES, selectLogs } from "./bundle.ts";
export {
  buildEnvelope,
  buildFeedbackEvent,
  type Classification,
  CLASSIFICATION_DISPLAY,
  type Dsn,
  parseDsn,
  sentryAuthHeader,
} from "./envelope.ts";
export { DEFAULT_UPLOAD_TIMEOUT_MS, uploadEnvelope, type UploadReceipt } from "./upload.ts";
export { keychainHealth, maskConfigToml, proxyVariablesSet } from "./diagnostics.ts";
export {
  feedbackDsn,
  feedbackTimeoutMs,
  type PreparedReport,
  prepareReport,
  reportEnvelope,
  type ReportRequest,
  uploadReport,
  writeBundle,
} from "./report.ts";
