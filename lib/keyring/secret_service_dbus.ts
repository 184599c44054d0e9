/**
 * Stores one Secret Service item by talking D-Bus directly, the way codex
 * (keyring-rs → zbus) does, for values `secret-tool store` would truncate
 * (it keeps only the first 8192 bytes). One item of any size is what codex
 * 0.169.0 reads; a chunked value is not.
 *
 * The calls (Secret Service API 0.2): `Service.OpenSession("plain", "")`,
 * `Collection.CreateItem` on the `default` alias with the label and the
 * attributes and `replace = true`, then `Session.Close`. A "plain" session
 * sends the secret unencrypted over the private unix socket to the daemon,
 * as `secret-tool` does. No prompt is ever shown: a locked collection makes
 * `CreateItem` return a prompt, which is reported as
 * {@linkcode KeyringLockedError} and never run.
 *
 * @module
 */
import { cancelledFrom, formatMs, orCancel, timeoutSignal } from "../cancel.ts";
import { DbusCallError, DbusConnectError, DbusConnection } from "./dbus.ts";
import type { DbusValue } from "./dbus_wire.ts";
import {
  KeyringError,
  KeyringLockedError,
  KeyringTimeoutError,
  KeyringUnavailableError,
} from "./store.ts";
import { DEFAULT_KEYRING_TIMEOUT_MS } from "./tool.ts";

/** What to do when there is no usable Secret Service on the session bus. */
export const DBUS_SECRET_SERVICE_HINT: string =
  "run inside a desktop or D-Bus session with a Secret Service provider (gnome-keyring or KeePassXC), " +
  'or set cli_auth_credentials_store = "file" in $CODEX_HOME/config.toml';

/** What to do about a locked collection (cdx never shows an unlock prompt). */
export const SECRET_SERVICE_LOCKED_HINT: string =
  "unlock the login keyring (e.g. log in to the desktop session, or open Seahorse)";

/** Options of {@linkcode storeSecretOverDbus}. */
export interface StoreSecretOverDbusOptions {
  /** `DBUS_SESSION_BUS_ADDRESS` is read from here. */
  env: { get(name: string): string | undefined };
  /** The item's attributes (exactly; codex matches on them). */
  attributes: Record<string, string>;
  /** The label shown by Seahorse and `secret-tool search`. */
  label: string;
  /** UTF-8 text of any size (the bus caps a message at 128 MiB). */
  secret: string;
  /** Aborting abandons the call at once with `CancelledError`. */
  signal?: AbortSignal;
  /** Bound on the whole operation, ms (default 3000): {@linkcode KeyringTimeoutError}. */
  timeoutMs?: number;
}

const SECRETS = "org.freedesktop.secrets";
const SERVICE_PATH = "/org/freedesktop/secrets";
const DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default";
const encoder = new TextEncoder();

/** Error names meaning "no Secret Service (or no default collection) here". */
const UNAVAILABLE_ERRORS = [
  "org.freedesktop.DBus.Error.ServiceUnknown",
  "org.freedesktop.DBus.Error.NameHasNoOwner",
  "org.freedesktop.DBus.Error.UnknownObject",
  "org.freedesktop.DBus.Error.UnknownMethod",
  "org.freedesktop.Secret.Error.NoSuchObject",
];

/**
 * Stores `secret` as one item in the default collection, replacing an item
 * with the same attributes. Spawns nothing, so the secret is in no argv.
 *
 * Throws {@linkcode KeyringUnavailableError} (no bus address, cannot connect,
 * no `org.freedesktop.secrets`, no default collection),
 * {@linkcode KeyringLockedError}, {@linkcode KeyringTimeoutError}, or
 * {@linkcode KeyringError} with the D-Bus error name and message (never the
 * secret); `CancelledError` when `signal` aborts.
 *
 * @example
 * ```ts
 * await storeSecretOverDbus({
 *   env: ctx.env,
 *   attributes: { application: "rust-keyring", service: "Codex Auth", target: "default", username: account },
 *   label: `${account}@Codex Auth:default (keyring v3.6.3)`,
 *   secret: authJson,
 *   signal: ctx.signal,
 * });
 * ```
 */
