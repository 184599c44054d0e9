/**
 * The chunked item formats: the legacy `CODEX_CHUNKED:<count>:<first>`
 * (chunks `<account>:1…`) that older cdx versions wrote, and the generation
 * format `CDX_CHUNKED:<gen>:<count>:<first>` (chunks `<account>:<gen>:<i>`)
 * cdx writes where chunking must stay (Windows).
 *
 * @module
 */
import { KeyringError } from "./store.ts";

/** Prefix of a legacy chunk header (codex's proposed `CHUNKED_HEADER_PREFIX`). */
export const CHUNKED_HEADER_PREFIX = "CODEX_CHUNKED:";
/** Prefix of a generation chunk header written by cdx. */
export const GENERATION_HEADER_PREFIX = "CDX_CHUNKED:";

/** Account of legacy chunk `index`. */
export function chunkAccount(account: string, index: number): string {
  return `${account}:${index}`;
}

/** Account of chunk `index` of generation `gen`. */
export function generationChunkAccount(account: string, gen: string, index: number): string {
  return `${account}:${gen}:${index}`;
}

/** A parsed chunk header. */
export interface ChunkHeader {
  /** How many items hold the value, the main item included (1…9999). */
  count: number;
  /** The piece of the value stored in the main item after the header. */
  first: string;
  /** The generation (undefined for a legacy header, whose chunks are `<account>:<i>`). */
  gen?: string;
}

function parseCount(text: string): number {
  const count = Number(text);
  if (!/^[0-9]{1,4}$/.test(text) || !Number.isSafeInteger(count) || count < 1) {
    throw new KeyringError("corrupt chunked keychain item: bad chunk count in its header");
  }
  return count;
}

/**
 * Parses a main item. `undefined` when it is a plain value (a legacy prefix
 * without a second `:` is plain, as codex's proposal had it); throws on a
 * header whose count is not a positive integer.
 *
 * @example
 * ```ts
 * parseChunkHeader("CDX_CHUNKED:1a2b3c4d:3:abc"); // { gen: "1a2b3c4d", count: 3, first: "abc" }
 * ```
 */
export function parseChunkHeader(main: string): ChunkHeader | undefined {
  if (main.startsWith(GENERATION_HEADER_PREFIX)) {
    const m = /^([0-9a-f]{8}):([^:]*):/.exec(main.slice(GENERATION_HEADER_PREFIX.length));
    if (!m) throw new KeyringError("corrupt chunked keychain item: bad generation header");
    return {
      gen: m[1],
      count: parseCount(m[2]),
      first: main.slice(GENERATION_HEADER_PREFIX.length + m[0].length),
    };
  }
  if (!main.startsWith(CHUNKED_HEADER_PREFIX)) return undefined;
  const rest = main.slice(CHUNKED_HEADER_PREFIX.length);
  const colon = rest.indexOf(":");
  if (colon < 0) return undefined;
  return { count: parseCount(rest.slice(0, colon)), first: rest.slice(colon + 1) };
}

/**
 * Splits `value` into pieces whose sizes (per `size`) fit: the first piece
 * leaves room for `headerFor(count)`. Splits on code points, never inside one.
 */
export function splitIntoChunks(
  value: string,
  max: number,
  size: (text: string) => number,
  headerFor: (count: number) => string,
): string[] {
  const codePoints = Array.from(value);
  // The header's length depends on the number of digits of the count: retry
  // with a larger guess until it is stable.
  for (let digits = 1; digits < 5; digits++) {
    const headerSize = size(headerFor(10 ** digits - 1));
    const pieces: string[] = [];
    let current = "";
    let currentSize = 0;
    let limit = max - headerSize;
    for (const cp of codePoints) {
      const cost = size(cp);
      if (cost > limit && pieces.length === 0 && currentSize === 0) {
        throw new KeyringError("keychain item limit too small for chunking");
      }
      if (currentSize + cost > limit) {
        pieces.push(current);
        current = "";
        currentSize = 0;
        limit = max;
      }
      current += cp;
      currentSize += cost;
    }
    pieces.push(current);
    if (String(pieces.length).length <= digits) return pieces;
  }
  throw new KeyringError("value too large for the keychain");
}
