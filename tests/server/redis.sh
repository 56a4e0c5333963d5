#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/server/redis.sh - a real redis-server for tests, with a password, an
# ACL user and a unix socket.  Everything lives in STATEDIR; nothing is saved.
#
#   redis.sh start STATEDIR   create STATEDIR (or reuse it: same port, same
#                             passwords), start redis-server, wait for PING
#   redis.sh stop STATEDIR    stop the redis-server whose pid is in
#                             STATEDIR/pid (it may be stopped with SIGSTOP)
#   redis.sh cli STATEDIR ARG...  redis-cli as the default user over TCP
#
# Files in STATEDIR:
#   port        TCP port on 127.0.0.1
#   sock        unix socket path (mode 700 directory)
#   pid         pid of the redis-server this script started
#   auth-default    "PASSWORD" for the default user (requirepass), mode 600
#   auth-acl        "hbtest PASSWORD" for user hbtest (~pam_httpbasic:* +@all)
#   auth-minimal    "hbmin PASSWORD" for user hbmin (only the commands
#                   the store uses, only pam_httpbasic:* keys)
#   auth-wrong      "hbtest not-the-password"
#   redis.conf  log
set -u

die() { echo "redis.sh: $*" >&2; exit 1; }

REDIS_BIN=${REDIS_BIN:-$(command -v redis-server || echo /usr/bin/redis-server)}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Passwords and auth files, made once per STATEDIR.
make_secrets() {
    local d=$1
    [ -s "$d/auth-default" ] && return 0
    (
        umask 077
        pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
        acl=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
        printf '%s\n' "$pw" >"$d/auth-default"
        printf 'hbtest %s\n' "$acl" >"$d/auth-acl"
        printf 'hbmin %s\n' "$acl" >"$d/auth-minimal"
        printf 'hbtest not-the-password\n' >"$d/auth-wrong"
        printf '%s' "$pw" >"$d/requirepass"
        printf '%s' "$acl" >"$d/aclpass"
    )
}

write_conf() {
    local d=$1
    touch "$d/redis.conf" && chmod 600 "$d/redis.conf"
    cat >"$d/redis.conf" <<EOF
bind 127.0.0.1 -::1
port $(cat "$d/port")
unixsocket $d/sock.d/redis.sock
unixsocketperm 700
daemonize yes
pidfile $d/pid
dir $d
logfile $d/log
save ""
appendonly no
databases 16
requirepass $(cat "$d/requirepass")
user hbtest on >$(cat "$d/aclpass") ~pam_httpbasic:* +@all
user hbmin on >$(cat "$d/aclpass") resetkeys ~pam_httpbasic:* resetchannels -@all +auth +select +get +mget +set +del +watch +unwatch +multi +exec +scan
EOF
}

cli() {
    local d=$1
    shift
    REDISCLI_AUTH=$(cat "$d/requirepass") redis-cli --no-auth-warning -h 127.0.0.1 -p "$(cat "$d/port")" "$@"
}

start() {
    local d=$1 i
    (umask 077; mkdir -p "$d/sock.d") || die "cannot create $d"
    chmod 700 "$d/sock.d"
    [ -s "$d/port" ] || free_port >"$d/port"
    printf '%s\n' "$d/sock.d/redis.sock" >"$d/sock"
    make_secrets "$d"
    write_conf "$d"
    rm -f "$d/pid"
    "$REDIS_BIN" "$d/redis.conf" >>"$d/log" 2>&1 || die "redis-server failed: $(tail -n 5 "$d/log")"
    for i in $(seq 1 100); do
        if [ -s "$d/pid" ] && [ "$(cli "$d" PING 2>/dev/null)" = PONG ]; then
            return 0
        fi
        sleep 0.05
    done
    die "redis-server did not answer: $(tail -n 5 "$d/log")"
}

stop() {
    local d=$1 pid i
    [ -s "$d/pid" ] || return 0
    pid=$(cat "$d/pid")
    kill -TERM "$pid" 2>/dev/null
    kill -CONT "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$d/pid"
    return 0
}

case ${1:-} in
    start) [ $# -eq 2 ] || die "usage: $0 start STATEDIR"; start "$2" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop STATEDIR"; stop "$2" ;;
    cli) [ $# -ge 2 ] || die "usage: $0 cli STATEDIR ARG..."; d=$2; shift 2; cli "$d" "$@" ;;
    *) die "usage: $0 start|stop|cli STATEDIR" ;;
esac
