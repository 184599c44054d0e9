/**
 * `$CODEX_HOME/config.toml`, the file codex and cdx share.
 *
 * @module
 */
import { CdxError } from "./errors.ts";
import { fileError, homePath, readTextIfExists } from "./fs.ts";

/** The loaded config: its path and parsed values (empty when the file is absent). */
export interface CdxConfig {
  /** Absolute path of config.toml. */
  path: string;
  /** Parsed TOML (empty when the file is absent or broken). */
  values: Record<string, unknown>;
  /** The raw text, when the file could be read. */
  text?: string;
  /**
   * Why the file could not be used (not TOML, unreadable), naming the file,
   * line and column. Commands that must work anyway (status, logout,
   * feedback) run with empty values and warn; the others stop with it.
   */
  error?: CdxError | undefined;
}

/** Path of config.toml inside a CODEX_HOME. */
export function configPath(codexHome: string): string {
  return homePath(codexHome, "config.toml");
}

const HINT = "fix or move the file; cdx reads the same config.toml as codex";

/**
 * Reads and parses config.toml. A missing file is an empty config; a file that
 * cannot be read or is not valid TOML gives an empty config whose `error`
 * names the file (and the line and column). The TOML parser is loaded only
 * when the file has content.
 *
 * @example
 * ```ts
 * const config = await loadConfig("/home/u/.codex");
 * if (config.error) throw config.error;
 * const model = config.values.model;
 * ```
 */
export async function loadConfig(codexHome: string): Promise<CdxConfig> {
  const path = configPath(codexHome);
  let text: string;
  try {
    const read = await readTextIfExists(path);
    if (read === undefined) return { path, values: {} };
    text = read;
  } catch (error) {
    const problem = fileError(error, "Error loading configuration", path, { dir: codexHome });
    if (!(problem instanceof CdxError)) throw problem;
    return {
      path,
      values: {},
      error: problem.hint
        ? problem
        : new CdxError(problem.message, { hint: HINT, cause: error, errorCode: "config" }),
    };
  }
  if (text.trim() === "") return { path, values: {}, text };
  try {
    return { path, values: await parseConfig(text, path), text };
  } catch (error) {
    if (!(error instanceof CdxError)) throw error;
    return { path, values: {}, text, error };
  }
}

/**
 * Parses config.toml text. A syntax error is a {@linkcode CdxError} naming
 * the file, the line and the column.
 */
async function parseConfig(text: string, path: string): Promise<Record<string, unknown>> {
  const { parse, TomlError } = await import("smol-toml");
  try {
    return parse(text) as Record<string, unknown>;
  } catch (error) {
    const detail = error instanceof TomlError
      ? `line ${error.line}, column ${error.column}: ${error.message.split("\n")[0]}`
      : (error as Error).message;
    throw new CdxError(`Error loading configuration: ${path}: ${detail}`, {
      hint: HINT,
      errorCode: "config",
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
