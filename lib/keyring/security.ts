/**
 * macOS backend: the login keychain through `/usr/bin/security`.
 *
 * - Write: `security -i` with ONE command line on stdin
 *   (`add-generic-password -U -a … -s … -w "<value>"`), so the secret never
 *   appears in argv. The line must stay under 4095 bytes (a longer one is cut
 *   and the rest executed as a second command), so the item limit depends on
 *   the service and account; the chunking wrapper splits longer values.
 *   Quoting follows `security.c`'s `split_line`: inside `"…"`, `\` escapes
 *   the next byte. A raw line break can never travel on the line, so a value
 *   containing `\n`, `\r` or NUL is stored as `cdx-base64:<base64>` (codex
 *   never writes such values: its items are compact JSON).
 * - Read: `find-generic-password -s … -a … -w`, which prints the value raw if
 *   every byte is printable ASCII and as lowercase hex otherwise.
 * - Exit 44 = absent; 36 / "User interaction is not allowed" = locked.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { ProcessResult, ProcessRunner } from "../process.ts";
import type { RawKeyring } from "./chunked.ts";
import { KeyringError, KeyringLockedError, verifySaved } from "./store.ts";
import { KeyringTool, toolMessage } from "./tool.ts";

/** Longest command line `security -i` reads whole (its buffer is 4096 bytes). */
export const SECURITY_LINE_MAX = 4095;

/** Exit status of `security` when the item does not exist (errSecItemNotFound & 0xff). */
export const SECURITY_EXIT_NOT_FOUND = 44;
/** Exit status when the keychain is locked / no UI is allowed (errSecInteractionNotAllowed & 0xff). */
export const SECURITY_EXIT_INTERACTION_NOT_ALLOWED = 36;

/** Prefix of values cdx had to encode because they contain line breaks or NUL. */
export const BASE64_VALUE_PREFIX = "cdx-base64:";

