/**
 * The D-Bus wire format (D-Bus Specification, "Message Protocol"), only the
 * part cdx needs to talk to the Secret Service: the types `y b u i s o g v`,
 * arrays (incl. dicts `a{..}`) and structs, and whole messages.
 *
 * Values map to JavaScript as: `y i u` → number, `b` → boolean,
 * `s o g` → string, `ay` → Uint8Array, other arrays and structs → arrays
 * (a dict is an array of `[key, value]` pairs), `v` → {@linkcode DbusVariant}.
 *
 * Every value is aligned to its type's boundary counted from the start of the
 * message: 1 for `y g v`, 4 for `b i u s o` and an array's length, 8 for
 * structs and dict entries. An array's length counts its element bytes only,
 * not the padding between the length and the first element (which is present
 * even when the array is empty). cdx writes little-endian (`l`) messages and
 * reads either byte order, since the bus forwards each sender's own.
 *
 * Longer than 300 lines because the writer and the reader mirror each other
 * type by type and are easiest to check side by side against the spec.
 *
 * @module
 */

/** A D-Bus value (see the module doc for the mapping). */
export type DbusValue = number | boolean | string | Uint8Array | DbusVariant | DbusValue[];

/** A `v`: a value with its own signature. */
export interface DbusVariant {
  /** One complete type, e.g. `"s"` or `"a{ss}"`. */
  readonly signature: string;
  /** A value of that type. */
  readonly value: DbusValue;
}

/** Message types (header byte 1). */
export const MessageType = { METHOD_CALL: 1, METHOD_RETURN: 2, ERROR: 3, SIGNAL: 4 } as const;

/** A message: fixed header, the header fields cdx uses, and the body. */
export interface DbusMessage {
  /** One of {@linkcode MessageType}. */
  type: number;
  /** The sender's number for this message (never 0). */
  serial: number;
  /** Header flags (1 no reply expected, 2 no auto-start); default 0. */
  flags?: number;
  /** Object path called (calls, signals). */
  path?: string;
  /** Interface of the member. */
  interface?: string;
  /** Method or signal name. */
  member?: string;
  /** Name of the error (error replies). */
  errorName?: string;
  /** Serial of the call this answers (replies). */
  replySerial?: number;
  /** Bus name the message is for. */
  destination?: string;
  /** Unique name of the sender (set by the bus). */
  sender?: string;
  /** Signature of the body ("" or absent: no body). */
  signature?: string;
  /** The body values, one per complete type of `signature`. */
  body?: DbusValue[];
}

/** Malformed or unsupported wire data. */
export class DbusWireError extends Error {
  /** `message` says what is malformed or unsupported. */
  constructor(message: string) {
    super(message);
    this.name = "DbusWireError";
  }
}

/** The spec's limit on a whole message (128 MiB). */
export const MAX_MESSAGE_BYTES = 2 ** 27;
const MAX_ARRAY_BYTES = 2 ** 26;

// Header field codes and the type of each.
const FIELDS = [
  [1, "path", "o"],
  [2, "interface", "s"],
  [3, "member", "s"],
  [4, "errorName", "s"],
  [5, "replySerial", "u"],
  [6, "destination", "s"],
  [7, "sender", "s"],
  [8, "signature", "g"],
] as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function alignment(type: string): number {
  if ("ygv".includes(type[0])) return 1;
  if ("({".includes(type[0])) return 8;
  return 4;
}

/** End index (exclusive) of the single complete type starting at `sig[start]`. */
function typeEnd(sig: string, start: number): number {
  const c = sig[start];
  if (c === "a") return typeEnd(sig, start + 1);
  if (c === "(" || c === "{") {
    const close = c === "(" ? ")" : "}";
    let i = start + 1;
    while (sig[i] !== close) {
      if (i >= sig.length) throw new DbusWireError(`unterminated signature ${sig}`);
      i = typeEnd(sig, i);
    }
    return i + 1;
  }
  if (c !== undefined && "ybiusogv".includes(c)) return start + 1;
  throw new DbusWireError(`unsupported signature ${JSON.stringify(sig)}`);
}

/** Splits a signature into its complete types: `"a{sv}(oayays)b"` → `["a{sv}", "(oayays)", "b"]`. */
export function splitSignature(sig: string): string[] {
  const types: string[] = [];
  for (let i = 0; i < sig.length;) {
    const end = typeEnd(sig, i);
    types.push(sig.slice(i, end));
    i = end;
  }
  return types;
}

