/**
 * Where registered secrets occur in a text, without building a pattern from
 * them (a RegExp of the values once crashed on a 32 K value and printed them
 * all in its error message). Everything is hashed windows of characters in
 * open-addressing tables of typed arrays (and a bitmap for short values); a
 * hit is verified character by character.
 *
 * - **Sampled pass** (always): the text is hashed in 8-character windows
 *   every {@linkcode STEP} characters. A value of {@linkcode SAMPLED_MIN} or
 *   more characters is indexed by its windows at offsets 0…15, so every
 *   whole occurrence is hit. Every token-like run of a value (32 or more
 *   characters of `[A-Za-z0-9+/=_.~-]`: a token, a key, a JWT, a base64
 *   blob) is indexed by its window at every offset, so every run of
 *   {@linkcode MIN_FRAGMENT} or more of its characters is found wherever it
 *   appears (a truncated or wrapped copy of a token too); the hit is extended
 *   to the whole common run. The punctuation between runs (the structure of
 *   a registered JSON document) is not a fragment and stays readable.
 * - **Dense pass** (only when needed): a rolling hash at every position, for
 *   values shorter than {@linkcode SAMPLED_MIN} (by their first four
 *   characters) and for token runs too long to index at every offset (over
 *   {@linkcode DENSE_RUN_MAX}, or past a budget of 256 K windows: indexed
 *   every 16 characters instead, so a 1 MB secret costs 64 K entries).
 *
 * The cost is linear in the text's length, whatever the number and size of
 * the values: about one hash per 16 characters for a logged-in process.
 *
 * @module
 */

/** A value shorter than this is found by the dense pass. */
export const SAMPLED_MIN = 24;
/** The shortest run of a registered token that is masked wherever it appears. */
export const MIN_FRAGMENT = 24;
/** Token runs longer than this are indexed sparsely (every 16 characters). */
export const DENSE_RUN_MAX = 16 * 1024;
/** Text positions between two sampled windows. */
export const STEP = 16;
/** Most windows indexed at every offset (~6 MiB of tables); further runs are indexed sparsely. */
const DENSE_BUDGET = 256 * 1024;

/** Window length: a window is hashed into 32 bits, 4 bits per character step. */
const WINDOW = 8;
/** A token-like run worth fragment masking. */
const TOKEN_RUN = /[A-Za-z0-9+/=_.~-]{32,}/g;

/** `(h << 4) ^ char` over `count` characters from `at` (the dense pass's rolling hash). */
function hashAt(text: string, at: number, count: number): number {
  let h = 0;
  for (let i = at; i < at + count; i++) h = (h << 4) ^ text.charCodeAt(i);
  return h;
}

/**
 * Windows by hash: open addressing over typed arrays (no object per entry,
 * so indexing a 2 KB token costs microseconds, and a miss is one probe).
 * Each entry is the window's hash, a reference (value or run) and an offset.
 */
class WindowTable {
  #hashes = new Int32Array(1024);
  #refs = new Int32Array(1024);
  /** Offset + 1 (0 marks an empty slot). */
  #offsets = new Int32Array(1024);
  size = 0;

