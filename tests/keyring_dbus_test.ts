/**
 * Writing one Secret Service item over D-Bus (values `secret-tool` would
 * truncate): against a real, private gnome-keyring, the real codex 0.169.0,
 * a real dbus-daemon with no provider, and a fake bus for the answers
 * gnome-keyring never gives. Skipped (visibly) where the tools are missing.
 */
import assert from "node:assert/strict";
import { CancelledError } from "../lib/cancel.ts";
import { mapEnv } from "../lib/context.ts";
import { createProcessRunner } from "../lib/process.ts";
import { keyringAccount } from "../lib/auth/keyring_item.ts";
import { DbusConnection } from "../lib/keyring/dbus.ts";
import { storeSecretOverDbus } from "../lib/keyring/secret_service_dbus.ts";
import {
  codexAttributeMap,
  codexAttributes,
  codexLabel,
  createPlatformKeyring,
  KeyringError,
  KeyringLockedError,
  KeyringTimeoutError,
  KeyringUnavailableError,
  SecretToolKeyring,
} from "../lib/keyring/mod.ts";
import {
  hasSecretServiceTools,
  noActivationBusConfig,
  type SecretServiceEnv,
  startSecretService,
} from "./helpers/secret_service.ts";
import { hasCodexPeer, runCodex } from "./helpers/codex_peer.ts";
import { recordingRunner } from "./helpers/recording_runner.ts";
import { tempHome } from "./helpers/auth_context.ts";
import { runChild } from "./helpers/spawn.ts";
import { ROOT } from "./helpers/cli.ts";
import { makeJwt } from "./fakes/codex_auth_server.ts";
import { startFakeBus } from "./fakes/dbus_peer.ts";

const ignore = !hasSecretServiceTools();
const SERVICE = "Codex Auth";

/**
 * Exactly `bytes` of UTF-8 in 64-byte blocks that name their position, with
 * 2- and 4-byte characters in each (so a cut, a shift or a re-encoding shows).
 */
function patterned(bytes: number): string {
  let text = "";
  // "é🔑ж" is 4 UTF-16 units and 8 UTF-8 bytes: 60 units make 64 bytes.
  for (let i = 0; i < Math.floor(bytes / 64); i++) {
    text += `{"block":${i},"t":"é🔑ж"}`.padEnd(60, ".");
  }
  return text + ".".repeat(bytes % 64);
}

function store(ss: { env: Record<string, string> }, account: string, secret: string) {
  return storeSecretOverDbus({
    env: mapEnv(ss.env),
    attributes: codexAttributeMap(SERVICE, account),
    label: codexLabel(SERVICE, account),
    secret,
    timeoutMs: 20_000, // a bound, not what these tests measure
  });
}

function lookup(env: Record<string, string>, account: string) {
  return runChild("secret-tool", ["lookup", ...codexAttributes(SERVICE, account)], { env });
}

