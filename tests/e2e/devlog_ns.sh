#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/devlog_ns.sh - run a command (Dovecot) with a private /dev/log,
# so that the module's pam_syslog lines from Dovecot's auth workers can be
# read by a test, without touching the host's /dev:
#
#   unshare -m --propagation private bash devlog_ns.sh DIR -- COMMAND...
#
# Inside the new mount namespace: an overlay of the host's /dev (upper
# layer in DIR/up) is moved onto /dev, tests/e2e/syslog_sink.py binds
# /dev/log there (log DIR/syslog.log, pid DIR/sink.pid), then COMMAND is
# exec'd.  The namespace lives as long as its processes (the sink and the
# daemon COMMAND started); the caller stops both by their pid files.
# (The host has no /dev/log here; glibc's syslog() then drops every line.)
set -eu
dir=$1
shift
[ "${1:-}" = -- ] && shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/up" "$dir/work" "$dir/dev"
mount -t overlay overlay -o "lowerdir=/dev,upperdir=$dir/up,workdir=$dir/work" "$dir/dev"
for m in pts shm mqueue; do
    if mountpoint -q "/dev/$m"; then
        mount --bind "/dev/$m" "$dir/dev/$m"
    fi
done
mount --move "$dir/dev" /dev
rm -f /dev/log
"${PYTHON:-python3}" "$here/syslog_sink.py" --socket /dev/log --log "$dir/syslog.log" \
    --pid-file "$dir/sink.pid" </dev/null >"$dir/sink.out" 2>&1 &
for _ in $(seq 1 100); do
    [ -s "$dir/sink.pid" ] && break
    sleep 0.05
done
[ -S /dev/log ] || { echo "devlog_ns.sh: the syslog sink did not start" >&2; exit 1; }
exec "$@"
