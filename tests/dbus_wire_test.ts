/**
 * The D-Bus wire format against byte vectors worked out by hand from the
 * D-Bus Specification ("Message Protocol": alignment, arrays, variants,
 * header fields), and bus address parsing.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type DbusValue,
  DbusWireError,
  DbusWriter,
  decodeMessage,
  encodeMessage,
  messageLength,
  MessageType,
  splitSignature,
} from "../lib/keyring/dbus_wire.ts";
import { unixSocketPaths } from "../lib/keyring/dbus.ts";

/** Bytes from a readable spec: hex pairs, quoted ASCII ('...'), separators ignored. */
function bytes(spec: string): Uint8Array {
  const out: number[] = [];
  for (const token of spec.match(/'[^']*'|[0-9a-f]{2}/gi) ?? []) {
    if (token.startsWith("'")) out.push(...new TextEncoder().encode(token.slice(1, -1)));
    else out.push(parseInt(token, 16));
  }
  return new Uint8Array(out);
}

function marshal(signature: string, values: DbusValue[]): Uint8Array {
  const writer = new DbusWriter();
  splitSignature(signature).forEach((type, i) => writer.write(type, values[i]));
  return writer.bytes;
}

// The bus's Hello call, serial 1. Every header field is a struct (yv), so each
// starts on an 8-byte boundary; the field array's length (109) counts from
// offset 16 to the end of the last field; the header is padded to 128.
const HELLO = bytes(`
  'l' 01 00 01   00 00 00 00   01 00 00 00   6d 00 00 00
  01 01 'o' 00   15 00 00 00   '/org/freedesktop/DBus' 00  00 00
  02 01 's' 00   14 00 00 00   'org.freedesktop.DBus' 00   00 00 00
  03 01 's' 00   05 00 00 00   'Hello' 00                  00 00
  06 01 's' 00   14 00 00 00   'org.freedesktop.DBus' 00   00 00 00
`);

Deno.test("Hello encodes to the byte vector derived from the spec", () => {
  assert.equal(HELLO.length, 128);
  const encoded = encodeMessage({
    type: MessageType.METHOD_CALL,
    serial: 1,
    path: "/org/freedesktop/DBus",
    interface: "org.freedesktop.DBus",
    member: "Hello",
    destination: "org.freedesktop.DBus",
  });
  assert.deepEqual(encoded, HELLO);
  assert.equal(messageLength(HELLO.subarray(0, 16)), 128);
  const decoded = decodeMessage(HELLO);
  assert.equal(decoded.member, "Hello");
  assert.equal(decoded.destination, "org.freedesktop.DBus");
  assert.deepEqual(decoded.body, []);
});

Deno.test("basic types are aligned to their size and strings carry length and NUL", () => {
  assert.deepEqual(marshal("yi", [7, -2]), bytes("07 00 00 00  fe ff ff ff"));
  assert.deepEqual(marshal("yb", [1, true]), bytes("01 00 00 00  01 00 00 00"));
  assert.deepEqual(marshal("s", ["é"]), bytes("02 00 00 00  c3 a9 00"));
  assert.deepEqual(marshal("g", ["a{sv}"]), bytes("05 'a{sv}' 00"));
  assert.deepEqual(
    marshal("v", [{ signature: "u", value: 5 }]),
    bytes("01 'u' 00 00  05 00 00 00"),
  );
});

Deno.test("arrays: the length excludes the padding to the first element, which is there even when empty", () => {
  assert.deepEqual(marshal("a{ss}", [[]]), bytes("00 00 00 00  00 00 00 00"));
  assert.deepEqual(marshal("yay", [1, new Uint8Array()]), bytes("01 00 00 00  00 00 00 00"));
  // a{sv} {"k": <"v">} then b true: entry at 8, length 18 (8..26), b at 28.
  assert.deepEqual(
    marshal("a{sv}b", [[["k", { signature: "s", value: "v" }]], true]),
    bytes(`12 00 00 00  00 00 00 00
           01 00 00 00  'k' 00  01 's' 00  00 00 00
           01 00 00 00  'v' 00  00 00  01 00 00 00`),
  );
});

