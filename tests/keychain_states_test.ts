/**
 * The keychain-state table: what each command says, and its exit code, when
 * the keychain is locked, holds no item, is unavailable, or does not answer
 * — through the real CLI against a private gnome-keyring (locked through
 * its D-Bus `Lock` call, or stopped on a bus that starts nothing) and, for
 * the slow state, a `secret-tool` that never returns.
 *
 * - locked: never "not logged in": exit 3 with how to unlock; a login in
 *   auto mode stops, names `--store file` and writes no second copy;
 * - absent: not logged in (exit 1); a login stores the item;
 * - unavailable (no session bus, or a bus without a Secret Service): auto
 *   mode uses auth.json — a login saves there with a warning naming the
 *   file; keyring mode is exit 3;
 * - slow: after the 3 s bound, an error naming the keychain (exit 3), never
 *   "not logged in" (the fault suite's `secret-tool` shim, every call hung).
 *
 * With `CDX_EDGE_TABLE=<file>` the rows become the README's table.
 */
import assert from "node:assert/strict";
import { hasSecretServiceTools, startSecretService } from "./helpers/secret_service.ts";
import { runCdx } from "./helpers/cli.ts";
import { runChild } from "./helpers/spawn.ts";
import { hungKeychain } from "./helpers/wait_points.ts";
import { normalise, recordRow } from "./helpers/edge_table.ts";
import { normalStream, startResponsesServer } from "./fakes/responses_server.ts";
import { KEYRING_SERVICE, keyringAccount } from "../lib/auth/keyring_item.ts";
import { codexAttributes, codexLabel } from "../lib/keyring/secret_tool.ts";
import { serializeAuthFile } from "../lib/auth/auth_json.ts";

const HAS_SS = hasSecretServiceTools();
const STORED_KEY = "sk-proj-keychain-states-stored-0123456789";
const NEW_KEY = "sk-proj-keychain-states-new-0123456789ab";
const STORED = JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: STORED_KEY });

type CommandId = "status" | "token" | "run" | "login-auto" | "login-keyring" | "logout";

const COMMANDS: Array<{ id: CommandId; label: string; args: string[]; stdin?: string }> = [
  { id: "status", label: "login status", args: ["login", "status"] },
  { id: "token", label: "login token", args: ["login", "token"] },
  { id: "run", label: "run", args: ["run", "hi"] },
  {
    id: "login-auto",
    label: "login --with-api-key",
    args: ["login", "--with-api-key"],
    stdin: NEW_KEY,
  },
  {
    id: "login-keyring",
    label: "login --with-api-key --store keyring",
    args: ["login", "--with-api-key", "--store", "keyring"],
    stdin: NEW_KEY,
  },
  { id: "logout", label: "logout", args: ["logout"] },
];

/** One command's run in one state: its own CODEX_HOME (so its own keychain item). */
interface Cell {
  code: number;
  /** stdout and stderr together (status reports on stdout, the others on stderr). */
  output: string;
  home: string;
  authJson?: string;
}

/** What a cell must show: the exit code and the line that says it. */
interface Expect {
  code: number;
  says: RegExp;
  check?(cell: Cell): void;
}

const UNLOCK = /unlock the (login keyring|keychain)/;
const NO_SECOND_COPY = (cell: Cell) =>
  assert.equal(cell.authJson, undefined, "no second copy in auth.json");
const NAMES_STORE_FILE = (cell: Cell) => {
  assert.match(cell.output, /--store file/);
  NO_SECOND_COPY(cell);
};

/** A keychain that cannot be read: exit 3, never "not logged in". */
function unknown(says: RegExp, check?: (cell: Cell) => void): Expect {
  return {
    code: 3,
    says,
    check(cell) {
      assert.doesNotMatch(cell.output, /not logged in/i);
      check?.(cell);
    },
  };
}

interface State {
  id: string;
  title: string;
  /** Prepares the environment; `homes` get the stored login as this state has it. */
  start(homes: string[]): Promise<{ env: Record<string, string> } & AsyncDisposable>;
  expect: Record<CommandId, Expect>;
  /** Run the commands one after the other (see the locked state). */
  sequential?: boolean;
}

