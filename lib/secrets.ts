/**
 * The one list of secret values this process has handled. Every secret cdx
 * reads or receives (API keys, tokens, device codes, verifiers) is registered
 * here at once; error messages, logs and feedback bundles pass through
 * {@linkcode SecretRegistry.redact} so the value never leaves the process.
 *
 * Redaction sits on every output path, so it must never throw and its cost
 * must not grow with what was registered. No pattern is ever built from a
 * secret (a RegExp of the values once crashed on a 32 K value and printed
 * them all in its error message). Instead one pass over the text computes a
 * rolling hash of its characters and looks each position up in bitmaps:
 *
 * - a value shorter than {@linkcode LONG_VALUE} is indexed by its first four
 *   characters and masked where it occurs whole;
 * - a longer value is indexed by 8-character windows every 16 characters,
 *   and any run of {@linkcode MIN_FRAGMENT} or more of its characters is
 *   masked: a 1 MB secret costs 64 K index entries, and a truncated or
 *   wrapped copy of a token is masked too.
 *
 * The cost per text is linear in its length, whatever the number and size
 * of the values. Past {@linkcode MAX_VALUES} values or
 * {@linkcode MAX_TOTAL_CHARS} characters the registry fails closed: every
 * text is replaced by {@linkcode MASK_FAILED}, never printed raw.
 *
 * @module
 */
import { MASK, redactPatterns } from "./redact.ts";

export { MASK };

/** Values shorter than this are not registered (too likely to match innocent text). */
export const MIN_SECRET_LENGTH = 6;
/** Values this long or longer are masked by fragments (any run of {@linkcode MIN_FRAGMENT}). */
export const LONG_VALUE = 64;
/** The shortest run of a long value that is masked wherever it appears. */
export const MIN_FRAGMENT = 24;
/** Most values the registry holds before it fails closed. */
export const MAX_VALUES = 10_000;
/** Most characters (all values together) the registry holds before it fails closed. */
export const MAX_TOTAL_CHARS = 8 * 1024 * 1024;
/** What a text becomes when it cannot be masked safely. */
export const MASK_FAILED = "[REDACTED: cdx could not mask this text safely]";

/** Window length and spacing of the fragment index (runs of WINDOW + STRIDE - 1 are always found). */
const WINDOW = 8;
const STRIDE = 16;
const FRAGMENT_BITS = 20;

/** Whether bit `h` is set. */
function hasBit(bits: Int32Array, h: number): boolean {
  return (bits[h >>> 5] & (1 << (h & 31))) !== 0;
}

function setBit(bits: Int32Array, h: number): void {
  bits[h >>> 5] |= 1 << (h & 31);
}

/** The 16-bit hash of four characters, as the scan's rolling hash computes it. */
function hash4(text: string, at: number): number {
  return ((text.charCodeAt(at) << 12) ^ (text.charCodeAt(at + 1) << 8) ^
    (text.charCodeAt(at + 2) << 4) ^ text.charCodeAt(at + 3)) & 0xffff;
}

/** Bitmap slot of an 8-character window from its two 4-character hashes. */
function windowSlot(first: number, second: number): number {
  return Math.imul((first << 16) | second, 0x9e3779b1) >>> (32 - FRAGMENT_BITS);
}

/**
 * Exact-value secret masking, then pattern masking (lib/redact.ts).
 *
 * @example
 * ```ts
 * const secrets = new SecretRegistry();
 * secrets.register("s3cret-value");
 * secrets.redact("got s3cret-value"); // "got [REDACTED]"
 * secrets.redact("Authorization: Bearer abcdefghijk"); // "Authorization: [REDACTED]"
 * ```
 */
export class SecretRegistry {
  #values = new Set<string>();
  #totalChars = 0;
  #failed = false;
  /** Short values by the hash of their first four characters, longest first. */
  #short = new Map<number, string[]>();
  #shortBits = new Int32Array(65536 / 32);
  /** Long values, and their windows by bitmap slot: [value index, offset] pairs. */
  #long: string[] = [];
  #windows = new Map<number, number[]>();
  #windowBits: Int32Array | undefined;

  /** Registers a secret (ignored when empty or too short to mask safely). */
  register(value: string | null | undefined): void {
    if (!value || typeof value !== "string") return;
    const trimmed = value.trim();
    for (const v of value === trimmed ? [value] : [value, trimmed]) {
      if (v.length < MIN_SECRET_LENGTH || this.#values.has(v)) continue;
      this.#values.add(v);
      this.#totalChars += v.length;
      if (this.#values.size > MAX_VALUES || this.#totalChars > MAX_TOTAL_CHARS) {
        // Forgetting a value would leak it; masking everything cannot.
        this.#failed = true;
        continue;
      }
      if (v.length < LONG_VALUE) this.#indexShort(v);
      else this.#indexLong(v);
    }
  }

  /** How many values are registered. */
  get size(): number {
    return this.#values.size;
  }

  #indexShort(value: string): void {
    const h = hash4(value, 0);
    setBit(this.#shortBits, h);
    const bucket = this.#short.get(h);
    if (!bucket) this.#short.set(h, [value]);
    else {
      bucket.push(value);
      bucket.sort((a, b) => b.length - a.length);
    }
  }

  #indexLong(value: string): void {
    const bits = this.#windowBits ??= new Int32Array((1 << FRAGMENT_BITS) / 32);
    const id = this.#long.push(value) - 1;
    const last = value.length - WINDOW;
    for (let offset = 0;; offset = Math.min(offset + STRIDE, last)) {
      const slot = windowSlot(hash4(value, offset), hash4(value, offset + 4));
      setBit(bits, slot);
      const entries = this.#windows.get(slot);
      if (entries) entries.push(id, offset);
      else this.#windows.set(slot, [id, offset]);
      if (offset === last) break;
    }
  }

