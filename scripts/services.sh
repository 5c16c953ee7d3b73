#!/usr/bin/env bash
# The servers the tests need, on 127.0.0.1 only.
#
#   scripts/services.sh install redis postgres nats etcd graphviz nginx
#                                                install what is missing (Debian packages;
#                                                graphviz is a tool the tests run, not a server;
#                                                nginx is the gateway benchmark's peer, which
#                                                starts it with a configuration of its own).
#                                                No package's daemon is started by the install:
#                                                every server here listens on 127.0.0.1 only.
#   scripts/services.sh installed NAME           exit 0 if it is installed, 1 if not
#   scripts/services.sh start NAME PORT          start one on 127.0.0.1:PORT, wait until it answers
#   scripts/services.sh stop NAME PORT           stop it and remove its files (no error if it
#                                                is not running)
#   scripts/services.sh kill NAME PORT           SIGKILL redis or etcd, as a crash would (start
#                                                brings it back on the same port; etcd keeps its
#                                                data directory, so it restarts with its data)
#
# NAME is redis, postgres, nats or etcd (a single member: clients on 127.0.0.1:PORT, its
# peer URL a unix socket in its directory, so it takes no second TCP port). NATS runs with JetStream on, its store under the
# server's directory (file storage, so a stream is durable). PostgreSQL runs with fsync and synchronous_commit on (a
# commit is durable), trusts local connections as user `dsys`, database `postgres`:
#   host=127.0.0.1 port=PORT user=dsys dbname=postgres
#
# Each server keeps its files under ${DSYS_SERVICES_DIR:-/tmp/dsys-services-UID}/NAME-PORT
# and persists nothing: tests start the servers they need and stop them, even mid-test, and
# a stop removes the directory (a PostgreSQL one is ~40 MB; thousands of test runs add up).
# That root is private: a real directory (not a symlink) owned by the caller, which no one
# else may write into (mode 0711: the postgres user may pass through to its own server's
# directory); anything else there, planted or stale, is refused, never followed. A pid
# file is trusted only if the process it names is the server it should be.
set -euo pipefail

die() { echo "services.sh: $*" >&2; exit 1; }

# The private root for the servers' files, made if missing, refused if not ours.
private_root() {
    local root="$1"
    if [ ! -e "$root" ] && [ ! -L "$root" ]; then
        mkdir -m 711 "$root" 2>/dev/null || true
    fi
    [ -d "$root" ] && [ ! -L "$root" ] \
        || die "$root is not a directory (a symlink or a file?): refusing to use it; remove it or set DSYS_SERVICES_DIR"
    [ "$(stat -c %u "$root")" = "$(id -u)" ] \
        || die "$root belongs to another user: refusing to use it; remove it or set DSYS_SERVICES_DIR"
    chmod 711 "$root"
    echo "$root"
}

dir_root="$(private_root "${DSYS_SERVICES_DIR:-/tmp/dsys-services-$(id -u)}")"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root (or sudo) to run: $*"; fi
}

package_of() {
    case "$1" in
        redis) echo redis-server ;;
        postgres) echo postgresql ;;
        nats) echo nats-server ;;
        graphviz) echo graphviz ;;
        etcd) echo etcd-server ;;
        nginx) echo nginx-light ;;
        *) die "unknown service '$1' (known: redis, postgres, nats, etcd, graphviz, nginx)" ;;
    esac
}

# Where PostgreSQL's server programs are: Debian keeps them off PATH, by version.
pg_bin() {
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$bin" ] && [ -x "$bin/initdb" ] && echo "$bin"
}

installed() {
    case "$1" in
        redis) command -v redis-server >/dev/null 2>&1 ;;
        postgres) pg_bin >/dev/null ;;
        nats) command -v nats-server >/dev/null 2>&1 ;;
        graphviz) command -v dot >/dev/null 2>&1 ;;
        etcd) command -v etcd >/dev/null 2>&1 ;;
        nginx) [ -x /usr/sbin/nginx ] ;;
        *) die "unknown service '$1' (known: redis, postgres, nats, etcd, graphviz, nginx)" ;;
    esac
}

install() {
    local missing=()
    for service in "$@"; do
        installed "$service" || missing+=("$(package_of "$service")")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "services.sh: installing ${missing[*]}" >&2
    # Debian starts a package's daemon on install (nginx on 0.0.0.0:80, redis on 6379);
    # a policy-rc.d that answers 101 (action forbidden) keeps them all stopped.
    local policy=/usr/sbin/policy-rc.d ours=0
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" && ours=1
    fi
    local ok=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
        || ok=1
    [ "$ours" = 1 ] && as_root rm -f "$policy"
    [ "$ok" = 0 ] || die "could not install ${missing[*]}"
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

# The pid in DIR/pid if it names a running PROGRAM; nothing (and the stale file gone) if
# not: a pid file left by a crash may name a pid the system has since given to another
# process, which must not be signalled.
server_pid() {
    local dir="$1" program="$2" pid
    [ -f "$dir/pid" ] && [ ! -L "$dir/pid" ] || return 0
    pid="$(head -c 32 "$dir/pid")"
    case "$pid" in ''|*[!0-9]*) rm -f "$dir/pid"; return 0 ;; esac
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
        "$program"*) echo "$pid" ;;
        *) rm -f "$dir/pid" ;;
    esac
}

