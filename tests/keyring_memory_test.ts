/**
 * MockKeyringStore: the in-process keychain the auth tests use, and its
 * error injection.
 */
import assert from "node:assert/strict";
import {
  KeyringError,
  KeyringLockedError,
  KeyringTimeoutError,
  KeyringUnavailableError,
  MockKeyringStore,
} from "../lib/keyring/mod.ts";

Deno.test("the mock stores, loads, replaces and deletes per (service, account)", async () => {
  const store = new MockKeyringStore();
  assert.equal(await store.load("s", "a"), undefined);
  await store.save("s", "a", "one");
  await store.save("other", "a", "elsewhere");
  await store.save("s", "a", "two");
  assert.equal(await store.load("s", "a"), "two");
  assert.equal(store.peek("other", "a"), "elsewhere");
  assert.equal(await store.delete("s", "a"), true);
  assert.equal(await store.delete("s", "a"), false);
  assert.equal(await store.load("s", "a"), undefined);
  assert.deepEqual(store.calls.map((c) => c.operation), [
    "load",
    "save",
    "save",
    "save",
    "load",
    "delete",
    "delete",
    "load",
  ]);
  assert.equal(store.describe(), "memory (test)");
});

Deno.test("injected failures throw the matching typed errors", async () => {
  const cases = [
    ["unavailable", KeyringUnavailableError],
    ["locked", KeyringLockedError],
    ["timeout", KeyringTimeoutError],
    ["error", KeyringError],
  ] as const;
  for (const [failure, type] of cases) {
    const store = new MockKeyringStore();
    store.inject({ failure });
    await assert.rejects(store.load("s", "a"), type);
    await assert.rejects(store.save("s", "a", "v"), type);
    await assert.rejects(store.delete("s", "a"), type);
  }
});

Deno.test("a failure can be limited to one account and one operation", async () => {
  const store = new MockKeyringStore();
  store.inject({ failure: "locked", account: "a", operation: "save" });
  await assert.rejects(store.save("s", "a", "v"), KeyringLockedError);
  await store.save("s", "b", "v");
  assert.equal(await store.load("s", "a"), undefined);
  assert.equal(store.peek("s", "b"), "v");
  assert.equal(store.peek("s", "a"), undefined, "a failed save stores nothing");
});

Deno.test("nth fails only the Nth matching call; times fails a number of calls then recovers", async () => {
  const store = new MockKeyringStore();
  store.inject({ failure: "timeout", operation: "load", nth: 2 });
  assert.equal(await store.load("s", "a"), undefined);
  await assert.rejects(store.load("s", "a"), KeyringTimeoutError);
  assert.equal(await store.load("s", "a"), undefined);

  const flaky = new MockKeyringStore();
  flaky.inject({ failure: "unavailable", times: 2 });
  await assert.rejects(flaky.save("s", "a", "v"), KeyringUnavailableError);
  await assert.rejects(flaky.save("s", "a", "v"), KeyringUnavailableError);
  await flaky.save("s", "a", "v");
  assert.equal(await flaky.load("s", "a"), "v");
});

Deno.test("a failure rule can be removed, and all rules cleared", async () => {
  const store = new MockKeyringStore();
  const remove = store.inject({ failure: "error" });
  await assert.rejects(store.load("s", "a"), KeyringError);
  remove();
  assert.equal(await store.load("s", "a"), undefined);
  store.inject({ failure: "locked" });
  store.inject({ failure: "timeout" });
  store.clearFailures();
  await store.save("s", "a", "ok");
  assert.equal(await store.load("s", "a"), "ok");
});

Deno.test("injected error messages name the operation and account, never the value", async () => {
  const store = new MockKeyringStore();
  store.inject({ failure: "error" });
  const error = await store.save("s", "cli|abc", "sk-the-secret-value").catch((e) => e);
  assert.ok(error instanceof KeyringError);
  assert.match(error.message, /save cli\|abc/);
  assert.ok(!error.message.includes("sk-the-secret-value"));
});