async function storeItem(env: Record<string, string>, home: string): Promise<void> {
  const account = await keyringAccount(home);
  const r = await runChild("secret-tool", [
    "store",
    "--label",
    codexLabel(KEYRING_SERVICE, account),
    ...codexAttributes(KEYRING_SERVICE, account),
  ], { env, stdin: STORED });
  assert.equal(r.code, 0, r.stderr);
}

/**
 * No keychain here at all: auto mode uses auth.json (where an auto login
 * without a keychain put the login), keyring mode is exit 3.
 */
function unavailable(
  id: string,
  title: string,
  start: () => Promise<{ env: Record<string, string> } & AsyncDisposable>,
): State {
  return {
    id,
    title,
    async start(homes) {
      for (const home of homes) {
        await Deno.writeTextFile(
          `${home}/auth.json`,
          serializeAuthFile({ auth_mode: "apikey", OPENAI_API_KEY: STORED_KEY }),
          { mode: 0o600 },
        );
      }
      return await start();
    },
    expect: {
      "status": {
        code: 0,
        says: /^Keychain: not available \(Secret Service is not available/m,
        check: (cell) => assert.match(cell.output, /^Stored in: file/m),
      },
      "token": { code: 0, says: new RegExp(`^${STORED_KEY}$`, "m") },
      "run": { code: 0, says: /^Hello from the fake model/m },
      "login-auto": {
        code: 0,
        says: /^warning: the keychain could not be used .*; credentials saved to \S+auth\.json/m,
        check: (cell) => assert.match(cell.authJson ?? "", new RegExp(NEW_KEY)),
      },
      "login-keyring": {
        code: 3,
        says:
          /^error: could not save the credentials in the keychain: Secret Service is not available/m,
        check: (cell) =>
          assert.match(cell.authJson ?? "", new RegExp(STORED_KEY), "auth.json kept"),
      },
      "logout": { code: 0, says: /^Successfully logged out$/m },
    },
  };
}

const STATES: State[] = [
  {
    id: "locked",
    title: "locked",
    // `secret-tool lookup` of a locked item asks gnome-keyring for an unlock prompt; it allows
    // one at a time, so concurrent lookups queue past the 3 s bound ("did not answer", still
    // exit 3). One at a time, each sees the collection locked, as a user's single command does.
    sequential: true,
    async start(homes) {
      const ss = await startSecretService();
      for (const home of homes) await storeItem(ss.env, home);
      await ss.lock();
      return { env: ss.env, [Symbol.asyncDispose]: () => ss.stop() };
    },
    expect: {
      "status": unknown(/^Login state unknown: the keychain could not be read$/m, (cell) => {
        assert.match(cell.output, /^Keychain: Secret Service collection is locked/m);
        assert.match(cell.output, UNLOCK);
      }),
      "token": unknown(/^error: cannot tell whether you are logged in: .*collection is locked/m),
      "run": unknown(/^error: cannot tell whether you are logged in: .*collection is locked/m),
      "login-auto": unknown(
        /^error: could not save the credentials in the keychain: .*collection is locked/m,
        NAMES_STORE_FILE,
      ),
      "login-keyring": unknown(
        /^error: could not save the credentials in the keychain: .*collection is locked/m,
        NO_SECOND_COPY,
      ),
      "logout": unknown(/^error: Error logging out: .*collection is locked/m),
    },
  },
  {
    id: "absent",
    title: "absent (unlocked, no item)",
    async start() {
      const ss = await startSecretService();
      return { env: ss.env, [Symbol.asyncDispose]: () => ss.stop() };
    },
    expect: {
      "status": { code: 1, says: /^Not logged in$/m },
      "token": { code: 1, says: /^error: not logged in$/m },
      "run": { code: 1, says: /^error: not logged in$/m },
      "login-auto": { code: 0, says: /^API key saved\./m, check: NO_SECOND_COPY },
      "login-keyring": { code: 0, says: /^API key saved\./m, check: NO_SECOND_COPY },
      "logout": { code: 0, says: /^Not logged in$/m },
    },
  },
  unavailable(
    "no-bus",
    "unavailable (no session bus); the login in auth.json",
    () =>
      Promise.resolve({
        env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/cdx-test-bus" },
        [Symbol.asyncDispose]: () => Promise.resolve(),
      }),
  ),
  unavailable(
    "no-provider",
    "unavailable (a session bus, no Secret Service on it); the login in auth.json",
    async () => {
      // A private bus that starts nothing on demand, and its keyring daemon stopped.
      const ss = await startSecretService({ activation: false });
      Deno.kill(ss.keyringPid, "SIGTERM");
      while (ss.alive()) await new Promise((r) => setTimeout(r, 20));
      return { env: ss.env, [Symbol.asyncDispose]: () => ss.stop() };
    },
  ),
  {
    id: "slow",
    title: "slow (a `secret-tool` that never returns)",
    async start() {
      const keychain = await hungKeychain();
      return {
        env: { PATH: keychain.path },
        [Symbol.asyncDispose]: () => keychain[Symbol.asyncDispose](),
      };
    },
    expect: {
      "status": unknown(/^Keychain: Secret Service did not answer within 3 s \(load\)$/m),
      "token": unknown(
        /^error: cannot tell whether you are logged in: .*did not answer within 3 s/m,
      ),
      "run": unknown(/^error: cannot tell whether you are logged in: .*did not answer within 3 s/m),
      "login-auto": unknown(
        /^error: could not save the credentials in the keychain: Secret Service did not answer within 3 s/m,
        NAMES_STORE_FILE,
      ),
      "login-keyring": unknown(
        /^error: could not save the credentials in the keychain: Secret Service did not answer within 3 s/m,
        NO_SECOND_COPY,
      ),
      "logout": unknown(/^error: Error logging out: .*did not answer within 3 s/m),
    },
  },
];

STATES.forEach((state, stateIndex) => {
  Deno.test({
    name: `keychain ${state.title}: ${
      Object.entries(state.expect).map(([c, e]) => `${c} → ${e.code}`).join(", ")
    }`,
    ignore: !HAS_SS,
    async fn() {
      const homes = await Promise.all(
        COMMANDS.map(() => Deno.makeTempDir({ prefix: `cdx-keychain-${state.id}-` })),
      );
      await using model = startResponsesServer([normalStream()]);
      try {
        await using env = await state.start(homes);
        // Independent homes (and keychain items): the commands can run side by side.
        const runOne = async (command: typeof COMMANDS[number], i: number): Promise<Cell> => {
          const r = await runCdx(command.args, {
            env: {
              ...env.env,
              CODEX_HOME: homes[i],
              OPENAI_BASE_URL: model.baseUrl,
              CDX_LOG_PERSIST: "0",
            },
            stdin: command.stdin,
          });
          const authJson = await Deno.readTextFile(`${homes[i]}/auth.json`).catch(() => undefined);
          return { code: r.code, output: `${r.stdout}${r.stderr}`, home: homes[i], authJson };
        };
        const cells: Cell[] = [];
        if (state.sequential) {
          for (const [i, command] of COMMANDS.entries()) cells.push(await runOne(command, i));
        } else cells.push(...await Promise.all(COMMANDS.map(runOne)));
        for (const [i, command] of COMMANDS.entries()) {
          const cell = cells[i];
          const expected = state.expect[command.id];
          const context = `${state.id} × ${command.label}:\n${cell.output}`;
          assert.doesNotMatch(cell.output, /internal error|^\s+at /m, context);
          assert.equal(cell.code, expected.code, context);
          const said = expected.says.exec(cell.output);
          assert.ok(said, `${expected.says} in ${context}`);
          expected.check?.(cell);
          for (const secret of [STORED_KEY, NEW_KEY]) {
            if (command.id === "token" && secret === STORED_KEY) continue; // its output
            assert.ok(!cell.output.includes(secret), `a key in the output of ${context}`);
          }
          await recordRow({
            table: "keychain",
            order: stateIndex * 10 + i,
            state: state.title,
            command: `cdx ${command.label}`,
            code: cell.code,
            // The whole line that says it.
            outcome: normalise(
              cell.output.slice(said.index).split("\n")[0].replace(STORED_KEY, "sk-…"),
              cell.home,
            ),
          });
        }
      } finally {
        for (const home of homes) await Deno.remove(home, { recursive: true }).catch(() => {});
      }
    },
  });
});
