/**
 * A byte ring buffer that keeps the newest bytes written to it — the port of
 * codex's 4 MiB feedback ring. Memory grows on demand (a short-lived cdx
 * process that logs a few kilobytes never allocates the full capacity) and
 * never exceeds the capacity.
 *
 * @module
 */

/** Default capacity of the feedback ring: 4 MiB, as in codex. */
export const DEFAULT_RING_CAPACITY = 4 * 1024 * 1024;

const INITIAL_ALLOCATION = 16 * 1024;

/**
 * Keeps the newest `capacity` bytes of everything written. A write larger
 * than the capacity keeps its tail.
 *
 * @example
 * ```ts
 * const ring = new ByteRing(4);
 * ring.write(new TextEncoder().encode("abcdef"));
 * new TextDecoder().decode(ring.bytes()); // "cdef"
 * ```
 */
export class ByteRing {
  /** Largest number of bytes held. */
  readonly capacity: number;
  #buffer: Uint8Array;
  /** Index of the oldest byte. */
  #start = 0;
  /** Bytes held. */
  #length = 0;
  #written = 0;

  /** A ring holding at most `capacity` bytes (allocated as records arrive). */
  constructor(capacity: number = DEFAULT_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#buffer = new Uint8Array(Math.min(capacity, INITIAL_ALLOCATION));
  }

  /** Bytes currently held (at most {@linkcode capacity}). */
  get length(): number {
    return this.#length;
  }

  /** Bytes written since creation (including those since overwritten). */
  get totalWritten(): number {
    return this.#written;
  }

  /** Bytes allocated for the buffer right now (grows up to the capacity). */
  get allocated(): number {
    return this.#buffer.length;
  }

  /** Appends `bytes`, dropping the oldest bytes when full. */
  write(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) return;
    this.#written += n;
    const capacity = this.capacity;
    if (n >= capacity) {
      // Only the tail of this write survives.
      this.#ensureAllocated(capacity);
      this.#buffer.set(bytes.subarray(n - capacity));
      this.#start = 0;
      this.#length = capacity;
      return;
    }
    if (this.#start === 0 && this.#length + n > this.#buffer.length) {
      // Still linear: grow instead of wrapping while below capacity.
      this.#ensureAllocated(
        Math.min(capacity, Math.max(this.#buffer.length * 2, this.#length + n)),
      );
    }
    const buffer = this.#buffer;
    const size = buffer.length;
    const overflow = Math.max(0, this.#length + n - size);
    // Drop the oldest `overflow` bytes, then write at the end.
    this.#start = (this.#start + overflow) % size;
    this.#length -= overflow;
    const end = (this.#start + this.#length) % size;
    const first = Math.min(n, size - end);
    buffer.set(first === n ? bytes : bytes.subarray(0, first), end);
    if (first < n) buffer.set(bytes.subarray(first), 0);
    this.#length += n;
  }

  /** A copy of the bytes held, oldest first. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    const buffer = this.#buffer;
    const firstLength = Math.min(this.#length, buffer.length - this.#start);
    out.set(buffer.subarray(this.#start, this.#start + firstLength));
    if (firstLength < this.#length) {
      out.set(buffer.subarray(0, this.#length - firstLength), firstLength);
    }
    return out;
  }

  /** Empties the ring (keeps the allocation). */
  clear(): void {
    this.#start = 0;
    this.#length = 0;
  }

  /** Grows the buffer to `size` bytes, moving the content to index 0. */
  #ensureAllocated(size: number): void {
    if (this.#buffer.length >= size) return;
    const content = this.bytes();
    this.#buffer = new Uint8Array(size);
    this.#buffer.set(content);
    this.#start = 0;
  }
}
