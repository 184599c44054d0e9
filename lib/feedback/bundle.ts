/**
 * The feedback bundle: one zip (fflate) with `metadata.json`,
 * `cdx-logs.log` (recent invocations, at most 4 MiB, when logs are
 * included) and `diagnostics.txt`.
 *
 * @module
 */
import { zipSync } from "fflate";
import { parseBlocks } from "./blocks.ts";
import type { SecretRegistry } from "../secrets.ts";

/** Largest `cdx-logs.log` in a bundle: 4 MiB. */
export const MAX_BUNDLE_LOG_BYTES = 4 * 1024 * 1024;

/** Names of the files in a bundle. */
export const BUNDLE_FILES = {
  metadata: "metadata.json",
  logs: "cdx-logs.log",
  diagnostics: "diagnostics.txt",
} as const;

/** One file of the bundle. */
export interface BundleFile {
  /** File name inside the zip. */
  name: string;
  /** File content. */
  data: Uint8Array;
}

const encoder = new TextEncoder();

/** The logs of recent invocations selected for a bundle. */
export interface SelectedLogs {
  /** The selected blocks, oldest first, redacted. */
  text: string;
  /** Ids of the invocations included, oldest first. */
  invocationIds: string[];
}

/**
 * The newest whole invocation blocks of cdx.log plus the current invocation's
 * block, within `maxBytes`, redacted once more (defence in depth: exact values
 * this process knows, and every pattern). When even the newest block alone is
 * too large, its tail is kept.
 */
export function selectLogs(
  persisted: string,
  currentBlock: string,
  secrets: Pick<SecretRegistry, "redact">,
  maxBytes: number = MAX_BUNDLE_LOG_BYTES,
): SelectedLogs {
  const blocks = [
    ...parseBlocks(persisted).filter((b) => b.complete),
    ...parseBlocks(currentBlock),
  ];
  const chosen: string[] = [];
  const ids: string[] = [];
  let used = 0;
  for (let i = blocks.length - 1; i >= 0; i--) {
    const raw = secrets.redact(blocks[i].raw);
    const size = encoder.encode(raw).length;
    if (used + size > maxBytes) {
      if (chosen.length === 0) {
        chosen.push(tailBytes(raw, maxBytes));
        ids.push(blocks[i].id);
      }
      break;
    }
    chosen.unshift(raw);
    ids.unshift(blocks[i].id);
    used += size;
  }
  return { text: chosen.join(""), invocationIds: ids };
}

function tailBytes(text: string, maxBytes: number): string {
  const bytes = encoder.encode(text);
  let tail = new TextDecoder().decode(bytes.subarray(bytes.length - maxBytes));
  const nl = tail.indexOf("\n");
  if (nl >= 0) tail = tail.slice(nl + 1);
  while (encoder.encode(tail).length > maxBytes) tail = tail.slice(1);
  return tail;
}

/** Builds the zip. Entries are deflated and dated `mtime`. */
export function buildZip(files: readonly BundleFile[], mtime: Date = new Date()): Uint8Array {
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const file of files) entries[file.name] = [file.data, { mtime }];
  return zipSync(entries, { level: 6 });
}

/** A text file for the bundle. */
export function textFile(name: string, text: string): BundleFile {
  return { name, data: encoder.encode(text) };
}

/** `1.2 KiB`, `3.4 MiB`, `512 B`. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
