/**
 * A faithful fake of macOS `/usr/bin/security` for the generic-password
 * commands, for testing the macOS backend on Linux. Run through
 * `tests/fakes/bin/security` (placed first on PATH).
 *
 * Follows Apple's SecurityTool `security.c`:
 * - `-i`: commands read from stdin with `fgets` into a 4096-byte buffer, so a
 *   line longer than 4095 bytes is cut and the rest runs as a second command;
 *   `split_line` quoting (`"…"`/`'…'`, `\` escapes the next byte, at most 32
 *   arguments); a failing command prints `<cmd>: returned <n>`; the exit
 *   status is the last command's;
 * - command names match by prefix (`strncmp`);
 * - `find-generic-password -w` prints the value raw when every byte is
 *   printable ASCII, else the whole value as lowercase hex, then `\n`;
 * - exit 44 (item not found), 45 (duplicate without `-U`), 36 (keychain
 *   locked: "User interaction is not allowed."), 2 (usage).
 *
 * State: `FAKE_SECURITY_KEYCHAIN` (a JSON file, created on demand);
 * `FAKE_SECURITY_LOCKED=1` makes the keychain locked.
 *
 * @module
 */

const MAX_LINE_LEN = 4096;
const MAX_ARGS = 32;

interface Item {
  service: string;
  account: string;
  label: string;
  /** The password bytes as hex. */
  data: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const storePath = Deno.env.get("FAKE_SECURITY_KEYCHAIN");
const locked = Deno.env.get("FAKE_SECURITY_LOCKED") === "1";

function loadItems(): Item[] {
  if (!storePath) return [];
  try {
    return JSON.parse(Deno.readTextFileSync(storePath));
  } catch {
    return [];
  }
}

function saveItems(items: Item[]): void {
  if (!storePath) throw new Error("FAKE_SECURITY_KEYCHAIN not set");
  Deno.writeTextFileSync(storePath, JSON.stringify(items));
}

function err(text: string): void {
  Deno.stderr.writeSync(encoder.encode(`${text}\n`));
}

function out(bytes: Uint8Array | string): void {
  Deno.stdout.writeSync(typeof bytes === "string" ? encoder.encode(bytes) : bytes);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** BSD getopt over `spec` (a letter followed by `:` takes a value). */
function getopt(
  argv: string[],
  spec: string,
): { opts: Map<string, string>; rest: string[] } | undefined {
  const opts = new Map<string, string>();
  let i = 1;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j];
      const at = spec.indexOf(letter);
      if (at < 0) return undefined;
      if (spec[at + 1] === ":") {
        const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
        if (value === undefined) return undefined;
        opts.set(letter, value);
        break;
      }
      opts.set(letter, "");
    }
  }
  return { opts, rest: argv.slice(i) };
}

/** `split_line` from security.c, on bytes (works on the UTF-8 text's code units). */
function splitLine(line: Uint8Array): string[] {
  const args: number[][] = [];
  let current: number[] = [];
  type State = "SKIP_WS" | "READ_ARG" | "READ_ARG_ESCAPED" | "QUOTED_ARG" | "QUOTED_ARG_ESCAPED";
  let state: State = "SKIP_WS";
  let quote = 0;
  const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
  for (const c of line) {
    if (c === 0) break; // C string
    if (state === "SKIP_WS") {
      if (isSpace(c)) continue;
      if (c === 0x22 || c === 0x27) {
        quote = c;
        state = "QUOTED_ARG";
        current = [];
        continue;
      }
      state = "READ_ARG";
      current = [];
    }
    if (state === "READ_ARG") {
      if (c === 0x5c) {
        state = "READ_ARG_ESCAPED";
        continue;
      } else if (isSpace(c)) {
        args.push(current);
        state = "SKIP_WS";
        if (args.length >= MAX_ARGS) break;
      } else current.push(c);
    }
    if (state === "QUOTED_ARG") {
      if (c === 0x5c) {
        state = "QUOTED_ARG_ESCAPED";
        continue;
      }
      if (c === quote) {
        args.push(current);
        state = "SKIP_WS";
        if (args.length >= MAX_ARGS) break;
      } else current.push(c);
    }
    if (state === "READ_ARG_ESCAPED") {
      current.push(c);
      state = "READ_ARG";
    }
    if (state === "QUOTED_ARG_ESCAPED") {
      current.push(c);
      state = "QUOTED_ARG";
    }
  }
  if (state !== "SKIP_WS") args.push(current);
  return args.map((a) => decoder.decode(new Uint8Array(a)));
}

/** Password bytes: `-w`'s argument is a C string (UTF-8 bytes up to NUL). */
function passwordBytes(text: string): Uint8Array {
  return encoder.encode(text);
}

const NOT_FOUND =
  "SecKeychainSearchCopyNext: The specified item could not be found in the keychain.";

