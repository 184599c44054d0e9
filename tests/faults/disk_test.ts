/**
 * Fault suite, the file system: a full disk (a small tmpfs as CODEX_HOME)
 * before a refresh — the reservation of the rescue file must fail cleanly
 * before any request reaches the issuer — and between the reservation and
 * the issuer's answer — the reservation must carry the new tokens; a
 * read-only CODEX_HOME (tmpfs remounted read-only) and one whose entries
 * cannot change (`chattr +i`, since root ignores mode bits); and symlinks
 * (a dangling `auth.json.lock`, `auth.json` itself a symlink, `log/cdx.log`
 * pointing at a victim file). Cases that need `mount` or `chattr` are
 * skipped, with the reason in their name, where those are not permitted.
 * After each case the shared check of harness.ts.
 */
import assert from "node:assert/strict";
import { runChild } from "../helpers/spawn.ts";
import {
  type Case,
  type CaseSpec,
  faultTest,
  runCases,
  type RunRecord,
  skipRow,
} from "./harness.ts";
import { FLOWS } from "./flows.ts";

async function canMount(): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "cdx-mount-probe-" });
  try {
    const out = await runChild("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
    if (out.code !== 0) return `mounting a tmpfs is not permitted here (${out.stderr.trim()})`;
    await runChild("umount", [dir]);
    return undefined;
  } catch (error) {
    return `no mount command (${(error as Error).message})`;
  } finally {
    await Deno.remove(dir).catch(() => {});
  }
}

async function canChattr(): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "cdx-chattr-probe-" });
  try {
    const out = await runChild("chattr", ["+i", dir]);
    if (out.code !== 0) return `chattr +i is not supported here (${out.stderr.trim()})`;
    await runChild("chattr", ["-i", dir]);
    return undefined;
  } catch (error) {
    return `no chattr command (${(error as Error).message})`;
  } finally {
    await Deno.remove(dir).catch(() => {});
  }
}

async function must(cmd: string, args: string[]): Promise<void> {
  const out = await runChild(cmd, args);
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${out.stderr}`);
}

/** CODEX_HOME becomes a 512 KiB tmpfs (mode 0700). */
async function mountHome(c: Case): Promise<void> {
  await must("mount", ["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", c.home]);
  c.cleanups.push(() => must("umount", ["-l", c.home]));
}

/** Fills the file system of CODEX_HOME until ENOSPC. */
async function fill(c: Case): Promise<void> {
  const file = await Deno.open(`${c.home}/filler`, { write: true, create: true });
  try {
    for (const size of [65536, 4096, 512, 1]) {
      const chunk = new Uint8Array(size);
      try {
        while (true) await file.write(chunk);
      } catch { /* full at this granularity */ }
    }
  } finally {
    file.close();
  }
}

async function unfill(c: Case): Promise<void> {
  await Deno.remove(`${c.home}/filler`);
}

/** The refresh requests that sent `refreshToken`. */
function refreshesWith(c: Case, refreshToken: string): number {
  return c.world.issuer.requests.filter((r) =>
    r.path === "/oauth/token" && r.body.includes(refreshToken)
  ).length;
}

/** One `error:` line (plus an optional `hint:`), matching `message`. */
function oneLineError(run: RunRecord, message: RegExp): void {
  assert.equal(run.code, 1, run.stderr);
  const lines = run.stderr.trim().split("\n").filter((l) => !l.startsWith("warning:"));
  assert.ok(lines.length <= 2, `more than an error and a hint: ${run.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], message);
  if (lines[1]) assert.match(lines[1], /^hint: /);
}

type Mode = "file" | "keychain";

function seed(c: Case, mode: Mode) {
  return mode === "file" ? c.seedFile("file") : c.seedKeychain();
}

function diskSpecs(mountProblem?: string, chattrProblem?: string): CaseSpec[] {
  const specs: CaseSpec[] = [];
  for (const mode of ["file", "keychain"] as const) {
    if (!mountProblem) {
      specs.push({
        name: `full disk before a refresh (${mode}): fails before the issuer is asked`,
        row: "disk",
        async run(c) {
          await mountHome(c);
          const auth = await seed(c, mode);
          await fill(c);
          const run = await c.cdx(["login", "token"]);
          oneLineError(run, /no space left/);
          assert.equal(refreshesWith(c, auth.tokens!.refresh_token), 0, "the issuer was asked");
          await unfill(c);
          return { kind: "chatgpt" };
        },
      });
      specs.push({
        name: `disk fills while the issuer answers (${mode}): the reservation carries the tokens`,
        row: "disk",
        async run(c) {
          await mountHome(c);
          const auth = await seed(c, mode);
          c.world.issuer.beforeRefreshWith(auth.tokens!.refresh_token, () => fill(c));
          const run = await c.cdx(["login", "token"]);
          assert.equal(run.code, 0, run.stderr);
          assert.ok(c.world.issuer.refreshAnswers.includes(run.stdout.trim()));
          await unfill(c);
          return { kind: "chatgpt" };
        },
      });
      specs.push({
        name: `read-only CODEX_HOME (${mode}): fails before the issuer is asked`,
        row: "disk",
        async run(c) {
          await mountHome(c);
          const auth = await seed(c, mode);
          await must("mount", ["-o", "remount,ro", c.home]);
          let run: RunRecord;
          try {
            run = await c.cdx(["login", "token"]);
          } finally {
            await must("mount", ["-o", "remount,rw", c.home]);
          }
          oneLineError(run, /read-only/);
          assert.equal(refreshesWith(c, auth.tokens!.refresh_token), 0, "the issuer was asked");
          return { kind: "chatgpt" };
        },
      });
    }
    if (!chattrProblem) {
      specs.push({
        name:
          `CODEX_HOME whose entries cannot change (chattr +i, ${mode}): fails before the issuer is asked`,
        row: "disk",
        async run(c) {
          const auth = await seed(c, mode);
          await Deno.mkdir(`${c.home}/log`, { mode: 0o700 });
          await must("chattr", ["+i", c.home]);
          c.cleanups.push(async () => void await runChild("chattr", ["-i", c.home]));
          let run: RunRecord;
          try {
            run = await c.cdx(["login", "token"]);
          } finally {
            await must("chattr", ["-i", c.home]);
          }
          oneLineError(run, /permission denied|not permitted/);
          assert.equal(refreshesWith(c, auth.tokens!.refresh_token), 0, "the issuer was asked");
          return { kind: "chatgpt" };
        },
      });
    }
  }
  return specs;
}

