/**
 * Test Contexts for the auth module: a temp CODEX_HOME, a MockKeyringStore
 * (or none), real fetch for 127.0.0.1 fakes, memory streams.
 *
 * @module
 */
import { type Context, createTestContext, mapEnv, MemoryOutput } from "../../lib/context.ts";
import { loadConfig } from "../../lib/config.ts";
import { KeyringUnavailableError, MockKeyringStore } from "../../lib/keyring/mod.ts";
import type { KeyringStore } from "../../lib/keyring/store.ts";

/** Options of {@linkcode authContext}. */
export interface AuthContextOptions {
  /** A keychain; `null` = none (KeyringUnavailableError). Default: a fresh MockKeyringStore. */
  keyring?: KeyringStore | null;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Fixed wall clock (ms). */
  now?: number;
  stdin?: Context["stdin"];
}

/** A Context rooted at `home`, with config.toml loaded from it. */
export async function authContext(
  home: string,
  options: AuthContextOptions = {},
): Promise<Context & { stderr: MemoryOutput; stdout: MemoryOutput }> {
  const keyring = options.keyring === undefined ? new MockKeyringStore() : options.keyring;
  const config = await loadConfig(home);
  const clock = options.now === undefined
    ? undefined
    : { now: () => options.now!, monotonic: () => performance.now() };
  return createTestContext({
    env: mapEnv(options.env ?? {}),
    fetch: globalThis.fetch.bind(globalThis),
    keyring: () => {
      if (!keyring) throw new KeyringUnavailableError("no keychain in this test");
      return keyring;
    },
    config,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(clock ? { clock } : {}),
    ...(options.stdin ? { stdin: options.stdin } : {}),
    globals: { codexHome: home },
  }) as Context & { stderr: MemoryOutput; stdout: MemoryOutput };
}

/** A temp dir used as CODEX_HOME, removed by `await using`. */
export async function tempHome(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "cdx-auth-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** Runs `fn` with a fresh temp dir (a CODEX_HOME), removed afterwards. */
export async function withHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  await using home = await tempHome();
  return await fn(home.path);
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The file mode bits (0 on Windows). */
export async function modeOf(path: string): Promise<number> {
  if (Deno.build.os === "windows") return 0o600;
  return (await Deno.stat(path)).mode! & 0o777;
}