const SECURITY_HINT = "cdx uses /usr/bin/security, which ships with macOS";
const LOCKED_HINT =
  "unlock it with `security unlock-keychain ~/Library/Keychains/login.keychain-db` (over SSH there is no UI to ask)";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Quotes one argument for `security -i` (`split_line`: `\` escapes the next byte inside quotes). */
export function quoteSecurityArg(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

/** The command line that stores `value` (without the final newline). */
export function addGenericPasswordLine(service: string, account: string, value: string): string {
  return `add-generic-password -U -a ${quoteSecurityArg(account)} -s ${
    quoteSecurityArg(service)
  } -w ${quoteSecurityArg(value)}`;
}

/**
 * Decodes `find-generic-password -w` output: one trailing newline removed;
 * lowercase hex is decoded when it stands for bytes of which at least one is
 * not printable (only then does `security` switch to hex, so the test is
 * unambiguous).
 */
export function decodeSecurityOutput(stdout: Uint8Array): string {
  let text = decoder.decode(stdout);
  if (text.endsWith("\n")) text = text.slice(0, -1);
  if (text.length > 0 && text.length % 2 === 0 && /^[0-9a-f]+$/.test(text)) {
    const bytes = new Uint8Array(text.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    if (bytes.some((b) => b < 0x20 || b > 0x7e)) return decoder.decode(bytes);
  }
  return text;
}

function base64Encode(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function base64Decode(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Options of {@linkcode SecurityKeyring}. */
export interface SecurityOptions {
  /** Spawns `security` (the Context's process runner, or a fake in tests). */
  runner: ProcessRunner;
  /** The parent environment; children get only the variables a keychain tool needs. */
  env?: { get(name: string): string | undefined };
  /** Aborting stops the keychain call at once (`CancelledError`). */
  signal?: AbortSignal;
  /** Bound on each `security` call, ms (default 3000). */
  timeoutMs?: number;
  /** Read every saved value back and compare (default true). */
  verifySaves?: boolean;
  /** The program (default `security`, found on PATH; on macOS that is /usr/bin/security). */
  security?: string;
  /** Not used by this backend today; accepted so every backend takes the same options. */
  logger?: Logger;
}

/**
 * The macOS keychain through `security`, one generic password per (service, account).
 *
 * @example
 * ```ts
 * const raw = new SecurityKeyring({ runner, signal: ctx.signal });
 * await raw.load("Codex Auth", "cli|0123456789abcdef");
 * ```
 */
export class SecurityKeyring implements RawKeyring {
  readonly #tool: KeyringTool;
  readonly #security: string;
  readonly #verify: boolean;

  /** Spawns nothing until the first call. */
  constructor(options: SecurityOptions) {
    this.#tool = new KeyringTool({
      runner: options.runner,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      env: options.env,
      installHint: SECURITY_HINT,
      keychainName: "macOS keychain",
      logger: options.logger,
    });
    this.#security = options.security ?? "security";
    this.#verify = options.verifySaves ?? true;
  }

  /** Children spawned so far. */
  get spawns(): number {
    return this.#tool.spawns;
  }

  /** Whether `save` reads the item back. */
  get verifiesSaves(): boolean {
    return this.#verify;
  }

  describe(): string {
    return "macOS keychain (security)";
  }

  maxValueSize(service: string, account: string): number {
    return SECURITY_LINE_MAX - encoder.encode(addGenericPasswordLine(service, account, "")).length;
  }

  /** UTF-8 bytes plus one escape byte per `"` or `\`. */
  valueSize(value: string): number {
    let size = encoder.encode(value).length;
    for (const ch of value) if (ch === '"' || ch === "\\") size++;
    return size;
  }

  encodeValue(value: string): string {
    if (!/[\n\r\0]/.test(value) && !value.startsWith(BASE64_VALUE_PREFIX)) return value;
    return BASE64_VALUE_PREFIX + base64Encode(encoder.encode(value));
  }

  decodeValue(stored: string): string {
    if (!stored.startsWith(BASE64_VALUE_PREFIX)) return stored;
    try {
      return decoder.decode(base64Decode(stored.slice(BASE64_VALUE_PREFIX.length)));
    } catch {
      throw new KeyringError("corrupt keychain item: bad base64 after the cdx-base64: prefix");
    }
  }

  async load(service: string, account: string): Promise<string | undefined> {
    const result = await this.#tool.run(
      this.#security,
      ["find-generic-password", "-s", service, "-a", account, "-w"],
      "load",
    );
    if (result.code === 0) return decodeSecurityOutput(result.stdout);
    if (result.code === SECURITY_EXIT_NOT_FOUND) return undefined;
    throw this.#failure(result, "load");
  }

  async save(service: string, account: string, value: string): Promise<void> {
    if (/[\n\r\0]/.test(value)) {
      throw new KeyringError("a line break cannot be stored through `security -i`");
    }
    const line = addGenericPasswordLine(service, account, value);
    if (encoder.encode(line).length > SECURITY_LINE_MAX) {
      throw new KeyringError(
        `value too long for one macOS keychain command line (max ${
          this.maxValueSize(service, account)
        } bytes after quoting)`,
      );
    }
    const result = await this.#tool.run(this.#security, ["-i"], "save", `${line}\n`);
    if (result.code !== 0) throw this.#failure(result, "save", value);
    if (this.#verify) await verifySaved(() => this.load(service, account), value, "macOS keychain");
  }

  async delete(service: string, account: string): Promise<boolean> {
    const result = await this.#tool.run(
      this.#security,
      ["delete-generic-password", "-s", service, "-a", account],
      "delete",
    );
    if (result.code === 0) return true;
    if (result.code === SECURITY_EXIT_NOT_FOUND) return false;
    throw this.#failure(result, "delete");
  }

  #failure(result: ProcessResult, what: string, secret?: string): KeyringError {
    let message = toolMessage(result) || `security exited with ${result.code}`;
    // Belt and braces: a cut line would echo part of it in "unknown command".
    if (secret) message = message.split(secret).join("[REDACTED]");
    if (
      result.code === SECURITY_EXIT_INTERACTION_NOT_ALLOWED ||
      /User interaction is not allowed/i.test(message)
    ) {
      return new KeyringLockedError(
        `macOS keychain is locked (${what}): ${message}; ${LOCKED_HINT}`,
      );
    }
    if (result.code === 128) {
      return new KeyringError(`macOS keychain access was denied (${what}): ${message}`);
    }
    return new KeyringError(`macOS keychain ${what} failed (exit ${result.code}): ${message}`);
  }
}