/** Items matching the account, via `secret-tool search --all` (one `[path]` line each). */
async function itemCount(env: Record<string, string>, account: string): Promise<number> {
  const out = await runChild("secret-tool", ["search", "--all", "username", account], { env });
  return out.stdout.match(/^\[/gm)?.length ?? 0;
}

Deno.test({
  name:
    "20 KB and 1 MiB values stored over D-Bus read back byte-exact (secret-tool, cdx); a second store replaces the one item",
  ignore,
  async fn(t) {
    await using ss = await startSecretService();
    const keyring = new SecretToolKeyring({ runner: createProcessRunner(), env: mapEnv(ss.env) });
    for (const bytes of [20_000, 1 << 20]) {
      await t.step(`${bytes} bytes`, async () => {
        const account = `cli|size-${bytes}`;
        const value = patterned(bytes);
        await store(ss, account, value);
        const read = await lookup(ss.env, account);
        assert.equal(read.code, 0, read.stderr);
        assert.ok(read.stdout === value, `secret-tool read ${read.stdout.length} chars back`);
        assert.ok(await keyring.load(SERVICE, account) === value);
        assert.equal(await itemCount(ss.env, account), 1);
      });
    }

    await t.step("storing again under the same attributes replaces the item", async () => {
      const account = "cli|size-20000";
      const second = patterned(30_000).replaceAll("block", "again");
      await store(ss, account, second);
      assert.equal(await itemCount(ss.env, account), 1);
      assert.ok((await lookup(ss.env, account)).stdout === second);
    });

    await t.step(
      "an item secret-tool wrote is replaced too (codex's attributes, one item)",
      async () => {
        const account = "cli|from-secret-tool";
        const small = await runChild("secret-tool", [
          "store",
          `--label=${codexLabel(SERVICE, account)}`,
          ...codexAttributes(SERVICE, account),
        ], { env: ss.env, stdin: "small" });
        assert.equal(small.code, 0, small.stderr);
        const big = patterned(20_000);
        await store(ss, account, big);
        assert.equal(await itemCount(ss.env, account), 1);
        assert.ok((await lookup(ss.env, account)).stdout === big);
        const search = await runChild("secret-tool", ["search", "username", account], {
          env: ss.env,
        });
        assert.ok(search.stdout.includes(`label = ${codexLabel(SERVICE, account)}`), search.stdout);
      },
    );
  },
});

Deno.test({
  name:
    "cdx's Linux keychain saves a value over 8191 bytes as one item — no chunks — and spawns no `store` for it",
  ignore,
  async fn() {
    await using ss = await startSecretService();
    const runner = recordingRunner(createProcessRunner());
    const keyring = createPlatformKeyring({ os: "linux", runner, env: mapEnv(ss.env) });
    const account = "cli|platform";
    // What an older cdx left behind: a chunked value in three items.
    for (
      const [a, v] of [[`${account}:1`, "old-1"], [`${account}:2`, "old-2"], [
        account,
        "CODEX_CHUNKED:3:old-0",
      ]]
    ) {
      const old = await runChild("secret-tool", [
        "store",
        "--label=old",
        ...codexAttributes(SERVICE, a),
      ], { env: ss.env, stdin: v });
      assert.equal(old.code, 0, old.stderr);
    }
    const value = patterned(64 * 1024);
    await keyring.save(SERVICE, account, value);
    assert.ok(
      (await lookup(ss.env, account)).stdout === value,
      "the main item holds the whole value",
    );
    for (const chunk of [`${account}:1`, `${account}:2`]) {
      assert.equal((await lookup(ss.env, chunk)).code, 1, `${chunk} is removed`);
    }
    assert.ok(await keyring.load(SERVICE, account) === value);
    assert.ok(!runner.spawns.some((s) => s.args[0] === "store"), "no secret-tool store");
    assert.ok(!runner.argvText().includes(value.slice(0, 40)));
  },
});

/** A ChatGPT login of about 20 KB, in the compact JSON codex stores in its keychain item. */
function bigChatgptAuth(): string {
  const auth = JSON.stringify({
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: makeJwt({ email: "dbus@example.com", padding: patterned(14_000) }),
      access_token: makeJwt({ exp: 4_000_000_000, sub: "user-dbus" }),
      refresh_token: "rt_dbus_interop_0001",
      account_id: "acct-dbus",
    },
    last_refresh: new Date().toISOString(),
  });
  assert.ok(auth.length > 19_000 && auth.length < 22_000, `${auth.length} bytes`);
  return auth;
}

Deno.test({
  name:
    "the real codex 0.169.0 reads a 20 KB ChatGPT login written over D-Bus: Logged in using ChatGPT",
  ignore: ignore || !hasCodexPeer(),
  async fn(t) {
    await using ss = await startSecretService();
    await using home = await tempHome();
    await Deno.writeTextFile(
      `${home.path}/config.toml`,
      'cli_auth_credentials_store = "keyring"\n',
    );
    const env = { ...ss.env, CODEX_HOME: home.path };
    const account = await keyringAccount(home.path);
    const auth = bigChatgptAuth();

    await t.step("written by storeSecretOverDbus under codex's attributes and label", async () => {
      await store(ss, account, auth);
      const status = await runCodex(["login", "status"], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stderr, /Logged in using ChatGPT/);
    });

    await t.step("written by cdx's platform keychain (the path `login` takes)", async () => {
      await runChild("secret-tool", ["clear", ...codexAttributes(SERVICE, account)], {
        env: ss.env,
      });
      assert.match((await runCodex(["login", "status"], env)).stderr, /Not logged in/);
      const keyring = createPlatformKeyring({
        os: "linux",
        runner: createProcessRunner(),
        env: mapEnv(ss.env),
      });
      await keyring.save(SERVICE, account, auth);
      const status = await runCodex(["login", "status"], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stderr, /Logged in using ChatGPT/);
      assert.ok(
        !status.stderr.includes("rt_dbus_interop") && !status.stdout.includes("rt_dbus_interop"),
      );
    });
  },
});