  /**
   * Replaces every registered value in `text` (and every long value's runs
   * of {@linkcode MIN_FRAGMENT} characters) by {@linkcode MASK}. Never
   * throws: a failure yields {@linkcode MASK_FAILED}.
   */
  redactValues(text: string): string {
    try {
      if (this.#failed) return failed(text);
      if (this.#values.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
      const ranges = this.#scan(text);
      return ranges.length === 0 ? text : applyRanges(text, ranges);
    } catch {
      return failed(text);
    }
  }

  /**
   * Masks the registered values, then every secret the patterns of
   * lib/redact.ts recognise (JWTs, bearer tokens, `sk-…` keys, credential
   * headers and token fields). Never throws: a failure yields
   * {@linkcode MASK_FAILED}.
   */
  redact(text: string): string {
    try {
      return redactPatterns(this.redactValues(text));
    } catch {
      return failed(text);
    }
  }

  /** [start, end) ranges to mask, unordered, possibly overlapping. */
  #scan(text: string): number[] {
    const ranges: number[] = [];
    const n = text.length;
    const shortBits = this.#shortBits;
    const windowBits = this.#windowBits;
    const recent = [0, 0, 0, 0]; // the 4-character hashes of the last four positions
    let covered = -1; // end of the last fragment run: windows inside it need no check
    let h = 0;
    for (let i = 0; i < n; i++) {
      h = ((h << 4) ^ text.charCodeAt(i)) & 0xffff;
      if (i < 3) continue;
      if (hasBit(shortBits, h)) {
        const start = i - 3;
        for (const value of this.#short.get(h) ?? []) {
          if (text.startsWith(value, start)) {
            ranges.push(start, start + value.length);
            break;
          }
        }
      }
      if (windowBits && i >= WINDOW - 1) {
        const slot = windowSlot(recent[(i - 4) & 3], h);
        if (hasBit(windowBits, slot) && i >= covered) {
          const end = this.#matchWindow(text, i - WINDOW + 1, slot, ranges);
          if (end > covered) covered = end;
        }
      }
      recent[i & 3] = h;
    }
    return ranges;
  }

  /**
   * Checks the long values whose window hashes to `slot` against the text
   * at `start`; a real match is extended both ways to the whole common run.
   * Returns the end of the longest run masked (or -1).
   */
  #matchWindow(text: string, start: number, slot: number, ranges: number[]): number {
    const entries = this.#windows.get(slot);
    if (!entries) return -1;
    let furthest = -1;
    for (let k = 0; k < entries.length; k += 2) {
      const value = this.#long[entries[k]];
      const offset = entries[k + 1];
      let same = true;
      for (let j = 0; j < WINDOW && same; j++) {
        same = text.charCodeAt(start + j) === value.charCodeAt(offset + j);
      }
      if (!same) continue;
      let from = start;
      let at = offset;
      while (from > 0 && at > 0 && text.charCodeAt(from - 1) === value.charCodeAt(at - 1)) {
        from--;
        at--;
      }
      let to = start + WINDOW;
      let upTo = offset + WINDOW;
      while (
        to < text.length && upTo < value.length && text.charCodeAt(to) === value.charCodeAt(upTo)
      ) {
        to++;
        upTo++;
      }
      if (to - from >= MIN_FRAGMENT) {
        ranges.push(from, to);
        if (to > furthest) furthest = to;
      }
    }
    return furthest;
  }
}

/** `text` with the union of `ranges` (flat [start, end, …]) replaced by one mask each. */
function applyRanges(text: string, flat: number[]): string {
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < flat.length; i += 2) ranges.push([flat[i], flat[i + 1]]);
  ranges.sort((a, b) => a[0] - b[0]);
  let out = "";
  let at = 0;
  let i = 0;
  while (i < ranges.length) {
    let [start, end] = ranges[i++];
    while (i < ranges.length && ranges[i][0] <= end) end = Math.max(end, ranges[i++][1]);
    out += text.slice(at, start) + MASK;
    at = end;
  }
  return out + text.slice(at);
}

/** The fail-closed replacement, keeping a final line break so log lines stay lines. */
function failed(text: string): string {
  return text.endsWith("\n") ? `${MASK_FAILED}\n` : MASK_FAILED;
}
