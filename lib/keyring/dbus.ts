/**
 * A minimal D-Bus client: connect to a bus over a unix socket, authenticate
 * with `EXTERNAL` (the kernel vouches for our uid), say `Hello`, and make
 * method calls one at a time. Enough for the Secret Service writes of
 * `secret_service_dbus.ts`; no signals, no match rules, no fd passing.
 *
 * Why not a child process: a secret given to `dbus-send` would be in its
 * argv, and `secret-tool` truncates at 8 KiB. Why not an npm D-Bus library:
 * the part needed is small and this keeps the binary free of native code.
 *
 * @module
 */
import { orCancel } from "../cancel.ts";
import {
  type DbusMessage,
  type DbusValue,
  decodeMessage,
  encodeMessage,
  messageLength,
  MessageType,
} from "./dbus_wire.ts";

/** No address in the list can be connected to (or the bus refused us). */
export class DbusConnectError extends Error {
  /** `message` says which addresses were tried and why they failed. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DbusConnectError";
  }
}

/** The peer answered a call with an error message. */
export class DbusCallError extends Error {
  /** The D-Bus error name, e.g. `org.freedesktop.DBus.Error.ServiceUnknown`. */
  readonly errorName: string;
  /** The error's text (its first body argument), possibly empty. */
  readonly text: string;
  /** An error reply named `errorName` with the text `text`. */
  constructor(errorName: string, text: string) {
    super(text ? `${errorName}: ${text}` : errorName);
    this.name = "DbusCallError";
    this.errorName = errorName;
    this.text = text;
  }
}

/** The bus closed the connection (or sent something that is not D-Bus). */
export class DbusProtocolError extends Error {
  /** `message` says what was wrong with the stream. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DbusProtocolError";
  }
}

/**
 * The unix socket paths in a bus address list (`DBUS_SESSION_BUS_ADDRESS`),
 * in order: `unix:path=P` gives `P`, `unix:abstract=N` gives `"\0N"` (the
 * Linux abstract namespace, which `Deno.connect` supports). Other transports
 * (`tcp:`, `launchd:`, `autolaunch:`, listen-only `unix:tmpdir=`) are skipped.
 * Values are unescaped (`%2f` → `/`); extra keys such as `guid=` are ignored.
 *
 * @example
 * ```ts
 * unixSocketPaths("unix:path=/run/user/1000/bus,guid=0123;tcp:host=x,port=1");
 * // ["/run/user/1000/bus"]
 * ```
 */
export function unixSocketPaths(addresses: string): string[] {
  const paths: string[] = [];
  for (const address of addresses.split(";")) {
    const colon = address.indexOf(":");
    if (colon < 0 || address.slice(0, colon) !== "unix") continue;
    const keys = new Map<string, string>();
    for (const pair of address.slice(colon + 1).split(",")) {
      const eq = pair.indexOf("=");
      if (eq > 0) keys.set(pair.slice(0, eq), unescapeValue(pair.slice(eq + 1)));
    }
    const path = keys.get("path");
    const abstract = keys.get("abstract");
    if (path) paths.push(path);
    else if (abstract) paths.push(`\0${abstract}`);
  }
  return paths;
}

function unescapeValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // a lone "%": not an escape
  }
}

/** What a call names. The connection adds type and serial. */
export type DbusCall = Omit<DbusMessage, "type" | "serial" | "replySerial" | "errorName">;

/** Options of {@linkcode DbusConnection.open}. */
export interface DbusOpenOptions {
  /** Our uid, sent as the `EXTERNAL` authorization identity. */
  uid: number;
  /** Aborting closes the socket at once; pending calls reject. */
  signal?: AbortSignal;
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const MAX_AUTH_LINE = 4096;
/** Replies cdx waits for are tiny; anything bigger is not a Secret Service answer. */
const MAX_INCOMING_MESSAGE = 1 << 20;

/**
 * One authenticated connection to a message bus.
 *
 * @example
 * ```ts
 * const bus = await DbusConnection.open(env.get("DBUS_SESSION_BUS_ADDRESS")!, { uid: Deno.uid()! });
 * try {
 *   const [owned] = await bus.call({
 *     destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
 *     interface: "org.freedesktop.DBus", member: "NameHasOwner",
 *     signature: "s", body: ["org.freedesktop.secrets"],
 *   });
 * } finally {
 *   bus.close();
 * }
 * ```
 */
export class DbusConnection {
  readonly #conn: Deno.Conn;
  readonly #signal?: AbortSignal;
  readonly #onAbort = () => this.close();
  #buffer = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  #serial = 1;
  #closed = false;
  /** The unique name the bus gave us in reply to `Hello`. */
  uniqueName = "";

