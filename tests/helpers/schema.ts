/**
 * Validates cdx's `--json` output against the JSON Schemas in `schemas/`
 * (Ajv 8, JSON Schema 2020-12, with ajv-formats for `date-time`). Test-only:
 * cdx itself never loads a validator.
 *
 * @module
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { ValidateFunction } from "ajv";
import { ROOT } from "./cli.ts";

/** The schema files, by name (`schemas/<name>.json`). */
export const SCHEMA_NAMES = [
  "status",
  "token",
  "logout",
  "feedback",
  "error",
  "run-events",
] as const;
/** A schema name. */
export type SchemaName = typeof SCHEMA_NAMES[number];

/** Parsed JSON output, loosely typed for assertions (the schema is what checks it). */
// deno-lint-ignore no-explicit-any
export type Parsed = any;

let validators: Map<SchemaName, ValidateFunction> | undefined;

/** The parsed schema file `schemas/<name>.json`. */
export function readSchema(name: SchemaName): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(`${ROOT}/schemas/${name}.json`));
}

function compiled(): Map<SchemaName, ValidateFunction> {
  if (validators) return validators;
  // strict: an unknown keyword or a mistake in a schema is an error, not ignored.
  // (strictRequired off: `then`/`dependentRequired` name properties defined next to them.)
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  // ajv-formats is CommonJS: its default export is the plugin (or wraps it).
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
    addFormatsModule) as (ajv: Ajv2020) => void;
  addFormats(ajv);
  for (const name of SCHEMA_NAMES) ajv.addSchema(readSchema(name));
  validators = new Map(SCHEMA_NAMES.map((name) => [name, ajv.getSchema(`${name}.json`)!]));
  return validators;
}

/**
 * Throws unless `value` is valid against `schemas/<name>.json`; returns it.
 *
 * @example
 * ```ts
 * const status = assertSchema("status", JSON.parse(r.stdout));
 * ```
 */
export function assertSchema<T = Parsed>(name: SchemaName, value: unknown): T {
  const validate = compiled().get(name)!;
  if (!validate(value)) {
    throw new Error(
      `${name}.json rejects ${JSON.stringify(value)}:\n${JSON.stringify(validate.errors, null, 2)}`,
    );
  }
  return value as T;
}

/** Each line of `run --json`'s output, parsed and checked against `run-events.json`. */
export function assertJsonLines(stdout: string): Parsed[] {
  return stdout.split("\n").filter((l) => l !== "").map((l) =>
    assertSchema("run-events", JSON.parse(l))
  );
}
