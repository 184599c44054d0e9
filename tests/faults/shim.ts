/**
 * A fault-injecting `secret-tool` for the fault suite: a small sh script put
 * first on the PATH of a cdx child. It logs every call (argv and the
 * environment cdx gave it — never stdin, where the secret is), counts the
 * calls per operation, and forwards to the real `/usr/bin/secret-tool`
 * (against the private gnome-keyring of the test) — except on call N of
 * operation X, where it fails (exit 1 with a message gnome-keyring really
 * prints when D-Bus does not answer) or hangs.
 *
 * cdx gives keychain children a minimal environment, so the shim cannot be
 * configured through env: its state directory is written into the script,
 * and the fault is a file in it (`fault`: `<op> <n> <kind>`).
 *
 * A pass-through `dbus-send` (cdx's locked check) is logged the same way.
 *
 * @module
 */

/** A secret-tool operation as the shim counts it (its first argument). */
export type ShimOp = "lookup" | "store" | "clear" | "search";

/**
 * What happens on the chosen call: `fail` = exit 1 with a D-Bus error
 * before doing anything; `hang` = never answer (until killed); `fail-after`
 * = do the operation, then report failure (a reply lost on the bus).
 */
export type ShimFault = "fail" | "hang" | "fail-after";

/** The message the shim prints for a failing call (what secret-tool says when D-Bus times out). */
export const SHIM_FAILURE_MESSAGE =
  "secret-tool: Error calling StartServiceByName for org.freedesktop.secrets: Timeout was reached";

const REAL_SECRET_TOOL = "/usr/bin/secret-tool";
const REAL_DBUS_SEND = "/usr/bin/dbus-send";

function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function secretToolScript(state: string): string {
  // Builtins only until the exec (read, printf, export -p): the shim runs on every keychain call.
  return `#!/bin/sh
S=${shQuote(state)}
op=$1
n=0
[ -f "$S/count.$op" ] && read n < "$S/count.$op"
n=$((n + 1))
echo "$n" > "$S/count.$op"
{
  printf 'call secret-tool %s #%s\\n' "$op" "$n"
  for a in "$@"; do printf 'argv %s\\n' "$a"; done
  export -p | while IFS= read -r line; do printf 'env %s\\n' "\${line#export }"; done
} >> "$S/calls.log"
if [ -f "$S/fault" ]; then
  read fop fn fkind < "$S/fault"
  if { [ "$fop" = "$op" ] || [ "$fop" = "*" ]; } && { [ "$fn" = "$n" ] || [ "$fn" = "*" ]; }; then
    echo "fault secret-tool $op #$n $fkind" >> "$S/calls.log"
    case $fkind in
      fail) echo ${shQuote(SHIM_FAILURE_MESSAGE)} >&2; exit 1 ;;
      hang) exec sleep 20 ;;
      fail-after)
        ${REAL_SECRET_TOOL} "$@" >/dev/null 2>&1
        echo ${shQuote(SHIM_FAILURE_MESSAGE)} >&2; exit 1 ;;
    esac
  fi
fi
exec ${REAL_SECRET_TOOL} "$@"
`;
}

function dbusSendScript(state: string): string {
  return `#!/bin/sh
S=${shQuote(state)}
{
  printf 'call dbus-send\\n'
  for a in "$@"; do printf 'argv %s\\n' "$a"; done
  export -p | while IFS= read -r line; do printf 'env %s\\n' "\${line#export }"; done
} >> "$S/calls.log"
exec ${REAL_DBUS_SEND} "$@"
`;
}

/** A shim installed in `<dir>/bin`, with its state in `<dir>/shim`. */
export class SecretToolShim {
  readonly bin: string;
  readonly state: string;

  private constructor(dir: string) {
    this.bin = `${dir}/bin`;
    this.state = `${dir}/shim`;
  }

  /** Writes the scripts (0755) under `dir`. */
  static async install(dir: string): Promise<SecretToolShim> {
    const shim = new SecretToolShim(dir);
    await Deno.mkdir(shim.bin, { recursive: true });
    await Deno.mkdir(shim.state, { recursive: true });
    await Deno.writeTextFile(`${shim.bin}/secret-tool`, secretToolScript(shim.state), {
      mode: 0o755,
    });
    await Deno.writeTextFile(`${shim.bin}/dbus-send`, dbusSendScript(shim.state), { mode: 0o755 });
    return shim;
  }

  /** PATH for a cdx child: the shim first. */
  get path(): string {
    return `${this.bin}:/usr/local/bin:/usr/bin:/bin`;
  }

  /**
   * Arms a fault for call `n` (1-based, counted from now) of `op`; `"*"` for
   * every call or every operation (`arm("*", "*", "hang")`: a keychain tool
   * that never answers).
   */
  async arm(op: ShimOp | "*", n: number | "*", kind: ShimFault): Promise<void> {
    await this.resetCounts();
    await Deno.writeTextFile(`${this.state}/fault`, `${op} ${n} ${kind}\n`);
  }

  /** Removes the fault (later calls forward). */
  async disarm(): Promise<void> {
    await Deno.remove(`${this.state}/fault`).catch(() => {});
  }

  /** Starts counting calls from zero. */
  async resetCounts(): Promise<void> {
    for (const op of ["lookup", "store", "clear", "search"]) {
      await Deno.remove(`${this.state}/count.${op}`).catch(() => {});
    }
  }

  /** Calls per operation since the last reset. */
  async counts(): Promise<Record<ShimOp, number>> {
    const out = { lookup: 0, store: 0, clear: 0, search: 0 };
    for (const op of Object.keys(out) as ShimOp[]) {
      try {
        out[op] = Number((await Deno.readTextFile(`${this.state}/count.${op}`)).trim()) || 0;
      } catch { /* never called */ }
    }
    return out;
  }

  /** Everything logged so far (argv and environment of every keychain child). */
  async log(): Promise<string> {
    try {
      return await Deno.readTextFile(`${this.state}/calls.log`);
    } catch {
      return "";
    }
  }
}
