/**
 * What `cdx run` reads before it sends anything, each checked up front so a
 * mistake is a usage error (exit 2) before a request goes out: the prompt
 * (argument and/or stdin, the way codex exec combines them, size-capped
 * while it streams in), `-i` images (sniffed by content, size-capped), the
 * `--output-schema` file, and the `-o` path.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";
import { deadline, orCancel, TimeoutError } from "../cancel.ts";
import { dirOf } from "../fs.ts";
import type { PromptImage } from "./request.ts";

/** The largest prompt cdx sends: argument and stdin together, bytes (10 MiB). */
export const MAX_PROMPT_BYTES = 10 * 1024 * 1024;
/** The largest `-i` image, bytes (20 MiB, the API's own limit per image). */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
/** The largest `--output-schema` file, bytes. */
export const MAX_SCHEMA_BYTES = 1024 * 1024;

/** How long stdin may stay silent before cdx says it is waiting for it. */
const STDIN_NOTICE_MS = 250;
const PROMPT_HINT = 'cdx run "your prompt"   or   echo "your prompt" | cdx run';

function mib(bytes: number): string {
  return `${bytes / (1024 * 1024)} MiB`;
}

/**
 * Reads all of stdin as text, cancellably, refusing more than `maxBytes`
 * as soon as it is passed (nothing beyond it is buffered). When `notice` is
 * given and stdin is silent for a moment, prints it on stderr, so a script
 * that forgot to close stdin sees why cdx waits.
 */
async function readStdin(ctx: Context, maxBytes: number, notice?: string): Promise<string> {
  const reader = ctx.stdin.readable.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let size = 0;
  try {
    let first: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = reader.read();
    if (notice) {
      await deadline(first, STDIN_NOTICE_MS, { signal: ctx.signal }).catch(async (error) => {
        if (!(error instanceof TimeoutError)) throw error;
        await ctx.stderr.write(`${notice}\n`);
      });
    }
    while (true) {
      const { done, value } = await orCancel(first ?? reader.read(), ctx.signal);
      first = undefined;
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        reader.cancel().catch(() => {});
        throw new UsageError(
          `the prompt is larger than ${mib(maxBytes)} (stdin was still sending)`,
          {
            hint:
              "send less: cdx run reads at most 10 MiB of prompt (e.g. `tail -c 5M big.log | cdx run …`)",
          },
        );
      }
      parts.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.releaseLock();
  }
  parts.push(decoder.decode());
  return parts.join("");
}

/**
 * The prompt, the way codex exec builds it: the argument; `-` or no argument
 * with piped stdin reads stdin; an argument plus piped stdin appends stdin as
 * `<stdin>…</stdin>` context. No argument and a terminal, an empty argument
 * or empty stdin is a usage error; more than {@linkcode MAX_PROMPT_BYTES}
 * too.
 */
export async function resolvePrompt(
  ctx: Context,
  prompt: string | undefined,
  maxBytes: number = MAX_PROMPT_BYTES,
): Promise<string> {
  if (prompt === undefined || prompt === "-") {
    if (ctx.stdin.isTTY) {
      throw new UsageError("no prompt given: pass it as an argument or pipe it into stdin", {
        hint: PROMPT_HINT,
      });
    }
    const text = await readStdin(ctx, maxBytes);
    if (text.trim() === "") {
      throw new UsageError("no prompt given: stdin was empty", { hint: PROMPT_HINT });
    }
    return text;
  }
  if (prompt.trim() === "") {
    throw new UsageError("the prompt is empty", { hint: PROMPT_HINT });
  }
  const own = new TextEncoder().encode(prompt).length;
  if (own > maxBytes) throw new UsageError(`the prompt is larger than ${mib(maxBytes)}`);
  if (ctx.stdin.isTTY) return prompt;
  const extra = await readStdin(ctx, maxBytes - own, "Reading additional input from stdin...");
  if (extra.trim() === "") return prompt;
  return `${prompt}\n\n<stdin>\n${extra}${extra.endsWith("\n") ? "" : "\n"}</stdin>`;
}