function addGenericPassword(argv: string[]): number {
  const parsed = getopt(argv, "a:c:C:D:G:j:l:s:p:w:UAT:");
  if (!parsed) return 2;
  const { opts } = parsed;
  const account = opts.get("a");
  const service = opts.get("s");
  const password = opts.get("w") ?? opts.get("p");
  if (account === undefined || service === undefined) return 2;
  if (password === undefined) {
    // The real tool would prompt with getpass() here.
    err("security: password prompt not supported by the fake");
    return 1;
  }
  if (locked) {
    err("security: SecKeychainItemCreateFromContent (<default>): User interaction is not allowed.");
    return 36;
  }
  const items = loadItems();
  const existing = items.find((i) => i.service === service && i.account === account);
  if (existing && !opts.has("U")) {
    err(
      "security: SecKeychainItemCreateFromContent (<default>): The specified item already exists in the keychain.",
    );
    return 45;
  }
  const data = toHex(passwordBytes(password));
  if (existing) {
    existing.data = data;
  } else {
    items.push({ service, account, label: opts.get("l") ?? service, data });
  }
  saveItems(items);
  return 0;
}

function findGenericPassword(argv: string[]): number {
  const parsed = getopt(argv, "a:c:C:D:G:j:l:s:gw");
  if (!parsed) return 2;
  const { opts } = parsed;
  const item = loadItems().find((i) =>
    (!opts.has("s") || i.service === opts.get("s")) &&
    (!opts.has("a") || i.account === opts.get("a")) &&
    (!opts.has("l") || i.label === opts.get("l"))
  );
  if (!item) {
    err(`security: ${NOT_FOUND}`);
    return 44;
  }
  if (opts.has("w") || opts.has("g")) {
    if (locked) {
      err("security: SecKeychainItemCopyContent (<NULL>): User interaction is not allowed.");
      return 36;
    }
  }
  if (opts.has("w")) {
    const bytes = fromHex(item.data);
    const printable = bytes.every((b) => b >= 0x20 && b <= 0x7e);
    out(printable ? bytes : encoder.encode(toHex(bytes)));
    out("\n");
    return 0;
  }
  out(`keychain: "/Users/fake/Library/Keychains/login.keychain-db"\nclass: "genp"\n`);
  out(`    "acct"<blob>="${item.account}"\n    "svce"<blob>="${item.service}"\n`);
  return 0;
}

function deleteGenericPassword(argv: string[]): number {
  const parsed = getopt(argv, "a:c:C:D:G:j:l:s:");
  if (!parsed) return 2;
  const { opts } = parsed;
  const items = loadItems();
  const index = items.findIndex((i) =>
    (!opts.has("s") || i.service === opts.get("s")) &&
    (!opts.has("a") || i.account === opts.get("a"))
  );
  if (index < 0) {
    err(`security: ${NOT_FOUND}`);
    return 44;
  }
  if (locked) {
    err("security: SecKeychainItemDelete: User interaction is not allowed.");
    return 36;
  }
  const [item] = items.splice(index, 1);
  saveItems(items);
  out(
    `keychain: "/Users/fake/Library/Keychains/login.keychain-db"\n    "acct"<blob>="${item.account}"\n`,
  );
  err("password has been deleted.");
  return 0;
}

const COMMANDS: Array<[string, (argv: string[]) => number]> = [
  ["add-generic-password", addGenericPassword],
  ["find-generic-password", findGenericPassword],
  ["delete-generic-password", deleteGenericPassword],
];

function executeCommand(argv: string[]): number {
  if (argv.length === 0) return 0;
  const command = COMMANDS.find(([name]) => name.startsWith(argv[0]));
  if (!command) {
    err(`security: unknown command "${argv[0]}"`);
    return 1;
  }
  const result = command[1](argv);
  if (result === 2) err(`Usage: ${command[0]} …`);
  return result;
}

/** fgets(buffer, 4096): a line of at most 4095 bytes, newline included when it fits. */
function* fgetsLines(input: Uint8Array): Generator<Uint8Array> {
  let offset = 0;
  while (offset < input.length) {
    const limit = Math.min(input.length, offset + MAX_LINE_LEN - 1);
    let end = offset;
    while (end < limit && input[end] !== 0x0a) end++;
    if (end < input.length && input[end] === 0x0a && end < offset + MAX_LINE_LEN - 1) end++;
    let line = input.subarray(offset, end);
    offset = end;
    if (line.at(-1) === 0x0a) line = line.subarray(0, -1);
    yield line;
  }
}

async function readAll(): Promise<Uint8Array> {
  return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
}

async function main(args: string[]): Promise<number> {
  let interactive = false;
  let i = 0;
  for (; i < args.length && args[i].startsWith("-"); i++) {
    if (args[i] === "-i") interactive = true;
    else if (args[i] === "-q" || args[i] === "-v") continue;
    else return 2;
  }
  const rest = args.slice(i);
  if (rest.length > 0) return executeCommand(["", ...rest].slice(1));
  if (!interactive) return 2;
  let result = 0;
  for (const line of fgetsLines(await readAll())) {
    const argv = splitLine(line);
    result = executeCommand(argv);
    if (result !== 0) err(`${argv[0]}: returned ${result}`);
  }
  return result;
}

Deno.exit(await main(Deno.args));
