/**
 * A throwaway, unlocked Secret Service for tests: a private `dbus-daemon`
 * plus `gnome-keyring-daemon --unlock` in a temp dir — never the user's
 * keyring. The recipe of `shared/reference/keychains.md` §7 (and of
 * `scripts/secret-service-env.sh`).
 *
 * Both daemons are started detached (through `sh`), so one environment can be
 * shared by several tests of a file without tripping Deno's resource
 * sanitizer; `stop()` kills exactly those two PIDs and removes the dir.
 *
 * @example
 * ```ts
 * Deno.test({
 *   name: "a saved token is found by secret-tool",
 *   ignore: !hasSecretServiceTools(),
 *   async fn() {
 *     await using ss = await startSecretService();
 *     const out = await new Deno.Command("secret-tool", {
 *       args: ["lookup", "service", "x"], env: ss.env,
 *     }).output();
 *   },
 * });
 * ```
 *
 * @module
 */

/** A running private Secret Service. */
export interface SecretServiceEnv {
  /**
   * Variables to pass to children (`Deno.Command({ env })` merges them into
   * the inherited environment): `DBUS_SESSION_BUS_ADDRESS`, and
   * `SECRET_TEST_ENV_DIR` (the temp dir).
   */
  readonly env: Record<string, string>;
  /** The private temp dir (mode 0700) holding the bus socket and keyring files. */
  readonly dir: string;
  /** PID of the gnome-keyring-daemon that owns `org.freedesktop.secrets`. */
  readonly keyringPid: number;
  /** PID of the private dbus-daemon. */
  readonly busPid: number;
  /**
   * Locks the default (`login`) collection through the D-Bus `Lock` call.
   * Afterwards `secret-tool lookup` exits 1 silently and `store` fails.
   * (There is no prompter, so nothing can unlock it again: start a new env.)
   */
  lock(): Promise<void>;
  /** Whether the default collection is locked (its D-Bus `Locked` property). */
  isLocked(): Promise<boolean>;
  /**
   * Whether the keyring daemon is still running. gnome-keyring 42 can abort
   * (a GLib assertion) when a client disconnects while its property read is
   * being answered.
   */
  alive(): boolean;
  /**
   * Starts the keyring daemon again on the same bus and data (the items
   * survive: they are in `data/keyrings/login.keyring`), unlocked. Only
   * meaningful with `activation: false`, where no locked daemon was
   * auto-started in its place.
   */
  restart(): Promise<void>;
  /** Kills both daemons (by PID) and removes the dir. Safe to call twice. */
  stop(): Promise<void>;
  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const REQUIRED_TOOLS = ["secret-tool", "dbus-daemon", "dbus-send", "gnome-keyring-daemon", "sh"];

/** True when `name` is an executable file somewhere on PATH. */
function onPath(name: string): boolean {
  const path = Deno.env.get("PATH") ?? "";
  for (const dir of path.split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch {
      // not in this dir
    }
  }
  return false;
}

/**
 * Whether this machine can run {@linkcode startSecretService} (Linux with
 * `secret-tool`, `dbus-daemon`, `dbus-send` and `gnome-keyring-daemon` on
 * PATH). Use it as `ignore: !hasSecretServiceTools()` so a skip is visible.
 */
export function hasSecretServiceTools(): boolean {
  if (Deno.build.os !== "linux") return false;
  return REQUIRED_TOOLS.every(onPath);
}

const decoder = new TextDecoder();

/** The detached start-up: prints `<bus address>\n<bus pid>\n<keyring pid>\n`. */
const START_SCRIPT = `
set -u
dir=$1
export XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run"
unset DBUS_SESSION_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY
case $dir in
  *[!A-Za-z0-9_/.-]*) listen="unix:tmpdir=/tmp" ;;
  *) listen="unix:path=$dir/run/bus" ;;
esac
config=--session
[ -f "$dir/bus.conf" ] && config="--config-file=$dir/bus.conf"
dbus-daemon "$config" --fork --nopidfile --address="$listen" \\
  --print-address=1 --print-pid=1 >"$dir/bus.info" 2>"$dir/dbus.log" || exit 3
DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p "$dir/bus.info")
export DBUS_SESSION_BUS_ADDRESS
printf '%s' test | gnome-keyring-daemon --foreground --unlock --components=secrets \\
  >"$dir/keyring.out" 2>>"$dir/keyring.log" &
keyring_pid=$!
printf '%s\\n%s\\n%s\\n' "$DBUS_SESSION_BUS_ADDRESS" "$(sed -n 2p "$dir/bus.info")" "$keyring_pid"
`;

/** Alive and not a zombie (a detached daemon is reaped by init, not by us). */
function running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X" && state !== "";
  } catch {
    return false;
  }
}

