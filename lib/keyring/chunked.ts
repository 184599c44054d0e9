/**
 * Backend-agnostic chunking, codex's scheme (`keyring-store/src/lib.rs`):
 * a value too large for one item is stored as a main item
 * `CODEX_CHUNKED:<count>:<first chunk>` plus items `<account>:1` …
 * `<account>:<count-1>` holding the rest, in order. `<count>` counts every
 * piece, the first included.
 *
 * Unlike codex, the chunks are written first and the header last, so a
 * reader never sees a header whose chunks are missing, and a missing or
 * corrupt chunk is a {@linkcode KeyringError}, never a wrong value.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import { KeyringError, type KeyringStore } from "./store.ts";

/** Prefix of a chunk header (codex's `CHUNKED_HEADER_PREFIX`). */
export const CHUNKED_HEADER_PREFIX = "CODEX_CHUNKED:";

/** Account of chunk `index` (codex's `get_chunk_key`). */
export function chunkAccount(account: string, index: number): string {
  return `${account}:${index}`;
}

/**
 * A keychain backend that stores one value per item, with a size limit the
 * chunking wrapper must respect.
 */
export interface RawKeyring extends KeyringStore {
  /** Largest {@linkcode valueSize} one item can hold for this service/account. */
  maxValueSize(service: string, account: string): number;
  /** Size of `value` in the backend's unit (UTF-8 bytes, UTF-16 bytes, quoted bytes); additive over code points. */
  valueSize(value: string): number;
  /**
   * Optional transform of a whole value before it is stored (and chunked),
   * for characters a backend cannot carry (macOS: line breaks). Must leave
   * values codex writes unchanged.
   */
  encodeValue?(value: string): string;
  /** Inverse of {@linkcode encodeValue}, applied after the chunks are joined. */
  decodeValue?(stored: string): string;
  /**
   * Optional cheaper `load` that may report an unreadable (locked) item as
   * absent. Used only to find chunks of a previous value right before a call
   * that detects a lock itself (store/clear), saving the locked check.
   */
  peek?(service: string, account: string): Promise<string | undefined>;
}

/** A parsed chunk header. */
export interface ChunkHeader {
  count: number;
  first: string;
}

/**
 * Parses a main item. `undefined` when it is a plain value (codex also treats
 * `CODEX_CHUNKED:` without a second `:` as plain); throws on a header whose
 * count is not a positive integer.
 */
export function parseChunkHeader(main: string): ChunkHeader | undefined {
  if (!main.startsWith(CHUNKED_HEADER_PREFIX)) return undefined;
  const rest = main.slice(CHUNKED_HEADER_PREFIX.length);
  const colon = rest.indexOf(":");
  if (colon < 0) return undefined;
  const countText = rest.slice(0, colon);
  const count = Number(countText);
  if (!/^[0-9]{1,4}$/.test(countText) || !Number.isSafeInteger(count) || count < 1) {
    throw new KeyringError("corrupt chunked keychain item: bad chunk count in its header");
  }
  return { count, first: rest.slice(colon + 1) };
}

/**
 * Splits `value` into pieces whose sizes (per `size`) fit: the first piece
 * leaves room for its header. Splits on code points, never inside one.
 */