  /** The high bits of a multiplicative hash: as many as the capacity needs. */
  #slot(h: number): number {
    return Math.imul(h, 0x9e3779b1) >>> this.#shift;
  }
  #shift = 32 - 10;

  add(h: number, ref: number, offset: number): void {
    if ((this.size + 1) * 2 > this.#offsets.length) this.#grow();
    this.#put(h, ref, offset + 1);
    this.size++;
  }

  #put(h: number, ref: number, offsetPlusOne: number): void {
    const mask = this.#offsets.length - 1;
    let i = this.#slot(h);
    while (this.#offsets[i] !== 0) i = (i + 1) & mask;
    this.#hashes[i] = h;
    this.#refs[i] = ref;
    this.#offsets[i] = offsetPlusOne;
  }

  #grow(): void {
    const [hashes, refs, offsets] = [this.#hashes, this.#refs, this.#offsets];
    const capacity = offsets.length * 2;
    this.#hashes = new Int32Array(capacity);
    this.#refs = new Int32Array(capacity);
    this.#offsets = new Int32Array(capacity);
    this.#shift--;
    for (let i = 0; i < offsets.length; i++) {
      if (offsets[i] !== 0) this.#put(hashes[i], refs[i], offsets[i]);
    }
  }

  /** Calls `found(ref, offset)` for every entry with hash `h`. */
  lookup(h: number, found: (ref: number, offset: number) => void): void {
    const mask = this.#offsets.length - 1;
    for (let i = this.#slot(h); this.#offsets[i] !== 0; i = (i + 1) & mask) {
      if (this.#hashes[i] === h) found(this.#refs[i], this.#offsets[i] - 1);
    }
  }

  /** Whether some entry may have hash `h` (one probe when it has not). */
  mayHave(h: number): boolean {
    const mask = this.#offsets.length - 1;
    for (let i = this.#slot(h); this.#offsets[i] !== 0; i = (i + 1) & mask) {
      if (this.#hashes[i] === h) return true;
    }
    return false;
  }
}

/**
 * Registered secrets, indexed for {@linkcode SecretIndex.find}.
 *
 * @example
 * ```ts
 * const index = new SecretIndex();
 * index.add("a-secret-value-of-some-length");
 * index.find("x a-secret-value-of-some-length y"); // [2, 31]
 * ```
 */
export class SecretIndex {
  /** Values found whole by the sampled pass (ref ≥ 0 in {@linkcode #sampled}). */
  #values: string[] = [];
  /** Token runs (ref < 0 in the tables: `~ref`). */
  #runs: string[] = [];
  #sampled: WindowTable | undefined;
  /** Short values by the hash of their first four characters, longest first. */
  #short = new Map<number, string[]>();
  #shortBits: Int32Array | undefined;
  /** Windows of long runs every STEP characters, for the dense pass. */
  #sparse: WindowTable | undefined;

  /** Indexes `value` (at least 6 characters). */
  add(value: string): void {
    if (value.length < SAMPLED_MIN) this.#addShort(value);
    else {
      const table = this.#sampled ??= new WindowTable();
      const ref = this.#values.push(value) - 1;
      for (let offset = 0; offset < STEP && offset + WINDOW <= value.length; offset++) {
        table.add(hashAt(value, offset, WINDOW), ref, offset);
      }
    }
    for (const run of value.match(TOKEN_RUN) ?? []) this.#addRun(run);
  }

  #addShort(value: string): void {
    const h = hashAt(value, 0, 4) & 0xffff;
    const bits = this.#shortBits ??= new Int32Array(65536 / 32);
    bits[h >>> 5] |= 1 << (h & 31);
    const bucket = this.#short.get(h);
    if (!bucket) this.#short.set(h, [value]);
    else {
      bucket.push(value);
      bucket.sort((a, b) => b.length - a.length);
    }
  }

  #addRun(run: string): void {
    const ref = ~(this.#runs.push(run) - 1);
    const last = run.length - WINDOW;
    if (run.length <= DENSE_RUN_MAX && (this.#sampled?.size ?? 0) + run.length <= DENSE_BUDGET) {
      const table = this.#sampled ??= new WindowTable();
      for (let offset = 0; offset <= last; offset++) {
        table.add(hashAt(run, offset, WINDOW), ref, offset);
      }
      return;
    }
    const table = this.#sparse ??= new WindowTable();
    for (let offset = 0;; offset = Math.min(offset + STEP, last)) {
      table.add(hashAt(run, offset, WINDOW), ref, offset);
      if (offset === last) break;
    }
  }

  /** Whether nothing is indexed. */
  get empty(): boolean {
    return !this.#sampled && !this.#shortBits && !this.#sparse;
  }

  /** Flat `[start, end, …]` ranges of `text` to mask, unordered, possibly overlapping. */
  find(text: string): number[] {
    const ranges: number[] = [];
    const sampled = this.#sampled;
    let covered = -1; // end of the furthest run found: windows inside it need no run check
    if (sampled) {
      for (let start = 0; start + WINDOW <= text.length; start += STEP) {
        const h = hashAt(text, start, WINDOW);
        if (sampled.mayHave(h)) covered = this.#check(sampled, h, text, start, ranges, covered);
      }
    }
    if (this.#shortBits || this.#sparse) this.#dense(text, ranges);
    return ranges;
  }

  /** The dense pass: short values and sparsely indexed long runs, at every position. */
  #dense(text: string, ranges: number[]): void {
    const shortBits = this.#shortBits;
    const sparse = this.#sparse;
    let covered = -1;
    let h = 0;
    for (let i = 0; i < text.length; i++) {
      h = (h << 4) ^ text.charCodeAt(i);
      const h4 = h & 0xffff;
      if (shortBits && i >= 3 && (shortBits[h4 >>> 5] & (1 << (h4 & 31))) !== 0) {
        const start = i - 3;
        for (const value of this.#short.get(h4) ?? []) {
          if (text.startsWith(value, start)) {
            ranges.push(start, start + value.length);
            break;
          }
        }
      }
      if (sparse && i >= covered && i >= WINDOW - 1 && sparse.mayHave(h)) {
        covered = this.#check(sparse, h, text, i - WINDOW + 1, ranges, covered);
      }
    }
  }

  /**
   * Verifies the entries with hash `h` against the window of `text` at
   * `start`: a value must occur whole; a run is extended both ways to the
   * whole common run and kept when it is {@linkcode MIN_FRAGMENT} long (runs
   * are not checked inside `covered`, the end of a run already kept: a long
   * secret's copy is extended once, not once per window). Returns the new
   * `covered`.
   */
  #check(
    table: WindowTable,
    h: number,
    text: string,
    start: number,
    ranges: number[],
    covered: number,
  ): number {
    const inside = start + WINDOW <= covered;
    let furthest = covered;
    table.lookup(h, (ref, offset) => {
      if (ref >= 0) {
        const value = this.#values[ref];
        const from = start - offset;
        if (from >= 0 && text.startsWith(value, from)) ranges.push(from, from + value.length);
        return;
      }
      if (inside) return;
      const run = this.#runs[~ref];
      for (let j = 0; j < WINDOW; j++) {
        if (text.charCodeAt(start + j) !== run.charCodeAt(offset + j)) return;
      }
      let from = start;
      let at = offset;
      while (from > 0 && at > 0 && text.charCodeAt(from - 1) === run.charCodeAt(at - 1)) {
        from--;
        at--;
      }
      let to = start + WINDOW;
      let upTo = offset + WINDOW;
      while (
        to < text.length && upTo < run.length && text.charCodeAt(to) === run.charCodeAt(upTo)
      ) {
        to++;
        upTo++;
      }
      if (to - from >= MIN_FRAGMENT) {
        ranges.push(from, to);
        if (to > furthest) furthest = to;
      }
    });
    return furthest;
  }
}