/**
 * The image type of `bytes` by its signature: PNG, JPEG, GIF or WebP — the
 * formats the Responses API takes — or undefined.
 *
 * @example
 * ```ts
 * sniffImage(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)); // "image/png"
 * ```
 */
export function sniffImage(bytes: Uint8Array): string | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x47, 0x49, 0x46, 0x38) && (bytes[4] === 0x37 || bytes[4] === 0x39)) {
    return "image/gif";
  }
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "image/webp";
  return undefined;
}

function pathProblem(option: string, path: string, error: unknown): UsageError {
  const why = error instanceof Deno.errors.NotFound
    ? "no such file"
    : error instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : error instanceof Deno.errors.IsADirectory
    ? "is a directory"
    : error instanceof Error
    ? error.message
    : String(error);
  return new UsageError(`${option} ${path}: ${why}`);
}

/** Reads a file for an option, refusing one over `max` bytes before reading it. */
async function readCapped(option: string, path: string, max: number): Promise<Uint8Array> {
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) throw new Deno.errors.IsADirectory();
    // A FIFO or device would block the read in a thread no Ctrl-C reaches.
    if (!info.isFile) throw new UsageError(`${option} ${path}: not a regular file`);
    if (info.size > max) {
      throw new UsageError(
        `${option} ${path}: ${info.size} bytes, more than the ${mib(max)} cdx sends`,
      );
    }
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw pathProblem(option, path, error);
  }
}

/**
 * Reads the `-i` images: each value may be a comma-separated list, as with
 * codex. Each must be PNG, JPEG, GIF or WebP by content and at most
 * {@linkcode MAX_IMAGE_BYTES}; the file's bytes are sent unchanged.
 */
export async function loadImages(values: readonly string[]): Promise<PromptImage[]> {
  const paths = values.flatMap((v) => v.split(",")).map((p) => p.trim()).filter((p) => p !== "");
  const images: PromptImage[] = [];
  for (const path of paths) {
    const bytes = await readCapped("-i", path, MAX_IMAGE_BYTES);
    const mime = sniffImage(bytes);
    if (!mime) {
      throw new UsageError(`-i ${path}: not a PNG, JPEG, GIF or WebP image`);
    }
    images.push({ path, mime, base64: bytes.toBase64() });
  }
  return images;
}

/**
 * Reads an `--output-schema` file: a JSON object schema (`"type": "object"`
 * at the top, as the API's strict structured outputs require).
 */
export async function loadOutputSchema(path: string): Promise<Record<string, unknown>> {
  const text = new TextDecoder().decode(
    await readCapped("--output-schema", path, MAX_SCHEMA_BYTES),
  );
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--output-schema ${path}: not JSON (${(error as Error).message})`);
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw new UsageError(`--output-schema ${path}: must be a JSON object (a JSON Schema)`);
  }
  const type = (schema as Record<string, unknown>).type;
  if (type !== "object") {
    throw new UsageError(
      `--output-schema ${path}: the schema must describe an object ("type": "object" at the top)`,
      {
        hint:
          'wrap other shapes: {"type":"object","properties":{"answer":…},"required":["answer"]}',
      },
    );
  }
  return schema as Record<string, unknown>;
}

/**
 * Checks that `-o FILE` can be written, before the request: an existing file
 * is opened for writing (not truncated); a new one is created and removed
 * again. A missing directory, a directory in its place or no permission is a
 * usage error.
 */
export async function checkOutputFile(path: string): Promise<void> {
  try {
    const info = await Deno.stat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (info?.isDirectory) throw new Deno.errors.IsADirectory();
    if (info) {
      (await Deno.open(path, { write: true })).close();
      return;
    }
    (await Deno.open(path, { write: true, createNew: true })).close();
    await Deno.remove(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`-o ${path}: the directory ${dirOf(path) || "."} does not exist`);
    }
    throw pathProblem("-o", path, error);
  }
}
