/**
 * A fake message bus on a unix socket, for the answers a real gnome-keyring
 * never gives (a prompt from CreateItem, arbitrary error names) and for a
 * peer that never answers. It speaks the real wire protocol: the SASL lines
 * of the D-Bus spec, then messages encoded by `lib/keyring/dbus_wire.ts`.
 *
 * @module
 */
import {
  type DbusMessage,
  type DbusValue,
  decodeMessage,
  encodeMessage,
  messageLength,
  MessageType,
} from "../../lib/keyring/dbus_wire.ts";

/** What the fake answers to a call: a body (with its signature), or an error. */
export type FakeAnswer =
  | { signature?: string; body?: DbusValue[] }
  | { error: string; text: string };

/** Options of {@linkcode startFakeBus}. */
export interface FakeBusOptions {
  /** Socket path; `"\0name"` for the abstract namespace. */
  path: string;
  /** Accept, then never say a word (not even the SASL `OK`). */
  silent?: boolean;
  /** Answers by member name; `Hello` is answered by default, anything else gets UnknownMethod. */
  answers?: Record<string, FakeAnswer>;
}

/** A running fake bus. */
export interface FakeBus {
  /** Every method call received, in order. */
  readonly calls: DbusMessage[];
  /** Resolves when a client has connected and sent its first bytes. */
  readonly firstBytes: Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Starts the fake.
 *
 * @example
 * ```ts
 * await using bus = startFakeBus({ path: `${dir}/bus`, answers: { OpenSession: { error: "x.Y", text: "no" } } });
 * ```
 */
export function startFakeBus(options: FakeBusOptions): FakeBus {
  const listener = Deno.listen({ transport: "unix", path: options.path });
  const calls: DbusMessage[] = [];
  const conns = new Set<Deno.Conn>();
  let gotBytes!: () => void;
  const firstBytes = new Promise<void>((resolve) => gotBytes = resolve);

  async function serve(conn: Deno.Conn): Promise<void> {
    let buffer = new Uint8Array(0);
    const more = async () => {
      const chunk = new Uint8Array(65536);
      const n = await conn.read(chunk);
      if (n === null) return false;
      const joined = new Uint8Array(buffer.length + n);
      joined.set(buffer);
      joined.set(chunk.subarray(0, n), buffer.length);
      buffer = joined;
      gotBytes();
      return true;
    };
    const line = async () => {
      while (!decoder.decode(buffer).includes("\r\n")) if (!await more()) return undefined;
      const text = decoder.decode(buffer);
      const end = text.indexOf("\r\n");
      buffer = buffer.slice(encoder.encode(text.slice(0, end + 2)).length);
      return text.slice(0, end);
    };
    if (options.silent) {
      while (await more()) { /* swallow */ }
      return;
    }
    const auth = await line();
    if (!auth?.replace(/^\0/, "").startsWith("AUTH EXTERNAL ")) return;
    await conn.write(encoder.encode("OK 0123456789abcdef0123456789abcdef\r\n"));
    if (await line() !== "BEGIN") return;
    let serial = 1;
    while (true) {
      while (buffer.length < 16) if (!await more()) return;
      const length = messageLength(buffer.subarray(0, 16));
      while (buffer.length < length) if (!await more()) return;
      const call = decodeMessage(buffer.slice(0, length));
      buffer = buffer.slice(length);
      calls.push(call);
      const answer: FakeAnswer = call.member === "Hello"
        ? { signature: "s", body: [":1.1"] }
        : options.answers?.[call.member ?? ""] ??
          { error: "org.freedesktop.DBus.Error.UnknownMethod", text: `no ${call.member}` };
      const reply: DbusMessage = "error" in answer
        ? {
          type: MessageType.ERROR,
          serial: serial++,
          replySerial: call.serial,
          errorName: answer.error,
          signature: "s",
          body: [answer.text],
        }
        : {
          type: MessageType.METHOD_RETURN,
          serial: serial++,
          replySerial: call.serial,
          ...answer,
        };
      // A signal first, as the bus sends NameAcquired after Hello: clients must skip it.
      const signal: DbusMessage = {
        type: MessageType.SIGNAL,
        serial: serial++,
        path: "/org/freedesktop/DBus",
        interface: "org.freedesktop.DBus",
        member: "NameAcquired",
        signature: "s",
        body: [":1.1"],
      };
      await conn.write(encodeMessage(signal));
      await conn.write(encodeMessage(reply));
    }
  }

  const accepting = (async () => {
    const served: Promise<void>[] = [];
    try {
      for await (const conn of listener) {
        conns.add(conn);
        served.push(serve(conn).catch(() => {}).finally(() => conns.delete(conn)));
      }
    } catch { /* listener closed */ }
    await Promise.all(served);
  })();

  const close = async () => {
    try {
      listener.close();
    } catch { /* closed */ }
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await accepting;
    if (!options.path.startsWith("\0")) await Deno.remove(options.path).catch(() => {});
  };
  return { calls, firstBytes, close, [Symbol.asyncDispose]: close };
}