export function splitIntoChunks(
  value: string,
  max: number,
  size: (text: string) => number,
): string[] {
  const codePoints = Array.from(value);
  // The header's length depends on the number of digits of the count: retry
  // with a larger guess until it is stable.
  for (let digits = 1; digits < 8; digits++) {
    const headerSize = size(`${CHUNKED_HEADER_PREFIX}${"9".repeat(digits)}:`);
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

/** Where values read from or written to the keychain are registered for masking. */
export interface SecretSink {
  register(value: string): void;
}

/** Options of {@linkcode ChunkedKeyringStore}. */
export interface ChunkedKeyringOptions {
  logger?: Logger;
  /** Every value loaded or saved is registered here at once (the Context's `secrets`). */
  secrets?: SecretSink;
}

/**
 * Wraps a {@linkcode RawKeyring} with chunking. A value that fits is one
 * item (one backend call to load it); a value that does not, or that itself
 * starts with the header prefix, is chunked.
 *
 * Backend calls per operation for a value that fits: `load` 1; `delete` 2
 * (peek at the header to find chunks, then delete); `save` 1 peek (to remove
 * chunks of a previous, longer value) + the backend's save (secret-tool:
 * store + read-back).
 *
 * @example
 * ```ts
 * const store = new ChunkedKeyringStore(new SecretToolKeyring({ runner, env }));
 * await store.save("Codex Auth", "cli|abc", bigJson); // chunks if > 8191 bytes
 * ```
 */
export class ChunkedKeyringStore implements KeyringStore {
  readonly #inner: RawKeyring;
  readonly #logger?: Logger;
  readonly #secrets?: SecretSink;

  constructor(inner: RawKeyring, options: ChunkedKeyringOptions = {}) {
    this.#inner = inner;
    this.#logger = options.logger;
    this.#secrets = options.secrets;
  }

  /** The wrapped backend. */
  get inner(): RawKeyring {
    return this.#inner;
  }

  describe(): string {
    return this.#inner.describe();
  }

  async load(service: string, account: string): Promise<string | undefined> {
    const value = await this.#loadJoined(service, account);
    if (value !== undefined) this.#secrets?.register(value);
    return value;
  }

  async #loadJoined(service: string, account: string): Promise<string | undefined> {
    const main = await this.#inner.load(service, account);
    if (main === undefined) return undefined;
    const header = parseChunkHeader(main);
    if (!header) return this.#decode(main);
    let value = header.first;
    for (let i = 1; i < header.count; i++) {
      const chunk = await this.#inner.load(service, chunkAccount(account, i));
      if (chunk === undefined) {
        throw new KeyringError(
          `corrupt chunked keychain item: chunk ${i} of ${header.count} is missing`,
        );
      }
      value += chunk;
    }
    this.#logger?.debug("loaded chunked item {account} ({count} chunks)", {
      account,
      count: header.count,
    });
    return this.#decode(value);
  }

  #decode(stored: string): string {
    return this.#inner.decodeValue ? this.#inner.decodeValue(stored) : stored;
  }

  async save(service: string, account: string, original: string): Promise<void> {
    this.#secrets?.register(original);
    const value = this.#inner.encodeValue ? this.#inner.encodeValue(original) : original;
    const oldCount = await this.#chunkCount(service, account);
    // The limit may depend on the account (macOS: the command line holds it);
    // chunk accounts are longer, so take the tightest.
    const max = Math.min(
      this.#inner.maxValueSize(service, account),
      this.#inner.maxValueSize(service, chunkAccount(account, 9999)),
    );
    const size = (text: string) => this.#inner.valueSize(text);
    const needsChunks = size(value) > max || value.startsWith(CHUNKED_HEADER_PREFIX);
    let newCount = 1;
    if (!needsChunks) {
      await this.#inner.save(service, account, value);
    } else {
      const pieces = splitIntoChunks(value, max, size);
      newCount = pieces.length;
      // Chunks first, header last: a reader never sees a header without its chunks.
      for (let i = 1; i < pieces.length; i++) {
        await this.#inner.save(service, chunkAccount(account, i), pieces[i]);
      }
      await this.#inner.save(service, account, `${CHUNKED_HEADER_PREFIX}${newCount}:${pieces[0]}`);
      this.#logger?.debug("saved chunked item {account} ({count} chunks)", {
        account,
        count: newCount,
      });
    }
    // Chunks of a previous, longer value.
    for (let i = newCount; i < oldCount; i++) {
      await this.#inner.delete(service, chunkAccount(account, i));
    }
  }

  async delete(service: string, account: string): Promise<boolean> {
    const count = await this.#chunkCount(service, account);
    for (let i = 1; i < count; i++) {
      await this.#inner.delete(service, chunkAccount(account, i));
    }
    return await this.#inner.delete(service, account);
  }

  /** Pieces the current main item says it has (1 for a plain or absent value, or a corrupt header). */
  async #chunkCount(service: string, account: string): Promise<number> {
    const main = this.#inner.peek
      ? await this.#inner.peek(service, account)
      : await this.#inner.load(service, account);
    if (main === undefined) return 1;
    try {
      return parseChunkHeader(main)?.count ?? 1;
    } catch {
      return 1;
    }
  }
}
