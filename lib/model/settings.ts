/**
 * What `cdx run` reads from config.toml, and `-c key=value` overrides of it
 * for one run, the way codex exec takes them: the value is parsed as a TOML
 * value (`-c model_verbosity=low`, `-c 'model_providers.x.http_headers={a="b"}'`)
 * and, when it is not valid TOML, used as a string with surrounding quotes
 * removed. Unlike codex, an override of a key cdx does not use is an error
 * naming the key: a script never believes a setting took effect when it did
 * not.
 *
 * Keys: `model`, `model_provider`, `model_reasoning_effort`,
 * `model_reasoning_summary`, `model_verbosity`, `openai_base_url`, and
 * `model_providers.<id>.<field>` with codex's provider fields.
 *
 * @module
 */
import { CdxError, UsageError } from "../errors.ts";

/** One `-c key=value`, parsed. */
export interface ConfigOverride {
  /** The dotted key as given, e.g. `model_providers.fake.base_url`. */
  key: string;
  /** The key split at dots. */
  path: string[];
  /** The parsed TOML value. */
  value: unknown;
}

type Check = (value: unknown) => string | undefined;

const isString: Check = (v) => (typeof v === "string" ? undefined : "must be a string");
const oneOf = (...allowed: string[]): Check => (v) =>
  typeof v === "string" && allowed.includes(v) ? undefined : `must be one of ${allowed.join(", ")}`;