/** gnome-keyring's own search: [unlocked paths, locked paths] matching the account. */
async function searchItems(ss: SecretServiceEnv, account: string): Promise<string[][]> {
  const bus = await DbusConnection.open(ss.env.DBUS_SESSION_BUS_ADDRESS, { uid: Deno.uid() ?? 0 });
  try {
    return await bus.call({
      destination: "org.freedesktop.secrets",
      path: "/org/freedesktop/secrets",
      interface: "org.freedesktop.Secret.Service",
      member: "SearchItems",
      signature: "a{ss}",
      body: [Object.entries(codexAttributeMap(SERVICE, account))],
    }) as string[][];
  } finally {
    bus.close();
  }
}

Deno.test({
  name: "a locked collection is KeyringLockedError and nothing is stored",
  ignore,
  async fn() {
    await using ss = await startSecretService();
    await store(ss, "cli|before-lock", "stored while unlocked");
    await ss.lock();
    const secret = patterned(20_000);
    const error = await store(ss, "cli|while-locked", secret).catch((e) => e);
    assert.ok(error instanceof KeyringLockedError, String(error));
    assert.match(error.message, /locked/);
    assert.ok(!String(error).includes(secret.slice(0, 30)));
    // The search sees locked items (control), and no item for the failed store.
    const [unlocked, locked] = await searchItems(ss, "cli|before-lock");
    assert.equal(unlocked.length, 0);
    assert.equal(locked.length, 1, "the search sees an item of the locked collection");
    assert.deepEqual(await searchItems(ss, "cli|while-locked"), [[], []]);
  },
});

Deno.test("no bus address, or one that leads nowhere or that has no unix socket, is KeyringUnavailableError", async () => {
  const cases: Record<string, string | undefined> = {
    unset: undefined,
    empty: "",
    "missing socket": "unix:path=/nonexistent/cdx-bus",
    "abstract name nobody listens on": `unix:abstract=cdx-test-nobody-${crypto.randomUUID()}`,
    "tcp only": "tcp:host=127.0.0.1,port=1",
    "not a socket": "unix:path=/etc/hostname",
  };
  for (const [name, address] of Object.entries(cases)) {
    const error = await storeSecretOverDbus({
      env: mapEnv({ DBUS_SESSION_BUS_ADDRESS: address }),
      attributes: { service: "s", username: "u" },
      label: "l",
      secret: "sk-unavailable-secret",
    }).catch((e) => e);
    assert.ok(error instanceof KeyringUnavailableError, `${name}: ${error}`);
    assert.match(error.hint ?? "", /Secret Service provider|file/, name);
    assert.ok(!String(error).includes("sk-unavailable-secret"));
  }
});