Deno.test("the Secret struct (oayays) marshals as the Secret Service expects", () => {
  assert.deepEqual(
    marshal("(oayays)", [["/s", new Uint8Array(), new TextEncoder().encode("ab"), "t"]]),
    bytes(`02 00 00 00  '/s' 00  00
           00 00 00 00
           02 00 00 00  'ab'  00 00
           01 00 00 00  't' 00`),
  );
});

Deno.test("a big-endian reply from another peer is decoded (the bus forwards the sender's byte order)", () => {
  const reply = bytes(`
    'B' 02 00 01   00 00 00 0a   00 00 00 07   00 00 00 0f
    05 01 'u' 00   00 00 00 01
    08 01 'g' 00   01 's' 00  00
    00 00 00 05   ':1.42' 00
  `);
  assert.equal(messageLength(reply.subarray(0, 16)), reply.length);
  const message = decodeMessage(reply);
  assert.equal(message.type, MessageType.METHOD_RETURN);
  assert.equal(message.serial, 7);
  assert.equal(message.replySerial, 1);
  assert.deepEqual(message.body, [":1.42"]);
});

Deno.test("malformed input is a DbusWireError, never a wrong value", () => {
  assert.throws(() => decodeMessage(HELLO.subarray(0, 100)), DbusWireError);
  const noNul = HELLO.slice();
  noNul[45] = 0x41; // the NUL after "/org/freedesktop/DBus"
  assert.throws(() => decodeMessage(noNul), DbusWireError);
  assert.throws(
    () => messageLength(bytes("'x' 01 00 01  00 00 00 00  00 00 00 00  00 00 00 00")),
    DbusWireError,
  );
  assert.throws(() => splitSignature("a{sv"), DbusWireError);
  assert.throws(() => splitSignature("t"), DbusWireError); // not needed, not supported
  assert.throws(() => marshal("s", ["a\0b"]), DbusWireError);
});

Deno.test("every CreateItem body survives an encode/decode round trip", () => {
  const text = fc.string({ unit: "grapheme", maxLength: 40 }).filter((s) => !s.includes("\0"));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(text, text), { maxLength: 6 }),
      text,
      fc.uint8Array({ maxLength: 300 }),
      fc.boolean(),
      (attributes, label, secret, replace) => {
        const body: DbusValue[] = [
          [
            ["org.freedesktop.Secret.Item.Attributes", { signature: "a{ss}", value: attributes }],
            ["org.freedesktop.Secret.Item.Label", { signature: "s", value: label }],
          ],
          ["/org/freedesktop/secrets/session/s1", new Uint8Array(), secret, "text/plain"],
          replace,
        ];
        const encoded = encodeMessage({
          type: MessageType.METHOD_CALL,
          serial: 3,
          path: "/org/freedesktop/secrets/aliases/default",
          member: "CreateItem",
          signature: "a{sv}(oayays)b",
          body,
        });
        assert.equal(messageLength(encoded.subarray(0, 16)), encoded.length);
        assert.deepEqual(decodeMessage(encoded).body, body);
      },
    ),
  );
});

Deno.test("bus addresses: unix path and abstract sockets in order, escapes undone, other transports skipped", () => {
  assert.deepEqual(
    unixSocketPaths(
      "tcp:host=localhost,port=1;unix:path=/run/user/1000/bus,guid=0123abcd;" +
        "unix:abstract=/tmp/dbus-XYZ,guid=1;unix:path=/tmp/with%20space%2cbus;unix:tmpdir=/tmp",
    ),
    ["/run/user/1000/bus", "\0/tmp/dbus-XYZ", "/tmp/with space,bus"],
  );
  assert.deepEqual(unixSocketPaths("autolaunch:"), []);
  assert.deepEqual(unixSocketPaths(""), []);
});
