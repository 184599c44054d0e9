/**
 * `$CODEX_HOME/config.toml`, the file codex and cdx share.
 *
 * @module
 */
import { parse, TomlError } from "smol-toml";
import { CdxError } from "./errors.ts";

/** The loaded config: its path and parsed values (empty when the file is absent). */
export interface CdxConfig {
  /** Absolute path of config.toml. */
  path: string;
  /** Parsed TOML. */
  values: Record<string, unknown>;
  /** The raw text, when the file exists. */
  text?: string;
}

/** Path of config.toml inside a CODEX_HOME. */
export function configPath(codexHome: string): string {
  return `${codexHome.replace(/[\\/]+$/, "")}/config.toml`;
}

/**
 * Reads and parses config.toml. A missing file is an empty config; a file that
 * is not valid TOML is a {@linkcode CdxError} naming the file and the line.
 *
 * @example
 * ```ts
 * const config = await loadConfig("/home/u/.codex");
 * const model = config.values.model;
 * ```
 */
export async function loadConfig(codexHome: string): Promise<CdxConfig> {
  const path = configPath(codexHome);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return { path, values: {} };
    }
    throw new CdxError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return { path, values: parseConfig(text, path), text };
}

/** Parses config.toml text; errors name the file. */
export function parseConfig(text: string, path: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (error) {
    const detail = error instanceof TomlError
      ? `line ${error.line}, column ${error.column}: ${error.message.split("\n")[0]}`
      : (error as Error).message;
    throw new CdxError(`Error loading configuration: ${path}: ${detail}`, {
      hint: "fix or move the file; cdx reads the same config.toml as codex",
    });
  }
}

/** A string value of the config at a dotted path (`"feedback.dsn"`), if set. */
export function configString(config: CdxConfig, key: string): string | undefined {
  let node: unknown = config.values;
  for (const part of key.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return typeof node === "string" ? node : undefined;
}