Deno.test({
  name: "a real bus with no org.freedesktop.secrets provider is KeyringUnavailableError",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "cdx-bare-bus-" });
    // A session bus with no service directories: nothing can be activated.
    await Deno.writeTextFile(`${dir}/bus.conf`, noActivationBusConfig(`unix:path=${dir}/bus`));
    const started = await runChild("dbus-daemon", [
      `--config-file=${dir}/bus.conf`,
      "--fork",
      "--nopidfile",
      "--print-address=1",
      "--print-pid=1",
    ]);
    const [address, pid] = started.stdout.split("\n");
    try {
      assert.equal(started.code, 0, started.stderr);
      const error = await store({ env: { DBUS_SESSION_BUS_ADDRESS: address } }, "cli|x", "v")
        .catch((e) => e);
      assert.ok(error instanceof KeyringUnavailableError, String(error));
      assert.match(error.message, /ServiceUnknown/);
    } finally {
      if (Number(pid)) Deno.kill(Number(pid), "SIGTERM");
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a bus that accepts and never answers is KeyringTimeoutError; aborting is CancelledError", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cdx-silent-bus-" });
  try {
    const options = (signal?: AbortSignal, timeoutMs?: number) => ({
      env: mapEnv({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/bus` }),
      attributes: { service: "s", username: "u" },
      label: "l",
      secret: "sk-silent-secret",
      signal,
      timeoutMs,
    });
    await t.step("timeout", async () => {
      await using _bus = startFakeBus({ path: `${dir}/bus`, silent: true });
      const error = await storeSecretOverDbus(options(undefined, 200)).catch((e) => e);
      assert.ok(error instanceof KeyringTimeoutError, String(error));
      assert.match(error.message, /200 ms/);
    });
    await t.step("abort, once the bus has our first bytes", async () => {
      await using bus = startFakeBus({ path: `${dir}/bus`, silent: true });
      const controller = new AbortController();
      const pending = storeSecretOverDbus(options(controller.signal, 60_000));
      await bus.firstBytes;
      controller.abort();
      await assert.rejects(pending, CancelledError);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CreateItem answering with a prompt is KeyringLockedError; the prompt is never run and the session is closed", async () => {
  const path = `\0cdx-test-bus-${crypto.randomUUID()}`; // also proves abstract sockets work
  await using bus = startFakeBus({
    path,
    answers: {
      OpenSession: {
        signature: "vo",
        body: [{ signature: "s", value: "" }, "/org/freedesktop/secrets/session/s7"],
      },
      CreateItem: { signature: "oo", body: ["/", "/org/freedesktop/secrets/prompt/p1"] },
      Close: {},
    },
  });
  const error = await storeSecretOverDbus({
    env: mapEnv({ DBUS_SESSION_BUS_ADDRESS: `unix:abstract=${path.slice(1)},guid=0123` }),
    attributes: { service: "s", username: "u" },
    label: "l",
    secret: "sk-prompted",
    timeoutMs: 20_000,
  }).catch((e) => e);
  assert.ok(error instanceof KeyringLockedError, String(error));
  assert.deepEqual(bus.calls.map((c) => c.member), ["Hello", "OpenSession", "CreateItem", "Close"]);
  assert.equal(bus.calls[3].path, "/org/freedesktop/secrets/session/s7");
  const create = bus.calls[2];
  assert.equal(create.path, "/org/freedesktop/secrets/aliases/default");
  assert.equal(create.signature, "a{sv}(oayays)b");
  assert.equal(create.body?.[2], true, "replace");
});

Deno.test("other D-Bus errors are KeyringErrors naming the error, never carrying the secret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cdx-error-bus-" });
  const secret = "sk-echoed-by-a-broken-daemon";
  try {
    for (
      const [answer, type, pattern] of [
        [
          { error: "org.freedesktop.DBus.Error.Failed", text: "disk full" },
          KeyringError,
          /Failed: disk full/,
        ],
        [
          { error: "org.freedesktop.DBus.Error.Failed", text: `bad value ${secret}` },
          KeyringError,
          /withheld/,
        ],
        [
          { error: "org.freedesktop.Secret.Error.IsLocked", text: "locked" },
          KeyringLockedError,
          /IsLocked/,
        ],
        [
          { error: "org.freedesktop.Secret.Error.NoSuchObject", text: "no default" },
          KeyringUnavailableError,
          /NoSuchObject/,
        ],
      ] as const
    ) {
      await using _bus = startFakeBus({
        path: `${dir}/bus`,
        answers: {
          OpenSession: { signature: "vo", body: [{ signature: "s", value: "" }, "/s/1"] },
          CreateItem: answer,
        },
      });
      const error = await storeSecretOverDbus({
        env: mapEnv({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/bus` }),
        attributes: { service: "s", username: "u" },
        label: "l",
        secret,
        timeoutMs: 20_000,
      }).catch((e) => e);
      assert.ok(error instanceof type, String(error));
      assert.match(error.message, pattern);
      assert.ok(!String(error).includes(secret) && !String(error.cause ?? "").includes(secret));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the D-Bus writer spawns no child: it works with the run permission denied",
  ignore,
  async fn() {
    await using ss = await startSecretService();
    const value = patterned(20_000);
    const out = await runChild(Deno.execPath(), [
      "run",
      "-q",
      "--no-prompt",
      "--config",
      `${ROOT}/deno.json`,
      // Deno asks read, write and net permission for a unix socket connection.
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env=DBUS_SESSION_BUS_ADDRESS",
      "--allow-sys=uid",
      `${ROOT}/tests/fixtures/dbus_store.ts`,
      "cli|no-spawn",
    ], { env: ss.env, stdin: value });
    assert.equal(out.code, 0, out.stderr);
    assert.ok((await lookup(ss.env, "cli|no-spawn")).stdout === value);
  },
});
