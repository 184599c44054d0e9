/**
 * Public surface of the feedback module: log capture (ring buffer sink with
 * redaction), the persisted log, the bundle, and the Sentry upload.
 *
 * `cli.ts` imports `capture.ts` directly (it runs for every command and must
 * stay light); everything else goes through this module, which only
 * `cdx feedback` loads.
 *
 * @module
 */
export { ByteRing, DEFAULT_RING_CAPACITY } from "./ring.ts";
export {
  FEEDBACK_TAGS_CATEGORY,
  FeedbackCapture,
  installedCapture,
  installFeedbackCapture,
  MAX_TAG_KEYS,
} from "./capture.ts";
export type { InstalledCapture } from "./capture.ts";
export { DEFAULT_LOG_MAX_BYTES, type PersistSettings, persistSettings } from "./settings.ts";
export { formatBlock, type LogBlock, parseBlocks } from "./blocks.ts";
export { appendBlock, logDir, logFilePath, readLog, UnsafeLogPathError } from "./persist.ts";
export { recordedArgv } from "./argv.ts";
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
export {
  DEFAULT_UPLOAD_TIMEOUT_MS,
  retryAfterSeconds,
  uploadEnvelope,
  type UploadReceipt,
  uploadTimeoutMs,
} from "./upload.ts";
export {
  type AuthSummary,
  describeAuthForReport,
  maskConfigToml,
  proxyVariablesSet,
} from "./diagnostics.ts";
export {
  checkBundlePath,
  feedbackDsn,
  type IncludedRun,
  type PreparedReport,
  prepareReport,
  reportEnvelope,
  type ReportRequest,
  uploadReport,
  writeBundle,
} from "./report.ts";