async function killAndWait(pid: number): Promise<void> {
  if (!pid || !running(pid)) return;
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 100 && running(pid); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  if (running(pid)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
}

async function dbusSend(env: Record<string, string>, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command("dbus-send", {
    args: ["--session", "--print-reply", ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

async function readLogs(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of ["dbus.log", "keyring.log"]) {
    try {
      const text = (await Deno.readTextFile(`${dir}/${name}`)).trim();
      if (text) parts.push(`${name}: ${text}`);
    } catch { /* not written */ }
  }
  return parts.join("\n");
}

/**
 * Starts a private dbus-daemon and an unlocked gnome-keyring in a fresh temp
 * dir and waits until the keyring owns `org.freedesktop.secrets` on that bus
 * (calling earlier would auto-activate a second, locked daemon). Takes about
 * 70 ms. Throws if the tools are missing or the service does not come up
 * within 10 s (with the daemons' logs in the message).
 */
/** Options of {@linkcode startSecretService}. */
export interface SecretServiceOptions {
  /**
   * `false`: the private bus activates no service on demand, so a keyring
   * daemon that died is not silently replaced by a locked one (whose store
   * calls then wait forever for a prompt); see `restart()`. Default true
   * (the session bus's usual service directories).
   */
  activation?: boolean;
}

/**
 * A session bus configuration without service directories (nothing is
 * auto-started), listening on `listen` (a D-Bus address such as
 * `unix:path=/tmp/x/bus`).
 */
export function noActivationBusConfig(listen: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>${listen}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

/** Starts only the keyring daemon (on a running bus); prints its PID. */
const RESTART_SCRIPT = `
set -u
dir=$1
export XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run" DBUS_SESSION_BUS_ADDRESS="$2"
unset DISPLAY WAYLAND_DISPLAY
printf '%s' test | gnome-keyring-daemon --foreground --unlock --components=secrets \\
  >>"$dir/keyring.out" 2>>"$dir/keyring.log" &
echo $!
`;

export async function startSecretService(
  options: SecretServiceOptions = {},
): Promise<SecretServiceEnv> {
  if (!hasSecretServiceTools()) {
    throw new Error(
      "Secret Service test tools missing (apt-get install libsecret-tools gnome-keyring dbus)",
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "cdx-secret-service-" });
  await Deno.chmod(dir, 0o700);
  await Deno.mkdir(`${dir}/data`, { mode: 0o700 });
  await Deno.mkdir(`${dir}/run`, { mode: 0o700 });
  await Deno.mkdir(`${dir}/home`, { mode: 0o700 });
  if (options.activation === false) {
    await Deno.writeTextFile(`${dir}/bus.conf`, noActivationBusConfig("unix:tmpdir=/tmp"));
  }

  let busPid = 0;
  let keyringPid = 0;
  let stopped = false;
  // Insurance for a test that forgets stop(): kill the daemons at process exit.
  const onUnload = () => {
    for (const pid of [keyringPid, busPid]) {
      try {
        if (pid) Deno.kill(pid, "SIGTERM");
      } catch { /* gone */ }
    }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* gone */ }
  };
  globalThis.addEventListener("unload", onUnload);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    globalThis.removeEventListener("unload", onUnload);
    await killAndWait(keyringPid);
    await killAndWait(busPid);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    const started = await new Deno.Command("sh", {
      args: ["-c", START_SCRIPT, "sh", dir],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const [address, busPidText, keyringPidText] = decoder.decode(started.stdout).split("\n");
    busPid = Number(busPidText) || 0;
    keyringPid = Number(keyringPidText) || 0;
    if (!started.success || !address || !busPid || !keyringPid) {
      throw new Error(
        `could not start the private Secret Service (exit ${started.code}): ${
          decoder.decode(started.stderr)
        }\n${await readLogs(dir)}`,
      );
    }
    const env: Record<string, string> = {
      DBUS_SESSION_BUS_ADDRESS: address,
      SECRET_TEST_ENV_DIR: dir,
    };

    // Wait for the name (typically ~20 ms), up to 10 s, and check that our daemon owns it.
    const waitForName = async () => {
      for (let i = 0;; i++) {
        const reply = await dbusSend(env, [
          "--dest=org.freedesktop.DBus",
          "/org/freedesktop/DBus",
          "org.freedesktop.DBus.NameHasOwner",
          "string:org.freedesktop.secrets",
        ]);
        if (decoder.decode(reply.stdout).includes("boolean true")) break;
        if (!running(keyringPid)) {
          throw new Error(`gnome-keyring-daemon exited during start-up\n${await readLogs(dir)}`);
        }
        if (i >= 500) {
          throw new Error(`org.freedesktop.secrets did not appear\n${await readLogs(dir)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      const owner = await dbusSend(env, [
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.GetConnectionUnixProcessID",
        "string:org.freedesktop.secrets",
      ]);
      const ownerPid = Number(/uint32 (\d+)/.exec(decoder.decode(owner.stdout))?.[1]);
      if (ownerPid !== keyringPid) {
        throw new Error(
          `org.freedesktop.secrets is owned by PID ${ownerPid}, not by our daemon (${keyringPid})`,
        );
      }
    };
    await waitForName();

    const isLocked = async () => {
      const reply = await dbusSend(env, [
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets/aliases/default",
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Collection",
        "string:Locked",
      ]);
      const out = decoder.decode(reply.stdout);
      if (!reply.success) throw new Error(`Locked property: ${decoder.decode(reply.stderr)}`);
      return out.includes("boolean true");
    };
    return {
      env,
      dir,
      busPid,
      get keyringPid() {
        return keyringPid;
      },
      isLocked,
      async lock() {
        const reply = await dbusSend(env, [
          "--dest=org.freedesktop.secrets",
          "/org/freedesktop/secrets",
          "org.freedesktop.Secret.Service.Lock",
          "array:objpath:/org/freedesktop/secrets/collection/login",
        ]);
        if (!reply.success) throw new Error(`Lock failed: ${decoder.decode(reply.stderr)}`);
        if (!await isLocked()) throw new Error("Lock call returned but the collection is unlocked");
      },
      alive: () => running(keyringPid),
      async restart() {
        if (running(keyringPid)) return;
        const started = await new Deno.Command("sh", {
          args: ["-c", RESTART_SCRIPT, "sh", dir, address],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        keyringPid = Number(decoder.decode(started.stdout).trim()) || 0;
        if (!keyringPid) {
          throw new Error(`could not restart gnome-keyring-daemon\n${await readLogs(dir)}`);
        }
        await waitForName();
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
