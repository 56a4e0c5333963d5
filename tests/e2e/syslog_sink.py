#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A syslog socket for the e2e tests (stdlib only).

    syslog_sink.py --socket PATH --log FILE --pid-file FILE [--lifetime S]

Binds a Unix datagram socket at PATH (normally /dev/log inside the private
mount namespace of tests/e2e/devlog_ns.sh), writes its pid to --pid-file
once it listens, and appends every message to --log as one line:
"PRIORITY MESSAGE" (the syslog priority 0-7, then the message with the
"<PRI>" prefix and the timestamp taken away, e.g.
"4 auth: pam_httpbasic(svc:auth): auth ok (stale: ...) ...").
Exits on SIGTERM or after --lifetime seconds (default 900).
"""

import argparse
import os
import re
import signal
import socket
import threading

HEAD = re.compile(rb"^<(\d+)>(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d )?")


def line_of(datagram):
    """'PRIORITY MESSAGE' for one datagram."""
    m = HEAD.match(datagram)
    prio = int(m.group(1)) & 7 if m else 6
    text = datagram[m.end():] if m else datagram
    text = text.rstrip(b"\n\0").replace(b"\n", b"\\n")
    return "%d %s\n" % (prio, text.decode("utf-8", "backslashreplace"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--socket", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--lifetime", type=float, default=900)
    a = p.parse_args()
    threading.Timer(a.lifetime, lambda: os._exit(0)).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.socket)
    os.chmod(a.socket, 0o666)
    with open(a.pid_file + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(a.pid_file + ".tmp", a.pid_file)
    with open(a.log, "a", encoding="utf-8") as out:
        while True:
            out.write(line_of(s.recv(65536)))
            out.flush()


if __name__ == "__main__":
    main()
