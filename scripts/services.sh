#!/usr/bin/env bash
# The servers the tests need, on 127.0.0.1 only.
#
#   scripts/services.sh install redis        install what is missing (Debian packages)
#   scripts/services.sh start redis PORT     start one on 127.0.0.1:PORT, wait until it answers
#   scripts/services.sh stop redis PORT      stop it (no error if it is not running)
#
# Each server keeps its files under ${DSYS_SERVICES_DIR:-/tmp/dsys-services}/NAME-PORT and
# persists nothing: tests start the servers they need and stop them, even mid-test.
set -euo pipefail

dir_root="${DSYS_SERVICES_DIR:-/tmp/dsys-services}"

die() { echo "services.sh: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root (or sudo) to run: $*"; fi
}

package_of() {
    case "$1" in
        redis) echo redis-server ;;
        *) die "unknown service '$1' (known: redis)" ;;
    esac
}

binary_of() {
    case "$1" in
        redis) echo redis-server ;;
        *) die "unknown service '$1' (known: redis)" ;;
    esac
}

install() {
    local missing=()
    for service in "$@"; do
        command -v "$(binary_of "$service")" >/dev/null 2>&1 || missing+=("$(package_of "$service")")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "services.sh: installing ${missing[*]}" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
        || die "could not install ${missing[*]}"
}

start_redis() {
    local port="$1" dir="$dir_root/redis-$1"
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
        --save '' --appendonly no --dir "$dir" \
        --daemonize yes --pidfile "$dir/pid" --logfile "$dir/log" >/dev/null
    for _ in $(seq 100); do
        if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
        sleep 0.05
    done
    die "redis on port $port did not answer; see $dir/log"
}

stop_redis() {
    local port="$1" dir="$dir_root/redis-$1"
    [ -f "$dir/pid" ] || return 0
    local pid
    pid="$(cat "$dir/pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
}

[ $# -ge 2 ] || die "usage: services.sh install NAME... | start NAME PORT | stop NAME PORT"
verb="$1"; shift
case "$verb" in
    install) install "$@" ;;
    start|stop)
        [ $# -eq 2 ] || die "usage: services.sh $verb NAME PORT"
        case "$2" in ''|*[!0-9]*) die "port must be a number, not '$2'" ;; esac
        binary_of "$1" >/dev/null
        "${verb}_$1" "$2" ;;
    *) die "unknown verb '$verb' (install, start, stop)" ;;
esac
