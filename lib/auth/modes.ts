/**
 * Credential store modes (`cli_auth_credentials_store`) and their precedence:
 * `--store` > `CDX_CREDENTIALS_STORE` > config.toml > `auto`. Plus the one
 * config.toml edit cdx makes: adding `cli_auth_credentials_store = "auto"` so
 * codex looks in the keychain too.
 *
 * @module
 */
import { CdxError, ExitCode } from "../errors.ts";
import type { Env } from "../context.ts";
import { type CdxConfig, configPath } from "../config.ts";
import { fileError, readTextIfExists, writeFileAtomic } from "../fs.ts";

/** Credential store modes (`cli_auth_credentials_store`). */
export const STORE_MODES = ["file", "keyring", "auto", "ephemeral"] as const;
/** A credential store mode. */
export type StoreMode = typeof STORE_MODES[number];

/** The config.toml key codex reads. */
export const STORE_CONFIG_KEY = "cli_auth_credentials_store";
/** The environment variable that overrides config.toml. */
export const STORE_ENV = "CDX_CREDENTIALS_STORE";

/** Where the effective mode came from. */
export type StoreModeSource = "option" | "env" | "config" | "default";

/** The effective mode and its source. */
export interface ResolvedStoreMode {
  /** The mode in effect. */
  mode: StoreMode;
  /** Where it came from: `--store`, the environment, config.toml or the default. */
  source: StoreModeSource;
  /** The config.toml value, when set (even if overridden). */
  configured?: StoreMode;
}

function isStoreMode(value: unknown): value is StoreMode {
  return typeof value === "string" && (STORE_MODES as readonly string[]).includes(value);
}

/**
 * Resolves the store mode.
 *
 * @example
 * ```ts
 * resolveStoreMode({ option: undefined, env: mapEnv({}), config }); // { mode: "auto", source: "default" }
 * ```
 */
export function resolveStoreMode(input: {
  option?: StoreMode;
  env: Env;
  config: CdxConfig;
}): ResolvedStoreMode {
  const raw = input.config.values[STORE_CONFIG_KEY];
  let configured: StoreMode | undefined;
  if (raw !== undefined) {
    if (!isStoreMode(raw)) {
      throw new CdxError(
        `Error loading configuration: ${input.config.path}: ${STORE_CONFIG_KEY} must be one of ${
          STORE_MODES.join(", ")
        }, not ${JSON.stringify(raw)}`,
        {
          hint: `fix ${STORE_CONFIG_KEY} in ${input.config.path} (codex reads the same key)`,
          errorCode: "config",
        },
      );
    }
    configured = raw;
  }
  if (input.option) return { mode: input.option, source: "option", configured };
  const fromEnv = input.env.get(STORE_ENV);
  if (fromEnv !== undefined && fromEnv !== "") {
    const value = fromEnv.trim().toLowerCase();
    if (!isStoreMode(value)) {
      throw new CdxError(
        `${STORE_ENV} must be one of ${STORE_MODES.join(", ")}, not ${JSON.stringify(fromEnv)}`,
        { exitCode: ExitCode.USAGE, hint: `unset ${STORE_ENV} or set it to one of these` },
      );
    }
    return { mode: value, source: "env", configured };
  }
  if (configured) return { mode: configured, source: "config", configured };
  return { mode: "auto", source: "default" };
}

/**
 * config.toml text with `cli_auth_credentials_store = "auto"` added at the top
 * level: before the first table header, so it is not swallowed by a table;
 * every other byte unchanged.
 */
export function insertStoreKey(text: string, mode: StoreMode = "auto"): string {
  const line = `${STORE_CONFIG_KEY} = "${mode}"`;
  if (text === "") return `${line}\n`;
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  // First line that opens a table ([x] or [[x]]) outside a multi-line string.
  const lines = text.split(/(?<=\n)/);
  let offset = 0;
  let inMultiline: string | undefined;
  for (const l of lines) {
    const trimmed = l.trimStart();
    if (inMultiline) {
      if (countOccurrences(l, inMultiline) % 2 === 1) inMultiline = undefined;
    } else if (trimmed.startsWith("[")) {
      return text.slice(0, offset) + line + eol + text.slice(offset);
    } else {
      for (const quote of ['"""', "'''"]) {
        if (countOccurrences(l, quote) % 2 === 1) inMultiline = quote;
      }
    }
    offset += l.length;
  }
  const sep = text.endsWith("\n") ? "" : eol;
  return text + sep + line + eol;
}

const KEY_LINE = new RegExp(
  String.raw`^(\s*["']?${STORE_CONFIG_KEY}["']?\s*=\s*)(?:"[^"\n]*"|'[^'\n]*')`,
);