  private constructor(conn: Deno.Conn, signal?: AbortSignal) {
    this.#conn = conn;
    this.#signal = signal;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /**
   * Connects to the first reachable unix socket of `addresses`, authenticates
   * and says `Hello`. Throws {@linkcode DbusConnectError} when no address is
   * usable or the bus rejects us.
   */
  static async open(addresses: string, options: DbusOpenOptions): Promise<DbusConnection> {
    const paths = unixSocketPaths(addresses);
    if (paths.length === 0) {
      throw new DbusConnectError(`no unix socket in the bus address "${addresses}"`);
    }
    let lastError: unknown;
    for (const path of paths) {
      let conn: Deno.Conn;
      const connecting = Deno.connect({ transport: "unix", path });
      try {
        conn = await orCancel(connecting, options.signal);
      } catch (error) {
        if (options.signal?.aborted) {
          connecting.then((late) => late.close(), () => {}); // abandoned: close it when it lands
          throw error;
        }
        lastError = error;
        continue;
      }
      const bus = new DbusConnection(conn, options.signal);
      if (options.signal?.aborted) bus.close(); // aborted while connecting
      try {
        await bus.#authenticate(options.uid);
        [bus.uniqueName] = await bus.call({
          destination: "org.freedesktop.DBus",
          path: "/org/freedesktop/DBus",
          interface: "org.freedesktop.DBus",
          member: "Hello",
        }) as [string];
        return bus;
      } catch (error) {
        bus.close();
        throw error;
      }
    }
    const shown = (p: string) => p.replace("\0", "@");
    throw new DbusConnectError(
      `cannot connect to the D-Bus session bus at ${paths.map(shown).join(", ")}: ${
        lastError instanceof Error ? lastError.message : String(lastError)
      }`,
      { cause: lastError },
    );
  }

  /**
   * Calls a method and resolves with the reply's body; an error reply
   * rejects with {@linkcode DbusCallError}. Messages that are not the reply
   * (e.g. the bus's `NameAcquired` signal) are skipped.
   */
  async call(request: DbusCall): Promise<DbusValue[]> {
    const serial = this.#serial++;
    await this.#writeAll(encodeMessage({ ...request, type: MessageType.METHOD_CALL, serial }));
    while (true) {
      const bytes = await this.#nextMessage();
      const header = decodeMessage(bytes, { body: false });
      const isReply = header.type === MessageType.METHOD_RETURN ||
        header.type === MessageType.ERROR;
      if (!isReply || header.replySerial !== serial) continue;
      const reply = decodeMessage(bytes);
      if (reply.type === MessageType.ERROR) {
        const text = typeof reply.body?.[0] === "string" ? reply.body[0] : "";
        throw new DbusCallError(reply.errorName ?? "(unnamed error)", text);
      }
      return reply.body ?? [];
    }
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** SASL: NUL byte, `AUTH EXTERNAL <hex of the uid's decimal digits>`, `OK <guid>`, `BEGIN`. */
  async #authenticate(uid: number): Promise<void> {
    const identity = [...encoder.encode(String(uid))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    await this.#writeAll(encoder.encode(`\0AUTH EXTERNAL ${identity}\r\n`));
    const answer = await this.#readLine();
    if (!answer.startsWith("OK ")) {
      throw new DbusConnectError(`the D-Bus session bus refused authentication: ${answer}`);
    }
    await this.#writeAll(encoder.encode("BEGIN\r\n"));
  }

  async #readLine(): Promise<string> {
    for (let scanned = this.#start;;) {
      for (; scanned + 1 < this.#end; scanned++) {
        if (this.#buffer[scanned] === 0x0d && this.#buffer[scanned + 1] === 0x0a) {
          const line = latin1.decode(this.#buffer.subarray(this.#start, scanned));
          this.#start = scanned + 2;
          return line;
        }
      }
      if (this.#end - this.#start > MAX_AUTH_LINE) {
        throw new DbusProtocolError("the bus sent an over-long authentication line");
      }
      await this.#fill(this.#end - this.#start + 1);
    }
  }

  async #nextMessage(): Promise<Uint8Array> {
    await this.#fill(16);
    const length = messageLength(this.#buffer.subarray(this.#start, this.#start + 16));
    if (length > MAX_INCOMING_MESSAGE) {
      throw new DbusProtocolError(`the bus sent a ${length}-byte message; expected a short reply`);
    }
    await this.#fill(length);
    const message = this.#buffer.slice(this.#start, this.#start + length);
    this.#start += length;
    return message;
  }

  /** Reads until at least `n` unconsumed bytes are buffered. */
  async #fill(n: number): Promise<void> {
    while (this.#end - this.#start < n) {
      if (this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      if (this.#buffer.length < n) {
        const grown = new Uint8Array(Math.max(n, this.#buffer.length * 2));
        grown.set(this.#buffer.subarray(0, this.#end));
        this.#buffer = grown;
      }
      const count = await this.#conn.read(this.#buffer.subarray(this.#end));
      if (count === null) {
        throw new DbusProtocolError("the D-Bus session bus closed the connection");
      }
      this.#end += count;
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let written = 0; written < bytes.length;) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }
}
