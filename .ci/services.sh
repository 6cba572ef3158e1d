#!/usr/bin/env bash
# PostgreSQL, Redis and a 3-node Redis Cluster for the tests, on free loopback ports, in a temporary folder.
#
#   source .ci/services.sh && services_start   # installs what is missing (Debian), starts all three, exports
#                                              # SB_POSTGRES_URL, SB_REDIS_URL and SB_REDIS_CLUSTER_URL
#   services_stop                              # stops them and removes the folder
#
# Or without sourcing: `eval "$(bash .ci/services.sh start)"`, later
# `bash .ci/services.sh stop "$SB_SERVICES_DIR"`.
# PostgreSQL refuses to run as root: as root, its programs run as the postgres user.

_sb_log() { echo "services: $*" >&2; }

_sb_pg_bindir() {
    local dir
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)  # Debian's newest
    if [ ! -x "$dir/pg_ctl" ] && command -v pg_ctl >/dev/null; then
        dir=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
    fi
    echo "$dir"
}

_sb_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Run a PostgreSQL program as the postgres user when we are root.
_sb_as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# apt-get install the packages that are missing; apt-get update only if the first try fails.
_sb_install() {
    local missing=()
    [ -x "$(_sb_pg_bindir)/initdb" ] || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    # The compression tests run each format's own tool on our files (tests/test_compression.py).
    command -v xz >/dev/null || missing+=(xz-utils)
    command -v zstd >/dev/null || missing+=(zstd)
    if [ ${#missing[@]} -eq 0 ]; then return 0; fi
    if [ "$(id -u)" != 0 ]; then
        _sb_log "missing ${missing[*]}: install them (Debian: sudo apt-get install ${missing[*]})"
        return 1
    fi
    _sb_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2; }
}

_sb_start_postgres() {
    local bindir port password folder
    bindir=$(_sb_pg_bindir)
    port=$(_sb_free_port)
    password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
    folder="$SB_SERVICES_DIR/postgres"
    mkdir -p "$folder"
    printf '%s\n' "$password" >"$folder/password"
    chmod 600 "$folder/password"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$folder"; fi
    _sb_as_postgres "$bindir/initdb" -D "$folder/data" -U postgres -E UTF8 --locale=C \
        --auth=scram-sha-256 --pwfile="$folder/password" >"$folder/initdb.log" 2>&1 \
        || { cat "$folder/initdb.log" >&2; return 1; }
    _sb_as_postgres "$bindir/pg_ctl" -D "$folder/data" -l "$folder/log" -w -t 60 -o \
        "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$folder -c fsync=off" start >&2 \
        || { cat "$folder/log" >&2; return 1; }
    export SB_POSTGRES_URL="postgresql://postgres:$password@127.0.0.1:$port/postgres"
    _sb_log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

_sb_start_redis() {
    local port password folder
    port=$(_sb_free_port)
    password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
    folder="$SB_SERVICES_DIR/redis"
    mkdir -p "$folder"
    cat >"$folder/redis.conf" <<EOF
port $port
bind 127.0.0.1
dir $folder
daemonize yes
pidfile $folder/redis.pid
logfile $folder/log
appendonly yes
save ""
requirepass $password
EOF
    chmod 600 "$folder/redis.conf"
    redis-server "$folder/redis.conf" || { cat "$folder/log" >&2; return 1; }
    local tries=0
    until REDISCLI_AUTH=$password redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then cat "$folder/log" >&2; return 1; fi
        sleep 0.1
    done
    export SB_REDIS_URL="redis://:$password@127.0.0.1:$port/0"
    _sb_log "Redis $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port"
}

# Three masters (no replicas) on free loopback ports, password-protected, joined by redis-cli --cluster create.
# A cluster node's bus listens on its port + 10000, so the port is at most 55535 and both must be free.
_sb_free_cluster_port() {
    python3 -c '
import random, socket
while True:
    port = random.randint(20000, 55535)
    try:
        for p in (port, port + 10000):
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(port)
    break'
}

_sb_start_redis_cluster() {
    local password folder port tries ports=() addresses=()
    password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
    for _ in 1 2 3; do
        port=$(_sb_free_cluster_port)
        while [[ " ${ports[*]} " == *" $port "* ]]; do port=$(_sb_free_cluster_port); done
        ports+=("$port")
        addresses+=("127.0.0.1:$port")
        folder="$SB_SERVICES_DIR/redis-cluster/$port"
        mkdir -p "$folder"
        printf '%s\n' "port $port" "bind 127.0.0.1" "dir $folder" "daemonize yes" "pidfile $folder/redis.pid" \
            "logfile $folder/log" "cluster-enabled yes" "cluster-config-file $folder/nodes.conf" \
            "cluster-node-timeout 5000" "appendonly yes" 'save ""' "requirepass $password" \
            "masterauth $password" >"$folder/redis.conf"
        chmod 600 "$folder/redis.conf"
        redis-server "$folder/redis.conf" || { cat "$folder/log" >&2; return 1; }
    done
    for port in "${ports[@]}"; do
        tries=0
        until REDISCLI_AUTH=$password redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; do
            tries=$((tries + 1))
            if [ "$tries" -gt 100 ]; then return 1; fi
            sleep 0.1
        done
    done
    REDISCLI_AUTH=$password redis-cli --cluster create "${addresses[@]}" --cluster-replicas 0 --cluster-yes >&2 \
        || return 1
    tries=0
    until REDISCLI_AUTH=$password redis-cli -h 127.0.0.1 -p "${ports[0]}" cluster info 2>/dev/null \
        | grep -q 'cluster_state:ok'; do
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ]; then _sb_log "the Redis Cluster never reached cluster_state:ok"; return 1; fi
        sleep 0.1
    done
    export SB_REDIS_CLUSTER_URL="redis://:$password@127.0.0.1:${ports[0]}/0"
    _sb_log "Redis Cluster of 3 nodes on 127.0.0.1:${ports[*]}"
}

services_start() {
    _sb_install || return 1
    SB_SERVICES_DIR=$(mktemp -d /tmp/sb-services.XXXXXX)
    chmod 755 "$SB_SERVICES_DIR"  # the postgres user must reach its folder inside
    export SB_SERVICES_DIR
    _sb_start_postgres && _sb_start_redis && _sb_start_redis_cluster
}

services_stop() {
    local dir=${1:-${SB_SERVICES_DIR:-}}
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    local bindir
    bindir=$(_sb_pg_bindir)
    if [ -f "$dir/postgres/data/postmaster.pid" ]; then
        _sb_as_postgres "$bindir/pg_ctl" -D "$dir/postgres/data" -m fast -w stop >&2 || true
    fi
    local pidfile tries
    for pidfile in "$dir/redis/redis.pid" "$dir"/redis-cluster/*/redis.pid; do
        [ -f "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
        tries=0
        while [ -f "$pidfile" ] && [ "$tries" -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
    done
    rm -rf "$dir"
    _sb_log "stopped PostgreSQL, Redis and the Redis Cluster"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        start)
            services_start
            printf 'export SB_SERVICES_DIR=%q SB_POSTGRES_URL=%q SB_REDIS_URL=%q SB_REDIS_CLUSTER_URL=%q\n' \
                "$SB_SERVICES_DIR" "$SB_POSTGRES_URL" "$SB_REDIS_URL" "$SB_REDIS_CLUSTER_URL"
            ;;
        stop) services_stop "${2:-}" ;;
        *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
    esac
fi
