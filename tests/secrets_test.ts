import assert from "node:assert/strict";
import fc from "fast-check";
import {
  MASK,
  MASK_FAILED,
  MAX_VALUES,
  MIN_SECRET_LENGTH,
  SecretRegistry,
} from "../lib/secrets.ts";
import { DENSE_RUN_MAX, MIN_FRAGMENT } from "../lib/secret_index.ts";
import { redactPatterns, SECRET_FIELDS, SECRET_HEADERS, TRIGGER_WORDS } from "../lib/redact.ts";

const TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A random token-like string of `length` characters. */
export function randomToken(length: number): string {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return Array.from(bytes, (b) => TOKEN_ALPHABET[b & 63]).join("");
}

/** Text that cannot share 6 characters with a token: spaces and punctuation only around words. */
const innocent = fc.string({
  unit: fc.constantFrom(..." ,;:!?()[]{}<>\n".split("")),
  maxLength: 40,
});

Deno.test("registered values of every length are masked wherever they occur, with any text around", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: MIN_SECRET_LENGTH, maxLength: 300 }).filter((s) =>
        s.trim() === s && !s.includes(MASK)
      ),
      fc.string({ maxLength: 40 }),
      fc.string({ maxLength: 40 }),
      (secret, before, after) => {
        const secrets = new SecretRegistry();
        secrets.register(secret);
        const out = secrets.redactValues(`${before}${secret}${after}${secret}`);
        assert.ok(!out.includes(secret), out);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("any run of 24 characters of a registered token is masked, however it was cut", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 32, max: 3000 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: MIN_FRAGMENT, max: 200 }),
      innocent,
      innocent,
      (length, where, cut, before, after) => {
        const token = randomToken(length);
        const secrets = new SecretRegistry();
        secrets.register(token);
        const from = Math.floor(where * (length - Math.min(cut, length)));
        const piece = token.slice(from, from + cut);
        const out = secrets.redactValues(`${before}${piece}${after}`);
        assert.ok(!out.includes(piece), `${piece} in ${out}`);
        assert.equal(out, `${before}${MASK}${after}`);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("text without a registered value or 24-character run of one is returned unchanged", () => {
  const secrets = new SecretRegistry();
  const token = randomToken(500);
  secrets.register(token);
  secrets.register("short-secret");
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (text) => {
      fc.pre(!text.includes("short-secret"));
      assert.equal(secrets.redactValues(text), text);
    }),
    { numRuns: 500 },
  );
  // A registered JSON document: its tokens are secrets, its structure is not.
  const json = JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: `sk-${token}` }, null, 2);
  secrets.register(json);
  const line = '{\n  "auth_mode": "apikey",\n  "other": 1\n}';
  assert.equal(secrets.redactValues(line), line);
  assert.equal(secrets.redactValues(`x ${json} y`), `x ${MASK} y`);
});

Deno.test("overlapping and adjacent secrets are masked as one", () => {
  const secrets = new SecretRegistry();
  secrets.register("abcdef-123456");
  secrets.register("123456-ghijkl");
  assert.equal(secrets.redactValues("<abcdef-123456-ghijkl>"), `<${MASK}>`);
  assert.equal(secrets.redactValues("abcdef-123456123456-ghijkl"), MASK);
});

Deno.test("a 40 KB and a 1 MB secret: registering and masking never throw, nothing of them leaks", () => {
  const medium = randomToken(40 * 1024);
  const huge = randomToken(1024 * 1024);
  assert.ok(huge.length > DENSE_RUN_MAX);
  const secrets = new SecretRegistry();
  secrets.register(medium);
  secrets.register(huge);
  secrets.register("ordinary-token-123456");
  const text = [
    `body ${huge} end`,
    `{"access_token":"${medium}"}`,
    `cut ${huge.slice(1000, 1100)} and ${medium.slice(-30)} here`,
    "ordinary-token-123456",
  ].join("\n");
  const out = secrets.redact(text);
  for (const needle of [huge.slice(500_000, 500_024), medium.slice(20_000, 20_024)]) {
    assert.ok(!out.includes(needle));
  }
  assert.equal(
    out,
    `body ${MASK} end\n{"access_token":"${MASK}"}\ncut ${MASK} and ${MASK} here\n${MASK}`,
  );
});

Deno.test("past its bound the registry fails closed: every text is replaced, never printed raw", () => {
  const secrets = new SecretRegistry();
  for (let i = 0; i <= MAX_VALUES; i++) secrets.register(`value-${i}-${"x".repeat(6)}`);
  assert.equal(secrets.redact("harmless line\n"), `${MASK_FAILED}\n`);
  assert.equal(secrets.redact("value-1-xxxxxx"), MASK_FAILED);
});

Deno.test("values too short to mask safely are ignored; the trimmed value is registered too", () => {
  const secrets = new SecretRegistry();
  secrets.register("abc");
  secrets.register("  padded-secret\n");
  assert.equal(secrets.size, 2);
  assert.equal(secrets.redact("abc padded-secret"), `abc ${MASK}`);
});

/** A value shape for a field: JSON, form, header line, NAME=value. */
function shapes(name: string, value: string): string[] {
  return [
    `{"${name}":"${value}","other":1}`,
    `{"${name}": "${value}"}`,
    `grant_type=x&${name}=${value}&client_id=app`,
    `${name}: ${value}`,
    `${name}=${value}`,
    `export ${name.toUpperCase()}=${value}`,
  ];
}

Deno.test("every field and header name in the tables is masked in JSON, form, header and NAME=value shapes", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...SECRET_FIELDS, ...SECRET_HEADERS),
      fc.string({
        unit: fc.constantFrom(...TOKEN_ALPHABET.split("")),
        minLength: 8,
        maxLength: 40,
      }),
      fc.constantFrom("", "MY_", "x-"),
      (name, value, prefix) => {
        const field = `${prefix}${name}`;
        for (const text of shapes(field, value)) {
          const out = redactPatterns(text);
          assert.ok(!out.includes(value), `${text} → ${out}`);
          assert.ok(out.toLowerCase().includes(name.toLowerCase()), "the name stays visible");
        }
      },
    ),
    { numRuns: 500 },
  );
  assert.equal(redactPatterns("passphrase=hunter2hunter2"), `passphrase=${MASK}`);
  assert.equal(redactPatterns("STRIPE_SECRET_KEY=sk_live_abcdef"), `STRIPE_SECRET_KEY=${MASK}`);
});

Deno.test("the prefilter's words come from the rules: each field and header contains one", () => {
  for (const name of [...SECRET_FIELDS, ...SECRET_HEADERS]) {
    assert.ok(
      TRIGGER_WORDS.some((w) => name.toLowerCase().includes(w)),
      `${name} has no trigger word`,
    );
  }
  assert.ok(TRIGGER_WORDS.every((w) => w === w.toLowerCase()));
});

Deno.test("settings that only look like secrets stay readable", () => {
  for (
    const text of [
      "max_output_tokens = 2000",
      '"token_type":"Bearer"',
      "grant_type=refresh_token&client_id=app",
      '{"OPENAI_API_KEY": null}',
    ]
  ) {
    assert.equal(redactPatterns(text), text);
  }
});