const integer = (min: number, max: number): Check => (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= min && v <= max
    ? undefined
    : `must be a whole number from ${min} to ${max}`;
const isBoolean: Check = (v) => (typeof v === "boolean" ? undefined : "must be true or false");
const isUrl: Check = (v) => {
  if (typeof v !== "string") return "must be a URL string";
  try {
    const url = new URL(v);
    return url.protocol === "http:" || url.protocol === "https:" ? undefined : "must be http(s)";
  } catch {
    return "must be a URL";
  }
};

/** A check, a table with known fields, or a table whose keys are free (ids, header names). */
type Node = Check | { fields: Record<string, Node> } | { each: Node };

/** Reasoning efforts codex 0.169.0 accepts. */
export const REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"] as const;

const STRINGS: Node = { each: isString };

const PROVIDER: Node = {
  fields: {
    name: isString,
    base_url: isUrl,
    env_key: isString,
    env_key_instructions: isString,
    wire_api: oneOf("responses"),
    query_params: STRINGS,
    http_headers: STRINGS,
    env_http_headers: STRINGS,
    request_max_retries: integer(0, 100),
    stream_max_retries: integer(0, 100),
    stream_idle_timeout_ms: integer(1, 86_400_000),
    requires_openai_auth: isBoolean,
  },
};

const ROOT: { fields: Record<string, Node> } = {
  fields: {
    model: isString,
    model_provider: isString,
    model_reasoning_effort: oneOf(...REASONING_EFFORTS),
    model_reasoning_summary: oneOf("auto", "concise", "detailed", "none"),
    model_verbosity: oneOf("low", "medium", "high"),
    openai_base_url: isUrl,
    model_providers: { each: PROVIDER },
  },
};

/** The keys `-c` accepts, for messages. */
export const OVERRIDE_KEYS = [
  ...Object.keys(ROOT.fields).filter((k) => k !== "model_providers"),
  "model_providers.<id>.<field>",
];

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Checks `value` at `path` against the schema; returns a problem naming the key, if any. */
function check(path: readonly string[], value: unknown): string | undefined {
  const key = path.join(".");
  let node: Node | undefined = ROOT;
  for (const part of path) {
    if (node === undefined || typeof node === "function") return `unknown key ${key}`;
    node = "fields" in node ? node.fields[part] : node.each;
  }
  return node === undefined ? `unknown key ${key}` : checkValue(key, node, value);
}

function checkValue(key: string, node: Node, value: unknown): string | undefined {
  if (typeof node === "function") {
    const problem = node(value);
    return problem && `${key} ${problem}`;
  }
  if (!isTable(value)) return `${key} must be a table`;
  for (const [name, v] of Object.entries(value)) {
    const child = "fields" in node ? node.fields[name] : node.each;
    if (child === undefined) return `unknown key ${key}.${name}`;
    const problem = checkValue(`${key}.${name}`, child, v);
    if (problem) return problem;
  }
  return undefined;
}

/** codex's TOML value parse: `_x_ = <raw>`; not TOML → the raw text, quotes trimmed. */
async function parseTomlValue(raw: string): Promise<unknown> {
  // Loaded only for a run with -c: a run without it starts without any npm package.
  const { parse } = await import("smol-toml");
  try {
    return (parse(`_x_ = ${raw}`) as Record<string, unknown>)._x_;
  } catch {
    return raw.trim().replace(/^["']+|["']+$/g, "");
  }
}

/**
 * Parses and checks one `-c key=value`. Bad shape, an unknown key or a bad
 * value is a {@linkcode UsageError} that names the key.
 *
 * @example
 * ```ts
 * await parseConfigOverride("model_reasoning_effort=high"); // { key: "model_reasoning_effort", path: [...], value: "high" }
 * ```
 */
export async function parseConfigOverride(raw: string): Promise<ConfigOverride> {
  const eq = raw.indexOf("=");
  const key = (eq < 0 ? "" : raw.slice(0, eq)).trim();
  if (!key) {
    throw new UsageError(`-c ${JSON.stringify(raw)}: expected key=value`, {
      hint: "e.g. -c model_reasoning_effort=high",
    });
  }
  const path = key.split(".").map((p) => p.trim());
  if (path.some((p) => p === "")) throw new UsageError(`-c ${key}: empty part in the key`);
  const value = await parseTomlValue(raw.slice(eq + 1));
  const problem = check(path, value);
  if (problem) {
    throw new UsageError(`-c: ${problem}`, {
      hint: `cdx run accepts -c for ${OVERRIDE_KEYS.join(", ")}`,
    });
  }
  return { key, path, value };
}

/** config.toml's values with `overrides` applied (a copy; the loaded config is not changed). */
export function applyConfigOverrides(
  values: Record<string, unknown>,
  overrides: readonly ConfigOverride[],
): Record<string, unknown> {
  const out = structuredClone(values);
  for (const { path, value } of overrides) {
    let node = out;
    for (const part of path.slice(0, -1)) {
      if (!isTable(node[part])) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[path.at(-1)!] = structuredClone(value);
  }
  return out;
}

/** The model provider a run talks to. */
export interface ProviderSettings {
  /** `model_provider`; `openai` is the built-in one. */
  id: string;
  /** Whether it is the built-in OpenAI provider (credentials as `cdx login` stores them). */
  builtin: boolean;
  /** Its `base_url` (configured providers only). */
  baseUrl?: string;
  /** Environment variable holding its API key. */
  envKey?: string;
  /** How to get that key, for the error when it is missing. */
  envKeyInstructions?: string;
  /** Whether it takes the OpenAI credentials of `cdx login` / the environment. */
  requiresOpenaiAuth: boolean;
  /** `query_params`, appended to the URL. */
  query: Record<string, string>;
  /** `http_headers`, sent as they are. */
  headers: Record<string, string>;
  /** Header name → environment variable. */
  envHeaders: Record<string, string>;
  /** `request_max_retries`: the retry limit. */
  requestMaxRetries?: number;
  /** `stream_idle_timeout_ms`: the `--idle-timeout` default. */
  streamIdleTimeoutMs?: number;
}

/** What config.toml (+ `-c`) says about a run. */
export interface RunSettings {
  /** `model`. */
  model?: string;
  /** `openai_base_url` (built-in provider). */
  openaiBaseUrl?: string;
  /** `model_reasoning_effort`. */
  reasoningEffort?: string;
  /** `model_reasoning_summary`. */
  reasoningSummary?: string;
  /** `model_verbosity`. */
  verbosity?: string;
  /** The provider `model_provider` names. */
  provider: ProviderSettings;
}

/**
 * Reads the settings `cdx run` uses from config values (already merged with
 * `-c`). A value of the wrong type is a CdxError naming the key and `where`
 * it came from.
 */
export function runSettings(values: Record<string, unknown>, where: string): RunSettings {
  const pick = <T>(key: string): T | undefined => {
    const value = values[key];
    if (value === undefined) return undefined;
    const problem = check([key], value);
    if (problem) throw new CdxError(`${where}: ${problem}`);
    return value as T;
  };
  const id = pick<string>("model_provider") ?? "openai";
  let provider: ProviderSettings = {
    id,
    builtin: true,
    requiresOpenaiAuth: true,
    query: {},
    headers: {},
    envHeaders: {},
  };
  if (id !== "openai") {
    const table = isTable(values.model_providers) ? values.model_providers[id] : undefined;
    if (table === undefined) {
      throw new UsageError(`model_provider "${id}" is not defined`, {
        hint: `add [model_providers.${id}] with base_url to ${where}, or pick another provider`,
      });
    }
    const problem = check(["model_providers", id], table);
    if (problem) throw new CdxError(`${where}: ${problem}`);
    const p = table as Record<string, unknown>;
    if (typeof p.base_url !== "string") {
      throw new CdxError(`${where}: model_providers.${id}.base_url is missing`);
    }
    provider = {
      id,
      builtin: false,
      baseUrl: p.base_url,
      envKey: p.env_key as string | undefined,
      envKeyInstructions: p.env_key_instructions as string | undefined,
      requiresOpenaiAuth: p.requires_openai_auth === true,
      query: (p.query_params ?? {}) as Record<string, string>,
      headers: (p.http_headers ?? {}) as Record<string, string>,
      envHeaders: (p.env_http_headers ?? {}) as Record<string, string>,
      requestMaxRetries: p.request_max_retries as number | undefined,
      streamIdleTimeoutMs: p.stream_idle_timeout_ms as number | undefined,
    };
  }
  return {
    model: pick("model"),
    openaiBaseUrl: pick("openai_base_url"),
    reasoningEffort: pick("model_reasoning_effort"),
    reasoningSummary: pick("model_reasoning_summary"),
    verbosity: pick("model_verbosity"),
    provider,
  };
}