function symlinkSpecs(): CaseSpec[] {
  return [
    {
      name: "a dangling auth.json.lock symlink: the refresh replaces it and saves",
      row: "symlink",
      async run(c) {
        await c.seedFile("file");
        const target = `${c.dir}/elsewhere/lock-target`;
        await Deno.symlink(target, `${c.home}/auth.json.lock`);
        const run = await c.cdx(["login", "token"]);
        assert.equal(run.code, 0, run.stderr);
        assert.ok(!(await Deno.lstat(`${c.home}/auth.json.lock`)).isSymlink);
        await assert.rejects(() => Deno.lstat(target), "nothing was created through the link");
        return { kind: "chatgpt" };
      },
    },
    {
      // Decision: cdx reads through a symlinked auth.json (as codex does) but never writes
      // through it: an atomic write replaces the link with a regular file. Writing through a
      // link could overwrite any file it points at; the file it pointed at keeps the old
      // (rotated) tokens, and nothing valid is lost.
      name:
        "auth.json a symlink: read through it; the refresh replaces the link, never the file it points at",
      row: "symlink",
      async run(c) {
        const auth = c.mintLogin();
        await c.writeConfig("file");
        c.usesKeychain = false;
        await Deno.mkdir(`${c.dir}/real`);
        const real = `${c.dir}/real/auth.json`;
        const { serializeAuthFile } = await import("../../lib/auth/auth_json.ts");
        await Deno.writeTextFile(real, serializeAuthFile(auth), { mode: 0o600 });
        await Deno.symlink(real, `${c.home}/auth.json`);
        const run = await c.cdx(["login", "token"]);
        assert.equal(run.code, 0, run.stderr);
        assert.ok(!(await Deno.lstat(`${c.home}/auth.json`)).isSymlink, "the link was replaced");
        assert.equal(await Deno.readTextFile(real), serializeAuthFile(auth), "target untouched");
        return { kind: "chatgpt" };
      },
    },
    {
      name: "log/cdx.log a symlink to a victim file: the victim is not written or chmodded",
      row: "symlink",
      async run(c) {
        await FLOWS.refresh.seed(c);
        const victim = `${c.dir}/victim.txt`;
        await Deno.writeTextFile(victim, "victim\n", { mode: 0o644 });
        await Deno.chmod(victim, 0o644);
        await Deno.mkdir(`${c.home}/log`, { mode: 0o700 });
        await Deno.symlink(victim, `${c.home}/log/cdx.log`);
        const run = await c.cdx(["login", "token"]);
        assert.equal(run.code, 0, run.stderr);
        const problems: string[] = [];
        if (await Deno.readTextFile(victim) !== "victim\n") problems.push("the victim was written");
        if (((await Deno.stat(victim)).mode! & 0o777) !== 0o644) {
          problems.push("the victim's mode changed");
        }
        for (const p of problems) c.problem(p);
        return { kind: "chatgpt" };
      },
    },
  ];
}

faultTest(
  "faults: a full disk, a read-only or immutable CODEX_HOME and symlinks give one-line errors, never a request the disk cannot keep, never a lost credential",
  async (t, world) => {
    const mountProblem = await canMount();
    const chattrProblem = await canChattr();
    if (mountProblem && chattrProblem) skipRow("disk", `${mountProblem}; ${chattrProblem}`);
    for (
      const [problem, what] of [[mountProblem, "full disk / read-only"], [
        chattrProblem,
        "immutable CODEX_HOME",
      ]] as const
    ) {
      if (problem) {
        await t.step({ name: `${what} cases skipped: ${problem}`, ignore: true, fn: () => {} });
      }
    }
    await runCases(t, world, [...diskSpecs(mountProblem, chattrProblem), ...symlinkSpecs()]);
  },
);
