/**
 * `MockKeyringStore`: an in-process keychain for tests, like codex's
 * `MockKeyringStore`, with per-account error injection.
 *
 * @module
 */
import {
  KeyringError,
  KeyringLockedError,
  type KeyringStore,
  KeyringTimeoutError,
  KeyringUnavailableError,
} from "./store.ts";

/** The operations of a {@linkcode KeyringStore}. */
export type KeyringOperation = "load" | "save" | "delete";

/** Kinds of failure the mock can inject. */
export type InjectedFailure = "unavailable" | "locked" | "timeout" | "error";

/** One injected failure rule. */
export interface FailureRule {
  /** What to throw. */
  failure: InjectedFailure;
  /** Only for this account (default: every account). */
  account?: string;
  /** Only for this operation (default: every operation). */
  operation?: KeyringOperation;
  /** Fail only the Nth matching call (1-based); default: every matching call. */
  nth?: number;
  /** Fail this many times, then succeed (default: unlimited). */
  times?: number;
}

/** One call the mock received (for assertions). */
export interface KeyringCall {
  /** Which method was called. */
  operation: KeyringOperation;
  /** The `service` argument (e.g. `"Codex Auth"`). */
  service: string;
  /** The `account` argument. */
  account: string;
}

function makeError(failure: InjectedFailure, what: string): KeyringError {
  switch (failure) {
    case "unavailable":
      return new KeyringUnavailableError(`mock keychain unavailable (${what})`);
    case "locked":
      return new KeyringLockedError(`mock keychain locked (${what})`);
    case "timeout":
      return new KeyringTimeoutError(`mock keychain timed out (${what})`);
    case "error":
      return new KeyringError(`mock keychain failure (${what})`);
  }
}

/**
 * An in-memory {@linkcode KeyringStore} with error injection.
 *
 * @example
 * ```ts
 * const store = new MockKeyringStore();
 * store.inject({ failure: "locked", operation: "save" });
 * await store.save("Codex Auth", "cli|abc", "{}"); // throws KeyringLockedError
 * ```
 */
export class MockKeyringStore implements KeyringStore {
  /** The items, keyed `service\u0000account`. */
  readonly items = new Map<string, string>();
  /** Every call, in order. */
  readonly calls: KeyringCall[] = [];
  #rules: Array<FailureRule & { seen: number; fired: number }> = [];

  /** Adds a failure rule; returns a function that removes it. */
  inject(rule: FailureRule): () => void {
    const entry = { ...rule, seen: 0, fired: 0 };
    this.#rules.push(entry);
    return () => {
      this.#rules = this.#rules.filter((r) => r !== entry);
    };
  }

  /** Removes every failure rule. */
  clearFailures(): void {
    this.#rules = [];
  }

  #check(operation: KeyringOperation, service: string, account: string): void {
    this.calls.push({ operation, service, account });
    for (const rule of this.#rules) {
      if (rule.account !== undefined && rule.account !== account) continue;
      if (rule.operation !== undefined && rule.operation !== operation) continue;
      rule.seen++;
      if (rule.nth !== undefined && rule.seen !== rule.nth) continue;
      if (rule.times !== undefined && rule.fired >= rule.times) continue;
      rule.fired++;
      throw makeError(rule.failure, `${operation} ${account}`);
    }
  }

  static #key(service: string, account: string): string {
    return `${service}\u0000${account}`;
  }

  load(service: string, account: string): Promise<string | undefined> {
    try {
      this.#check("load", service, account);
      return Promise.resolve(this.items.get(MockKeyringStore.#key(service, account)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  save(service: string, account: string, value: string): Promise<void> {
    try {
      this.#check("save", service, account);
      this.items.set(MockKeyringStore.#key(service, account), value);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  delete(service: string, account: string): Promise<boolean> {
    try {
      this.#check("delete", service, account);
      return Promise.resolve(this.items.delete(MockKeyringStore.#key(service, account)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The value stored for an item, bypassing failure rules. */
  peek(service: string, account: string): string | undefined {
    return this.items.get(MockKeyringStore.#key(service, account));
  }

  describe(): string {
    return "memory (test)";
  }
}