/**
 * config.toml text with the top-level store key set to `mode`: its value
 * replaced where it is, or the key inserted; every other byte unchanged.
 *
 * @example
 * ```ts
 * setStoreKey('cli_auth_credentials_store = "auto" # why\n', "file");
 * // 'cli_auth_credentials_store = "file" # why\n'
 * ```
 */
export function setStoreKey(text: string, mode: StoreMode): string {
  const lines = text.split(/(?<=\n)/);
  let offset = 0;
  let inMultiline: string | undefined;
  for (const l of lines) {
    if (inMultiline) {
      if (countOccurrences(l, inMultiline) % 2 === 1) inMultiline = undefined;
    } else if (l.trimStart().startsWith("[")) {
      break;
    } else {
      const m = KEY_LINE.exec(l);
      if (m) {
        return text.slice(0, offset) + m[1] + `"${mode}"` + l.slice(m[0].length) +
          text.slice(offset + l.length);
      }
      for (const quote of ['"""', "'''"]) {
        if (countOccurrences(l, quote) % 2 === 1) inMultiline = quote;
      }
    }
    offset += l.length;
  }
  return insertStoreKey(text, mode);
}

/**
 * `cdx login --store MODE`: makes the choice stick for cdx and codex by
 * setting `cli_auth_credentials_store` in config.toml. Returns the path, or
 * undefined when it already said so. An unparsable config.toml is an error
 * (cdx never rewrites what it cannot read).
 */
export async function writeStoreKeyInConfig(
  codexHome: string,
  mode: StoreMode,
): Promise<string | undefined> {
  const path = configPath(codexHome);
  const text = (await readTextIfExists(path)) ?? "";
  const { parse } = await import("smol-toml");
  let values: Record<string, unknown>;
  try {
    values = parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new CdxError(`cannot record the store choice: ${path} is not valid TOML`, {
      hint: "fix the file (cdx leaves a config it cannot read untouched)",
      cause: error,
    });
  }
  if (values[STORE_CONFIG_KEY] === mode) return undefined;
  let fileMode = 0o600;
  try {
    const info = await Deno.stat(path);
    if (info.mode !== null) fileMode = info.mode & 0o777;
  } catch { /* new file */ }
  try {
    await writeFileAtomic(path, setStoreKey(text, mode), { mode: fileMode });
  } catch (error) {
    throw fileError(error, "cannot record the store choice", path);
  }
  return path;
}

/**
 * `cdx login --store MODE`: records the choice with
 * {@linkcode writeStoreKeyInConfig} and says so — a note, or a warning when
 * the file could not be written (the login itself is saved by then).
 */
export async function recordStoreChoice(
  codexHome: string,
  mode: StoreMode,
): Promise<{ level: "note" | "warning"; text: string }> {
  const setting = `${STORE_CONFIG_KEY} = "${mode}"`;
  try {
    const path = await writeStoreKeyInConfig(codexHome, mode);
    const where = path ?? configPath(codexHome);
    return {
      level: "note",
      text: `saved ${setting} in ${where}: cdx and codex use this store from now on`,
    };
  } catch (error) {
    return {
      level: "warning",
      text: `the credentials are saved, but ${setting} could not be written to config.toml (${
        (error as Error).message
      }); later commands use the store config.toml names unless given --store`,
    };
  }
}

function countOccurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/**
 * Adds the store key to `$CODEX_HOME/config.toml` when it is not set (creating
 * the file if needed). Returns the path when it wrote, undefined when the key
 * was already there. Reads the file again right before writing, so an edit
 * made since cdx started is not lost.
 */
export async function ensureStoreKeyInConfig(
  codexHome: string,
  mode: StoreMode = "auto",
): Promise<string | undefined> {
  const path = configPath(codexHome);
  const text = (await readTextIfExists(path)) ?? "";
  const { parse } = await import("smol-toml");
  let values: Record<string, unknown> = {};
  try {
    values = parse(text) as Record<string, unknown>;
  } catch {
    // An unparsable config is left alone: cdx never rewrites what it cannot read.
    return undefined;
  }
  if (values[STORE_CONFIG_KEY] !== undefined) return undefined;
  let fileMode = 0o600;
  try {
    const info = await Deno.stat(path);
    if (info.mode !== null) fileMode = info.mode & 0o777;
  } catch { /* new file */ }
  await writeFileAtomic(path, insertStoreKey(text, mode), { mode: fileMode });
  return path;
}

/** `forced_login_method` from config.toml ("chatgpt" | "api"), as codex enforces it. */
export function checkForcedLoginMethod(
  ctx: { config: CdxConfig },
  method: "chatgpt" | "api",
): void {
  const forced = ctx.config.values.forced_login_method;
  if (forced === "chatgpt" && method === "api") {
    throw new CdxError("API key login is disabled. Use ChatGPT login instead.");
  }
  if (forced === "api" && method === "chatgpt") {
    throw new CdxError("ChatGPT login is disabled. Use API key login instead.");
  }
}