export async function storeSecretOverDbus(options: StoreSecretOverDbusOptions): Promise<void> {
  const address = options.env.get("DBUS_SESSION_BUS_ADDRESS");
  if (!address) {
    throw new KeyringUnavailableError(
      "Secret Service is not available: DBUS_SESSION_BUS_ADDRESS is not set",
      { hint: DBUS_SECRET_SERVICE_HINT },
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_KEYRING_TIMEOUT_MS;
  using bound = timeoutSignal(timeoutMs, options.signal);
  try {
    await orCancel(createItem(address, options, bound.signal), bound.signal);
  } catch (error) {
    if (options.signal?.aborted) throw cancelledFrom(options.signal);
    if (bound.signal.aborted) {
      throw new KeyringTimeoutError(
        `Secret Service did not answer within ${formatMs(timeoutMs)} (save over D-Bus)`,
      );
    }
    throw toKeyringError(error, options.secret);
  }
}

async function createItem(
  address: string,
  options: StoreSecretOverDbusOptions,
  signal: AbortSignal,
): Promise<void> {
  const bus = await DbusConnection.open(address, { uid: Deno.uid() ?? 0, signal });
  try {
    const [, session] = await bus.call({
      destination: SECRETS,
      path: SERVICE_PATH,
      interface: "org.freedesktop.Secret.Service",
      member: "OpenSession",
      signature: "sv",
      body: ["plain", { signature: "s", value: "" }],
    }) as [DbusValue, string];
    try {
      const properties: DbusValue = [
        [
          "org.freedesktop.Secret.Item.Attributes",
          { signature: "a{ss}", value: Object.entries(options.attributes) },
        ],
        ["org.freedesktop.Secret.Item.Label", { signature: "s", value: options.label }],
      ];
      const secret = [session, new Uint8Array(0), encoder.encode(options.secret), "text/plain"];
      const [item, prompt] = await bus.call({
        destination: SECRETS,
        path: DEFAULT_COLLECTION,
        interface: "org.freedesktop.Secret.Collection",
        member: "CreateItem",
        signature: "a{sv}(oayays)b",
        body: [properties, secret, true],
      }) as [string, string];
      if (prompt !== "/") {
        throw new KeyringLockedError(
          `Secret Service collection is locked (save); ${SECRET_SERVICE_LOCKED_HINT}`,
        );
      }
      if (item === "/") throw new KeyringError("Secret Service save failed: no item was created");
    } finally {
      await bus.call({
        destination: SECRETS,
        path: session,
        interface: "org.freedesktop.Secret.Session",
        member: "Close",
      }).catch(() => {}); // closing the connection ends the session too
    }
  } finally {
    bus.close();
  }
}

/** Maps a failure to the keyring error types; the text never carries the secret. */
function toKeyringError(error: unknown, secret: string): KeyringError {
  if (error instanceof KeyringError) return error;
  if (error instanceof DbusCallError) {
    const detail = `${error.errorName}${error.text ? `: ${clean(error.text, secret)}` : ""}`;
    if (error.errorName === "org.freedesktop.Secret.Error.IsLocked") {
      return new KeyringLockedError(
        `Secret Service collection is locked (save): ${detail}; ${SECRET_SERVICE_LOCKED_HINT}`,
      );
    }
    if (
      UNAVAILABLE_ERRORS.includes(error.errorName) ||
      error.errorName.startsWith("org.freedesktop.DBus.Error.Spawn.")
    ) {
      return new KeyringUnavailableError(`Secret Service is not available (save): ${detail}`, {
        hint: DBUS_SECRET_SERVICE_HINT,
      });
    }
    return new KeyringError(`Secret Service save failed: ${detail}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof DbusConnectError || error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied
  ) {
    return new KeyringUnavailableError(
      `Secret Service is not available: ${clean(message, secret)}`,
      { hint: DBUS_SECRET_SERVICE_HINT, cause: error },
    );
  }
  return new KeyringError(`Secret Service save failed: ${clean(message, secret)}`, {
    cause: error,
  });
}

/** A peer's text, bounded, and withheld if it somehow echoes the secret. */
function clean(text: string, secret: string): string {
  if (secret.length >= 4 && text.includes(secret)) return "(message withheld)";
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
