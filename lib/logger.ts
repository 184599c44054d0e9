/**
 * The logger type every module takes (through the Context): a leaf, so the
 * logging machinery behind it (lib/log.ts) can change without touching its
 * users.
 *
 * @module
 */
export type { Logger } from "@logtape/logtape";
