/**
 * Values larger than one keychain item.
 *
 * The codex CLI never chunks (the proposals for it were closed unmerged): it
 * writes one item of any size. So on keychains where cdx can write one item
 * of any size — or where it cannot and must not pretend to — this wrapper
 * only *reads* chunked items (codex's proposed format
 * `CODEX_CHUNKED:<count>:<first>` with chunks `<account>:1…`, left by older
 * cdx versions), and a value that does not fit is a
 * {@linkcode KeyringTooLargeError}: the caller keeps the credentials where
 * codex finds them instead.
 *
 * Where chunking must stay (Windows' 2560-byte items, with `chunkWrites`),
 * every write is a new generation under new names —
 * `CDX_CHUNKED:<gen>:<count>:<first>` with chunks `<account>:<gen>:<i>` —
 * and the main item is switched last, so a reader never sees a mix of two
 * values: it sees the old generation whole or the new one whole. The old
 * generation's chunks are deleted afterwards.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import { KeyringError, type KeyringStore, KeyringTooLargeError } from "./store.ts";
import {
  chunkAccount,
  CHUNKED_HEADER_PREFIX,
  type ChunkHeader,
  GENERATION_HEADER_PREFIX,
  generationChunkAccount,
  parseChunkHeader,
  splitIntoChunks,
} from "./chunk_format.ts";

export {
  chunkAccount,
  CHUNKED_HEADER_PREFIX,
  type ChunkHeader,
  GENERATION_HEADER_PREFIX,
  generationChunkAccount,
  parseChunkHeader,
  splitIntoChunks,
} from "./chunk_format.ts";

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

/** Where values read from or written to the keychain are registered for masking. */
export interface SecretSink {
  /** Masks `value` in every later output (logs, errors, feedback). */
  register(value: string): void;
}

/** Options of {@linkcode ChunkedKeyringStore}. */
export interface ChunkedKeyringOptions {
  /** Debug log of chunk reads, writes and cleanups (never values); none when undefined. */
  logger?: Logger;
  /** Every value loaded or saved is registered here at once (the Context's `secrets`). */
  secrets?: SecretSink;
  /**
   * Split values that do not fit one item into a generation of chunks
   * (default false: a value that does not fit is a KeyringTooLargeError).
   */
  chunkWrites?: boolean;
  /** Most chunks one value may take (default 32): a runaway value is an error, not 129 items. */
  maxChunks?: number;
}

function newGeneration(): string {
  return crypto.getRandomValues(new Uint8Array(4)).toHex();
}

/**
 * Wraps a {@linkcode RawKeyring}: reads chunked items, writes one item (or,
 * with `chunkWrites`, a generation of chunks), and removes the chunks of the
 * value it replaces.
 *
 * Backend calls for a value that fits: `load` 1; `save` the backend's save
 * (secret-tool: store + read-back) plus, only when this process has not
 * loaded the item before, 1 peek to find chunks of the previous value;
 * `delete` likewise 1 (+1 peek).
 *
 * @example
 * ```ts
 * const store = new ChunkedKeyringStore(new SecretToolKeyring({ runner, env }));
 * await store.save("Codex Auth", "cli|abc", json); // one item, as codex writes it
 * ```
 */
export class ChunkedKeyringStore implements KeyringStore {
  readonly #inner: RawKeyring;
  readonly #logger?: Logger;
  readonly #secrets?: SecretSink;
  readonly #chunkWrites: boolean;
  readonly #maxChunks: number;
  /** The header of each item as last seen (undefined: a plain value or none). */
  readonly #seen = new Map<string, ChunkHeader | undefined>();

  /** Wraps `inner`; see {@linkcode ChunkedKeyringOptions} for the defaults. */
  constructor(inner: RawKeyring, options: ChunkedKeyringOptions = {}) {
    this.#inner = inner;
    this.#logger = options.logger;
    this.#secrets = options.secrets;
    this.#chunkWrites = options.chunkWrites ?? false;
    this.#maxChunks = options.maxChunks ?? 32;
  }

  /** The wrapped backend. */
  get inner(): RawKeyring {
    return this.#inner;
  }

  describe(): string {
    return this.#inner.describe();
  }

  /** Whether the wrapped backend reads every saved item back. */
  get verifiesSaves(): boolean {
    return this.#inner.verifiesSaves ?? false;
  }

  async load(service: string, account: string): Promise<string | undefined> {
    let value: string | undefined;
    try {
      value = await this.#loadJoined(service, account);
    } catch (error) {
      // A writer may have switched generations between our header and chunk
      // reads (and deleted the old chunks): one fresh read sees the new one.
      if (!(error instanceof MissingChunkError)) throw error;
      value = await this.#loadJoined(service, account);
    }
    if (value !== undefined) this.#secrets?.register(value);
    return value;
  }

