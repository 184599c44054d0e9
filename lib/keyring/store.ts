/**
 * The KeyringStore interface — the TypeScript form of codex's
 * `keyring-store` trait — and its typed errors.
 *
 * `load` returns `undefined` only when the item is truly absent: a locked,
 * unreachable or hung keychain is an error, never "absent".
 *
 * @module
 */

/** A keychain: one secret per (service, account). */
export interface KeyringStore {
  /** The secret, or `undefined` when no such item exists. */
  load(service: string, account: string): Promise<string | undefined>;
  /** Creates or replaces the item. */
  save(service: string, account: string, value: string): Promise<void>;
  /** Removes the item; `true` when something was deleted. */
  delete(service: string, account: string): Promise<boolean>;
  /** Human-readable name of the backend, e.g. `"Secret Service (secret-tool)"`. */
  describe(): string;
  /** True when `save` itself reads the item back and throws unless it holds the value. */
  readonly verifiesSaves?: boolean;
  /** Whether `save` can store `value` (false: it would throw KeyringTooLargeError). */
  fits?(service: string, account: string, value: string): boolean | Promise<boolean>;
}

/** Any keychain failure. Carries the tool's message, never the secret. */
export class KeyringError extends Error {
  /** `message` is the backend's own words (never the secret); `cause` the underlying error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyringError";
  }
}

/** The keychain cannot be used at all: tool missing, no D-Bus, no Secret Service provider. */
export class KeyringUnavailableError extends KeyringError {
  /** How to make it available (install hint). */
  readonly hint?: string;
  /** `hint` says what to install or start; it becomes the user-facing `hint:` line. */
  constructor(message: string, options?: ErrorOptions & { hint?: string }) {
    super(message, options);
    this.name = "KeyringUnavailableError";
    this.hint = options?.hint;
  }
}

/** The keychain (or collection) is locked and cdx cannot prompt to unlock it. */
export class KeyringLockedError extends KeyringError {
  /** `message` names the keychain or collection that is locked. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyringLockedError";
  }
}

/**
 * The value does not fit one item of this keychain in a form the codex CLI
 * reads (secret-tool's 8 KiB stdin, `security -i`'s 4 KiB command line), so
 * it was not stored. Callers keep the credentials where codex looks next
 * (auth.json) rather than in a form codex cannot read.
 */
export class KeyringTooLargeError extends KeyringError {
  /** `size` of the value and `limit` of this keychain, in the backend's unit (encoded bytes). */
  constructor(message: string, readonly size: number, readonly limit: number) {
    super(message);
    this.name = "KeyringTooLargeError";
  }
}

/** A keychain call did not finish within its bound (hung daemon, ACL prompt). */
export class KeyringTimeoutError extends KeyringError {
  /** `message` names the call and its bound. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyringTimeoutError";
  }
}

/**
 * Reads an item back after a save and throws {@linkcode KeyringError} unless
 * it holds exactly `value` — keychains that truncate or drop writes silently
 * must never be trusted with the only copy of a credential.
 *
 * @example
 * ```ts
 * await verifySaved(() => this.load(service, account), value, "Secret Service");
 * ```
 */
export async function verifySaved(
  load: () => Promise<string | undefined>,
  value: string,
  keychain: string,
): Promise<void> {
  const stored = await load();
  if (stored === value) return;
  throw new KeyringError(
    stored === undefined
      ? `${keychain} save did not persist: the item is not there when read back`
      : `${keychain} save was not stored intact: the value read back differs`,
  );
}