/** Marshals values little-endian into a growing buffer; offsets count from its start. */
export class DbusWriter {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;

  /** The bytes written so far. */
  get bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  #reserve(n: number): number {
    const at = this.#length;
    if (at + n > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, at + n));
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#length += n;
    return at;
  }

  /** Zero padding up to the next multiple of `n`. */
  align(n: number): void {
    this.#reserve((n - this.#length % n) % n);
  }

  // Reserve before touching #bytes/#view: reserving may replace them.
  #u32(value: number): void {
    this.align(4);
    const at = this.#reserve(4);
    this.#view.setUint32(at, value, true);
  }

  #byte(value: number): void {
    const at = this.#reserve(1);
    this.#bytes[at] = value;
  }

  #raw(data: Uint8Array): void {
    const at = this.#reserve(data.length);
    this.#bytes.set(data, at);
  }

  /** Writes one value of the single complete type `type`. */
  write(type: string, value: DbusValue): void {
    const c = type[0];
    if (c === "y") this.#byte(value as number);
    else if (c === "b") this.#u32(value ? 1 : 0);
    else if (c === "u") this.#u32(value as number);
    else if (c === "i") {
      this.align(4);
      const at = this.#reserve(4);
      this.#view.setInt32(at, value as number, true);
    } else if (c === "s" || c === "o") {
      const data = encoder.encode(value as string);
      if (data.includes(0)) throw new DbusWireError("a D-Bus string cannot contain NUL");
      this.#u32(data.length);
      this.#raw(data);
      this.#reserve(1);
    } else if (c === "g") {
      const data = encoder.encode(value as string);
      if (data.length > 255) throw new DbusWireError("signature longer than 255 bytes");
      this.#byte(data.length);
      this.#raw(data);
      this.#reserve(1);
    } else if (c === "v") {
      const variant = value as DbusVariant;
      this.write("g", variant.signature);
      this.write(variant.signature, variant.value);
    } else if (c === "a") this.#array(type.slice(1), value);
    else if (c === "(" || c === "{") {
      this.align(8);
      const members = splitSignature(type.slice(1, -1));
      const values = value as DbusValue[];
      members.forEach((member, i) => this.write(member, values[i]));
    } else throw new DbusWireError(`unsupported type ${type}`);
  }

  #array(element: string, value: DbusValue): void {
    this.#u32(0); // length, patched below
    const lengthAt = this.#length - 4;
    this.align(alignment(element));
    const start = this.#length;
    if (element === "y") this.#raw(value as Uint8Array);
    else for (const item of value as DbusValue[]) this.write(element, item);
    const length = this.#length - start;
    if (length > MAX_ARRAY_BYTES) throw new DbusWireError("array longer than 64 MiB");
    this.#view.setUint32(lengthAt, length, true);
  }
}

/** Unmarshals values from `bytes` (offsets count from its start) in the given byte order. */
export class DbusReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #little: boolean;
  /** Where the next value is read from. */
  offset = 0;

  /** Reads `bytes` (offset 0 is the start of the message) in the given byte order. */
  constructor(bytes: Uint8Array, littleEndian: boolean) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#little = littleEndian;
  }

  #take(n: number): number {
    const at = this.offset;
    if (at + n > this.#bytes.length) throw new DbusWireError("message ends inside a value");
    this.offset += n;
    return at;
  }

  /** Skips padding up to the next multiple of `n`. */
  align(n: number): void {
    this.#take((n - this.offset % n) % n);
  }

  #u32(): number {
    this.align(4);
    return this.#view.getUint32(this.#take(4), this.#little);
  }

  #text(length: number): string {
    const at = this.#take(length + 1);
    if (this.#bytes[at + length] !== 0) throw new DbusWireError("string without its NUL");
    return decoder.decode(this.#bytes.subarray(at, at + length));
  }

  /** Reads one value of the single complete type `type`. */
  read(type: string): DbusValue {
    const c = type[0];
    if (c === "y") return this.#bytes[this.#take(1)];
    if (c === "b") return this.#u32() !== 0;
    if (c === "u") return this.#u32();
    if (c === "i") {
      this.align(4);
      return this.#view.getInt32(this.#take(4), this.#little);
    }
    if (c === "s" || c === "o") return this.#text(this.#u32());
    if (c === "g") return this.#text(this.#bytes[this.#take(1)]);
    if (c === "v") {
      const signature = this.read("g") as string;
      if (splitSignature(signature).length !== 1) throw new DbusWireError("bad variant signature");
      return { signature, value: this.read(signature) };
    }
    if (c === "a") return this.#array(type.slice(1));
    if (c === "(" || c === "{") {
      this.align(8);
      return splitSignature(type.slice(1, -1)).map((member) => this.read(member));
    }
    throw new DbusWireError(`unsupported type ${type}`);
  }

  #array(element: string): DbusValue {
    const length = this.#u32();
    if (length > MAX_ARRAY_BYTES) throw new DbusWireError("array longer than 64 MiB");
    this.align(alignment(element));
    const end = this.offset + length;
    if (element === "y") return this.#bytes.slice(this.#take(length), end);
    const items: DbusValue[] = [];
    while (this.offset < end) items.push(this.read(element));
    if (this.offset !== end) throw new DbusWireError("array elements overrun its length");
    return items;
  }
}