# Stop the PROGRAM whose pid file is DIR/pid: politely, then after 5 s not.
stop_by_pidfile() {
    local dir="$1" program="$2" pid
    pid="$(server_pid "$dir" "$program")"
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
}

stop_redis() { stop_by_pidfile "$dir_root/redis-$1" redis-server; rm -rf "$dir_root/redis-$1"; }

start_etcd() {
    local port="$1" dir="$dir_root/etcd-$1"
    mkdir -p "$dir"
    # The peer socket is named for the port, in the server's directory (etcd makes a
    # unix:// URL's socket in its working directory); a stale one from a kill goes.
    rm -f "$dir/localhost:$port"
    (cd "$dir" && exec etcd --name dsys --data-dir "$dir/data" \
        --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
        --listen-peer-urls "unix://localhost:$port" --initial-advertise-peer-urls "unix://localhost:$port" \
        --initial-cluster "dsys=unix://localhost:$port" >>"$dir/log" 2>&1) &
    echo $! >"$dir/pid"
    for _ in $(seq 200); do
        if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
            printf 'GET /health HTTP/1.0\r\n\r\n' >&3
            if grep -q '"health":"true"' <&3 2>/dev/null; then exec 3>&-; return 0; fi
            exec 3>&-
        fi
        sleep 0.05
    done
    die "etcd on port $port did not answer; see $dir/log"
}

stop_etcd() { stop_by_pidfile "$dir_root/etcd-$1" etcd; rm -rf "$dir_root/etcd-$1"; }

# SIGKILL the server whose pid file is DIR/pid if it is PROGRAM, and wait until it is
# gone; its files stay.
kill_by_pidfile() {
    local dir="$1" program="$2" pid
    pid="$(server_pid "$dir" "$program")"
    [ -n "$pid" ] || return 0
    kill -9 "$pid" 2>/dev/null || true
    # Gone, or a zombie (a daemon's parent may be slow to reap it): either way dead.
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && break
        sleep 0.02
    done
    rm -f "$dir/pid"
}

start_nats() {
    local port="$1" dir="$dir_root/nats-$1"
    stop_nats "$port"
    rm -rf "$dir"
    mkdir -p "$dir"
    nats-server -a 127.0.0.1 -p "$port" -js -sd "$dir/jetstream" \
        -P "$dir/pid" -l "$dir/log" >/dev/null 2>&1 &
    # Ready when it accepts a connection and answers a PING.
    for _ in $(seq 200); do
        if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
            printf 'CONNECT {}\r\nPING\r\n' >&3
            if timeout 1 grep -q -m1 PONG <&3; then exec 3>&-; return 0; fi
            exec 3>&-
        fi
        sleep 0.05
    done
    die "nats on port $port did not answer; see $dir/log"
}

stop_nats() { stop_by_pidfile "$dir_root/nats-$1" nats-server; rm -rf "$dir_root/nats-$1"; }

# PostgreSQL refuses to run as root: as root, run it as the `postgres` user the package
# made, in a directory that user owns.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
    local port="$1" dir="$dir_root/postgres-$1" bin
    bin="$(pg_bin)" || die "PostgreSQL is not installed: scripts/services.sh install postgres"
    stop_postgres "$port"
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -U dsys -A trust --no-sync >"$dir/initdb.log" 2>&1 \
        || die "initdb failed; see $dir/initdb.log"
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on -c synchronous_commit=on -c max_connections=200" \
        start >/dev/null || die "postgres on port $port did not start; see $dir/log"
}

stop_postgres() {
    local port="$1" dir="$dir_root/postgres-$1" bin
    if [ -f "$dir/data/postmaster.pid" ] && bin="$(pg_bin)"; then
        as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

[ $# -ge 2 ] || die "usage: services.sh install NAME... | installed NAME | start NAME PORT | stop NAME PORT"
verb="$1"; shift
case "$verb" in
    install) install "$@" ;;
    installed)
        [ $# -eq 1 ] || die "usage: services.sh installed NAME"
        installed "$1" ;;
    start|stop)
        [ $# -eq 2 ] || die "usage: services.sh $verb NAME PORT"
        case "$2" in ''|*[!0-9]*) die "port must be a number, not '$2'" ;; esac
        case "$1" in
            graphviz|nginx) die "$1 is not a server services.sh starts (nginx: dsys-services' ReverseProxy)" ;;
        esac
        installed "$1" >/dev/null || true
        "${verb}_$1" "$2" ;;
    kill)
        [ $# -eq 2 ] || die "usage: services.sh kill redis|etcd PORT"
        case "$2" in ''|*[!0-9]*) die "port must be a number, not '$2'" ;; esac
        case "$1" in
            redis) kill_by_pidfile "$dir_root/redis-$2" redis-server ;;
            etcd) kill_by_pidfile "$dir_root/etcd-$2" etcd ;;
            *) die "usage: services.sh kill redis|etcd PORT" ;;
        esac ;;
    *) die "unknown verb '$verb' (install, installed, start, stop, kill)" ;;
esac