  async #loadJoined(service: string, account: string): Promise<string | undefined> {
    const main = await this.#inner.load(service, account);
    const key = `${service}\u0000${account}`;
    if (main === undefined) {
      this.#seen.set(key, undefined);
      return undefined;
    }
    const header = parseChunkHeader(main);
    this.#seen.set(key, header);
    if (!header) return this.#decode(main);
    const pieces = [header.first];
    for (let i = 1; i < header.count; i++) {
      const name = header.gen === undefined
        ? chunkAccount(account, i)
        : generationChunkAccount(account, header.gen, i);
      const chunk = await this.#inner.load(service, name);
      if (chunk === undefined) throw new MissingChunkError(i, header.count);
      pieces.push(chunk);
    }
    this.#logger?.debug("loaded chunked item {account} ({count} chunks)", {
      account,
      count: header.count,
    });
    return this.#decode(pieces.join(""));
  }

  #decode(stored: string): string {
    return this.#inner.decodeValue ? this.#inner.decodeValue(stored) : stored;
  }

  /** Whether `save` can store `value` (one item, or a generation of at most `maxChunks`). */
  fits(service: string, account: string, original: string): boolean {
    const value = this.#inner.encodeValue ? this.#inner.encodeValue(original) : original;
    const size = this.#inner.valueSize(value);
    const max = Math.min(
      this.#inner.maxValueSize(service, account),
      this.#inner.maxValueSize(service, generationChunkAccount(account, "00000000", 9999)),
    );
    if (size <= max) return true;
    return this.#chunkWrites && Math.ceil(size / max) < this.#maxChunks;
  }

  async save(service: string, account: string, original: string): Promise<void> {
    this.#secrets?.register(original);
    const value = this.#inner.encodeValue ? this.#inner.encodeValue(original) : original;
    const previous = await this.#previousHeader(service, account);
    const size = (text: string) => this.#inner.valueSize(text);
    const gen = newGeneration();
    const headerFor = (count: number) => `${GENERATION_HEADER_PREFIX}${gen}:${count}:`;
    // Chunk accounts are longer: take the tightest limit of the two.
    const max = Math.min(
      this.#inner.maxValueSize(service, account),
      this.#inner.maxValueSize(service, generationChunkAccount(account, gen, 9999)),
    );
    const looksChunked = value.startsWith(CHUNKED_HEADER_PREFIX) ||
      value.startsWith(GENERATION_HEADER_PREFIX);
    let written: ChunkHeader | undefined;
    if (size(value) <= max && !looksChunked) {
      await this.#inner.save(service, account, value);
    } else if (looksChunked && size(headerFor(1) + value) <= max) {
      // A value that itself looks like a header is wrapped as a one-piece generation.
      await this.#inner.save(service, account, headerFor(1) + value);
      written = { gen, count: 1, first: value };
    } else {
      if (!this.#chunkWrites) {
        throw new KeyringTooLargeError(
          `the value (${
            size(value)
          } bytes) does not fit one ${this.describe()} item (${max} bytes)`,
          size(value),
          max,
        );
      }
      const pieces = splitIntoChunks(value, max, size, headerFor);
      if (pieces.length > this.#maxChunks) {
        throw new KeyringTooLargeError(
          `the value (${
            size(value)
          } bytes) would take ${pieces.length} ${this.describe()} items (the limit is ${this.#maxChunks})`,
          size(value),
          max * this.#maxChunks,
        );
      }
      // The new generation first, the main item last: readers see old or new, never a mix.
      for (let i = 1; i < pieces.length; i++) {
        await this.#inner.save(service, generationChunkAccount(account, gen, i), pieces[i]);
      }
      await this.#inner.save(service, account, headerFor(pieces.length) + pieces[0]);
      written = { gen, count: pieces.length, first: pieces[0] };
      this.#logger?.debug("saved chunked item {account} ({count} chunks)", {
        account,
        count: pieces.length,
      });
    }
    this.#seen.set(`${service}\u0000${account}`, written);
    await this.#deleteChunks(service, account, previous);
  }

  async delete(service: string, account: string): Promise<boolean> {
    const previous = await this.#previousHeader(service, account);
    await this.#deleteChunks(service, account, previous);
    this.#seen.set(`${service}\u0000${account}`, undefined);
    return await this.#inner.delete(service, account);
  }

  /** The header of the current value: as last loaded by this process, else one peek. */
  async #previousHeader(service: string, account: string): Promise<ChunkHeader | undefined> {
    const key = `${service}\u0000${account}`;
    if (this.#seen.has(key)) return this.#seen.get(key);
    const main = this.#inner.peek
      ? await this.#inner.peek(service, account)
      : await this.#inner.load(service, account);
    if (main === undefined) return undefined;
    try {
      return parseChunkHeader(main);
    } catch {
      return undefined;
    }
  }

  /** Removes the chunks a replaced value left behind (absent ones are fine). */
  async #deleteChunks(service: string, account: string, header?: ChunkHeader): Promise<void> {
    if (!header) return;
    for (let i = 1; i < header.count; i++) {
      const name = header.gen === undefined
        ? chunkAccount(account, i)
        : generationChunkAccount(account, header.gen, i);
      await this.#inner.delete(service, name);
    }
  }
}

/** A chunk the header promises is not there (a concurrent writer, or damage). */
class MissingChunkError extends KeyringError {
  constructor(index: number, count: number) {
    super(`corrupt chunked keychain item: chunk ${index} of ${count} is missing`);
    this.name = "KeyringError";
  }
}