/**
 * Encodes a message, little-endian.
 *
 * @example
 * ```ts
 * const hello = encodeMessage({
 *   type: MessageType.METHOD_CALL, serial: 1, destination: "org.freedesktop.DBus",
 *   path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "Hello",
 * });
 * ```
 */
export function encodeMessage(message: DbusMessage): Uint8Array {
  const signature = message.signature ?? "";
  const body = new DbusWriter();
  splitSignature(signature).forEach((type, i) => body.write(type, message.body![i]));
  const fields: DbusValue[] = [];
  for (const [code, key, type] of FIELDS) {
    const value = key === "signature" ? (signature || undefined) : message[key];
    if (value !== undefined) fields.push([code, { signature: type, value }]);
  }
  const header = new DbusWriter();
  for (const byte of [0x6c, /* l */ message.type, message.flags ?? 0, 1]) header.write("y", byte);
  header.write("u", body.bytes.length);
  header.write("u", message.serial);
  header.write("a(yv)", fields);
  header.align(8);
  const out = new Uint8Array(header.bytes.length + body.bytes.length);
  out.set(header.bytes);
  out.set(body.bytes, header.bytes.length);
  if (out.length > MAX_MESSAGE_BYTES) throw new DbusWireError("message longer than 128 MiB");
  return out;
}

/**
 * Total length of the message whose first 16 bytes are `head`, from its
 * fixed header (so a stream reader knows how much to wait for).
 */
export function messageLength(head: Uint8Array): number {
  const little = head[0] === 0x6c;
  if (!little && head[0] !== 0x42 /* B */) throw new DbusWireError("bad byte-order mark");
  if (head[3] !== 1) throw new DbusWireError(`unsupported protocol version ${head[3]}`);
  const view = new DataView(head.buffer, head.byteOffset, 16);
  const bodyLength = view.getUint32(4, little);
  const fieldsLength = view.getUint32(12, little);
  const total = 16 + Math.ceil(fieldsLength / 8) * 8 + bodyLength;
  if (total > MAX_MESSAGE_BYTES) throw new DbusWireError("message longer than 128 MiB");
  return total;
}

/**
 * Decodes one whole message (as sized by {@linkcode messageLength}); with
 * `body: false` only its header, so messages nobody waits for (signals) are
 * skipped without parsing bodies of types this module does not support.
 */
export function decodeMessage(bytes: Uint8Array, options: { body?: boolean } = {}): DbusMessage {
  const reader = new DbusReader(bytes, bytes[0] === 0x6c);
  const [, type, flags] = [reader.read("y"), reader.read("y"), reader.read("y"), reader.read("y")];
  const bodyLength = reader.read("u") as number;
  const message: DbusMessage = { type: type as number, flags: flags as number, serial: 0 };
  message.serial = reader.read("u") as number;
  for (const [code, variant] of reader.read("a(yv)") as [number, DbusVariant][]) {
    const field = FIELDS.find(([c]) => c === code);
    // Unknown fields must be ignored (spec); a known one must have its type.
    if (field && variant.signature !== field[2]) {
      throw new DbusWireError(`bad header field ${code}`);
    }
    if (field) (message as unknown as Record<string, DbusValue>)[field[1]] = variant.value;
  }
  reader.align(8);
  if (reader.offset + bodyLength !== bytes.length) throw new DbusWireError("bad message length");
  if (options.body === false) return message;
  message.body = splitSignature(message.signature ?? "").map((t) => reader.read(t));
  if (reader.offset !== bytes.length) throw new DbusWireError("body longer than its signature");
  return message;
}
