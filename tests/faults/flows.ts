/**
 * The flows the fault suite breaks, each a starting state, a cdx command and
 * what must be stored after it, whatever happened to it:
 *
 * | Flow | State before | Command |
 * | --- | --- | --- |
 * | refresh | expired ChatGPT login in the keychain (auto) | `cdx login token` |
 * | refresh-file | expired ChatGPT login in auth.json (`file`) | `cdx login token` |
 * | migrate | expired ChatGPT login in a plain auth.json, no config (auto) | `cdx login token` (moves it into the keychain, then refreshes) |
 * | apikey | ChatGPT login in the keychain | `cdx login --with-api-key` |
 * | login | ChatGPT login in the keychain | `cdx login --device-auth` (the fake approves) |
 * | logout | ChatGPT login in the keychain | `cdx logout` |
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Case, Expectation, RunRecord } from "./harness.ts";

/** The API key the `apikey` flow saves. */
export const NEW_API_KEY = "sk-proj-faultsuite-new-key-0123456789abcdef";

/** A flow of the table above. */
export interface Flow {
  name: string;
  seed(c: Case): Promise<unknown>;
  args: string[];
  stdin?: string;
  /**
   * Checks what the run said and returns what must be stored now. May run
   * cdx again (a failed logout is repeated without faults and must then
   * succeed).
   */
  after(c: Case, run: RunRecord): Promise<Expectation>;
}

/** Exit codes a flow may end with under faults: ok, failure, keychain unreadable, interrupted, terminated, killed. */
const ALLOWED_EXITS = new Set([0, 1, 3, 130, 143, 137]);

function allowedExit(run: RunRecord): void {
  assert.ok(
    ALLOWED_EXITS.has(run.code),
    `unexpected exit ${run.code}: ${run.stderr.trim().slice(-300)}`,
  );
}

const chatgpt = (c: Case, run: RunRecord): Promise<Expectation> => {
  allowedExit(run);
  void c;
  return Promise.resolve({ kind: "chatgpt" });
};

/** Every flow, by name. */
export const FLOWS: Record<string, Flow> = {
  refresh: {
    name: "refresh",
    seed: (c) => c.seedKeychain(),
    args: ["login", "token"],
    after: chatgpt,
  },
  "refresh-file": {
    name: "refresh-file",
    seed: (c) => c.seedFile("file"),
    args: ["login", "token"],
    after: chatgpt,
  },
  migrate: {
    name: "migrate",
    seed: (c) => c.seedFile(),
    args: ["login", "token"],
    after: chatgpt,
  },
  apikey: {
    name: "apikey",
    seed: (c) => c.seedKeychain(),
    args: ["login", "--with-api-key"],
    stdin: NEW_API_KEY,
    after: (_c, run) => {
      allowedExit(run);
      if (run.code === 0) {
        assert.match(run.stderr, /API key saved/);
        return Promise.resolve({ kind: "apikey", key: NEW_API_KEY });
      }
      assert.doesNotMatch(run.stderr, /API key saved/);
      // Killed or interrupted after the keychain took the key: either is a truthful state.
      return Promise.resolve(
        run.code >= 128 ? { kind: "chatgpt-or-apikey", key: NEW_API_KEY } : { kind: "chatgpt" },
      );
    },
  },
  login: {
    name: "login",
    seed: (c) => c.seedKeychain(),
    args: ["login", "--device-auth", "--no-browser"],
    after: (_c, run) => {
      allowedExit(run);
      if (run.code === 0) assert.match(run.stderr, /Successfully logged in/);
      return Promise.resolve({ kind: "chatgpt" });
    },
  },
  logout: {
    name: "logout",
    seed: (c) => c.seedKeychain(),
    args: ["logout"],
    after: async (c, run) => {
      allowedExit(run);
      if (run.code === 0) {
        assert.match(run.stderr, /Successfully logged out/);
        return { kind: "none" };
      }
      assert.doesNotMatch(run.stderr, /Successfully logged out/);
      const again = await c.cdx(["logout"]);
      assert.equal(again.code, 0, `logout again: ${again.stderr}`);
      return { kind: "none" };
    },
  },
};
