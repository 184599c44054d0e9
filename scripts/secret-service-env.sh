#!/bin/sh
# secret-service-env.sh — run COMMAND against a throwaway, unlocked Secret
# Service (gnome-keyring on a private D-Bus session bus), then clean up.
# Never touches the user's keyring. The same recipe as
# tests/helpers/secret_service.ts (keychains.md §7).
#
#   usage: scripts/secret-service-env.sh COMMAND [ARG...]
#   e.g.   scripts/secret-service-env.sh deno task cdx login status
#          scripts/secret-service-env.sh deno run -A scripts/bench_keyring.ts
#
# COMMAND sees DBUS_SESSION_BUS_ADDRESS (the private bus) and
# SECRET_TEST_ENV_DIR (the temp dir). Exit status: COMMAND's; 125 when the
# environment could not be set up; 127 when a tool is missing.
# Needs: libsecret-tools gnome-keyring dbus (Debian/Ubuntu package names).

set -u
prog=${0##*/}
[ $# -gt 0 ] || { echo "usage: $prog COMMAND [ARG...]" >&2; exit 2; }

for tool in dbus-daemon dbus-send gnome-keyring-daemon secret-tool; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "$prog: $tool not found (apt-get install libsecret-tools gnome-keyring dbus)" >&2
        exit 127
    }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/cdx-secret-service.XXXXXX") || exit 125
chmod 700 "$dir"
mkdir -m 700 "$dir/data" "$dir/run"
bus_pid=
keyring_pid=

alive() { # running and not a zombie (the forked bus is reaped by init)
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; return; }
    case $(sed 's/.*) //' "/proc/$1/stat" | cut -c1) in Z|X|'') return 1 ;; esac
}
cleanup() {
    [ -n "$keyring_pid" ] && { kill "$keyring_pid" 2>/dev/null; wait "$keyring_pid" 2>/dev/null; }
    if [ -n "$bus_pid" ]; then
        kill "$bus_pid" 2>/dev/null
        i=0; while alive "$bus_pid" && [ $i -lt 50 ]; do sleep 0.02; i=$((i + 1)); done
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() { echo "$prog: $*" >&2; cat "$dir"/*.log >&2 2>/dev/null; exit 125; }

# The daemons get private data/runtime dirs and no display.
(
    export XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run"
    unset DBUS_SESSION_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY
    case $dir in
        *[!A-Za-z0-9_/.-]*) listen="unix:tmpdir=/tmp" ;;
        *) listen="unix:path=$dir/run/bus" ;;
    esac
    exec dbus-daemon --session --fork --nopidfile --address="$listen" \
        --print-address=1 --print-pid=1 >"$dir/bus.info" 2>"$dir/dbus.log"
) || fail "dbus-daemon did not start"
DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p "$dir/bus.info")
bus_pid=$(sed -n 2p "$dir/bus.info")
export DBUS_SESSION_BUS_ADDRESS

# --foreground keeps it our child ($! is its PID); --unlock with the password
# on stdin creates and unlocks the "login" collection.
printf "%s" test | env -u DISPLAY -u WAYLAND_DISPLAY XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run" \
    gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$dir/keyring.out" 2>"$dir/keyring.log" &
keyring_pid=$!

# Wait until it owns the name: calling earlier would auto-activate a second,
# locked daemon.
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
        grep -q 'boolean true'; do
    kill -0 "$keyring_pid" 2>/dev/null || { keyring_pid=; fail "gnome-keyring-daemon exited"; }
    i=$((i + 1)); [ $i -lt 500 ] || fail "org.freedesktop.secrets did not appear"
    sleep 0.02
done

export SECRET_TEST_ENV_DIR="$dir"
"$@"
