#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A tiny misbehaving HTTP server for pam_httpbasic tests (stdlib only).

    fault_server.py --mode MODE --port-file F --pid-file F
                    [--tls CERT KEY] [--log F] [--lifetime SECONDS]

Binds 127.0.0.1 on a free port, writes the port to --port-file and its pid
to --pid-file (both written atomically, after the socket listens), and
serves connections in threads until killed or until --lifetime seconds
(default 600) have passed, so that a forgotten server never lingers.

Modes (what happens after a request's headers have been read):
  hang             never answer (the connection stays open)
  reset            send half a status line and headers, then RST (SO_LINGER 0)
  garbage          send a junk status line and close
  http09           send a body without any status line and close
  slow-headers     send a valid 207 head at 1 byte per second
  slow-body        send a valid 207 head, then the body at 1 byte per second
  huge-body        send 207 with an endless chunked body
  close-keepalive  answer 207 with keep-alive, close the connection when it
                   has been idle for 100 ms
  ok               answer 207 (with Set-Cookie) to everything, keep-alive
  mute-idle        answer the first request of a connection (207, keep-alive),
                   then read later requests on it but never answer them, as
                   a peer behind a NAT that silently dropped the idle flow
  nc-maintenance   answer Nextcloud's 503 for maintenance mode, byte for byte
  nc-disabled      answer Nextcloud's 503 for a disabled account, byte for byte
                   (both measured on Nextcloud 29; Apache cannot send these
                   bodies with a 503 to a PROPFIND)
  nc-throttled     answer 429 (no Retry-After), as Nextcloud's brute-force block
  late-ok          the revocation race: the first request is answered 207
                   after --delay seconds (default 2), every later one 401 at
                   once (the password was revoked meanwhile); keep-alive
  forbidden        answer 403
  nc-throttle      Nextcloud's brute-force throttle, scaled down: 207 for the
                   user:password lines of --users FILE, 401 otherwise; every
                   request from an address (X-Forwarded-For, else the peer)
                   with N wrong passwords in the last --throttle-window
                   seconds (default 60) is answered after min(N, --throttle-cap)
                   seconds (default 4), right passwords included; keep-alive
                   (these stand in for Nextcloud at a URL that answered 207
                   before: Apache serves each status at its own URL only)

--port N binds that port instead of a free one (to stand in for another
server at the same URL).

--log F appends one line per request: "mode=.. method=.. path=.. conn=N
req=N" followed by the request headers as name="value" pairs; the value of
Authorization is replaced by its scheme.
"""

import argparse
import os
import signal
import socket
import ssl
import sys
import threading
import time

BODY_207 = (b'<?xml version="1.0" encoding="utf-8"?>\n'
            b'<d:multistatus xmlns:d="DAV:"><d:response><d:href>/remote.php/dav/</d:href>'
            b'<d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop>'
            b'<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>\n')

# Nextcloud 29's answers to PROPFIND /remote.php/dav/ (facts.md), exactly.
BODY_NC_DISABLED = (b'<?xml version="1.0" encoding="utf-8"?>\n'
                    b'<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n'
                    b'  <s:exception>Sabre\\DAV\\Exception\\ServiceUnavailable</s:exception>\n'
                    b'  <s:message>OC\\User\\LoginException: Account disabled</s:message>\n'
                    b'</d:error>\n')
BODY_NC_MAINTENANCE = (b'<?xml version="1.0" encoding="utf-8"?>\n'
                       b'<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n'
                       b'  <s:exception>OCA\\DAV\\Exception\\ServerMaintenanceMode</s:exception>\n'
                       b'  <s:message>System is in maintenance mode.</s:message>\n'
                       b'</d:error>\n')


def answer_status(line, body):
    return (b"HTTP/1.1 " + line + b"\r\n"
            b"Content-Type: application/xml; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body


def head_207(length=None, keepalive=False, cookie=False):
    lines = [b"HTTP/1.1 207 Multi-Status", b"Content-Type: application/xml; charset=utf-8"]
    if length is None:
        lines.append(b"Transfer-Encoding: chunked")
    else:
        lines.append(b"Content-Length: %d" % length)
    if cookie:
        lines.append(b"Set-Cookie: oc_sessionPassphrase=secret-session; path=/; HttpOnly")
        lines.append(b"Set-Cookie: nc_session_id=abc123; path=/")
    lines.append(b"Connection: keep-alive" if keepalive else b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


class Conn:
    counter = 0
    lock = threading.Lock()

    def __init__(self, sock, args, peer="-"):
        self.sock = sock
        self.args = args
        self.peer = peer
        self.xff = None
        self.authorization = b""
        self.buf = b""
        with Conn.lock:
            Conn.counter += 1
            self.id = Conn.counter
        self.requests = 0

    def read_request(self, timeout=None):
        """Read one request head (and a Content-Length body).  None on EOF/timeout."""
        self.sock.settimeout(timeout)
        try:
            while b"\r\n\r\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    return None
                self.buf += data
                if len(self.buf) > 1 << 20:
                    return None
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            method, _, rest = lines[0].partition(b" ")
            path = rest.rpartition(b" ")[0]
            headers = []
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                value = value.strip()
                if name.lower() == b"content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        length = 0
                if name.lower() == b"x-forwarded-for":
                    self.xff = value.decode("ascii", "replace")
                if name.lower() == b"authorization":
                    self.authorization = value
                    value = value.split(b" ", 1)[0] + b" <redacted>"
                headers.append((name, value))
            while len(self.buf) < length:
                data = self.sock.recv(65536)
                if not data:
                    return None
                self.buf += data
            self.buf = self.buf[length:]
        except (socket.timeout, OSError, ssl.SSLError):
            return None
        self.requests += 1
        self.log(method, path, headers)
        return method, path, headers

    def log(self, method, path, headers):
        if not self.args.log:
            return
        def q(b):
            return b.decode("utf-8", "backslashreplace").replace('"', '\\"')
        line = 'mode=%s method=%s path="%s" conn=%d req=%d' % (
            self.args.mode, q(method), q(path), self.id, self.requests)
        for name, value in headers:
            line += ' %s="%s"' % (q(name).lower(), q(value))
        with Conn.lock:
            with open(self.args.log, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def send(self, data):
        self.sock.sendall(data)

    def trickle(self, data):
        for i in range(len(data)):
            self.send(data[i:i + 1])
            time.sleep(1)

    def serve(self):
        mode = self.args.mode
        if mode in ("close-keepalive", "ok"):
            idle = 0.1 if mode == "close-keepalive" else 300
            while self.read_request(timeout=None if self.requests == 0 else idle) is not None:
                self.send(head_207(len(BODY_207), keepalive=True, cookie=(mode == "ok")) + BODY_207)
            return
        if mode == "late-ok":
            while self.read_request(timeout=None if self.requests == 0 else 300) is not None:
                with LateOk.lock:
                    first = not LateOk.answered
                    LateOk.answered = True
                if first:
                    time.sleep(self.args.delay)
                    self.send(head_207(len(BODY_207), keepalive=True) + BODY_207)
                else:
                    self.send(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n"
                              b"WWW-Authenticate: Basic realm=\"test\"\r\n\r\n")
            return
        if mode == "nc-throttle":
            while self.read_request(timeout=None if self.requests == 0 else 300) is not None:
                self.send(Throttle.answer(self))
            return
        if self.read_request() is None:
            return
        if mode == "mute-idle":
            self.send(head_207(len(BODY_207), keepalive=True) + BODY_207)
            mode = "hang"
        if mode == "hang":
            # Keep the connection open without answering until the peer goes away.
            self.sock.settimeout(None)
            while True:
                try:
                    if not self.sock.recv(65536):
                        return
                except OSError:
                    return
        elif mode == "reset":
            self.send(b"HTTP/1.1 207 Multi-Sta")
            time.sleep(0.05)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            # Unwrap nothing: closing the raw socket with linger 0 sends RST.
            raw = self.sock
            if isinstance(raw, ssl.SSLSocket):
                fd = raw.detach()
                raw = socket.socket(fileno=fd)
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            raw.close()
            self.sock = None
        elif mode == "garbage":
            self.send(b"HTTP/1.1 2O7 Multi-Status \x01\xff junk\r\nX: y\r\n\r\n" + BODY_207)
        elif mode == "http09":
            self.send(BODY_207)
        elif mode == "slow-headers":
            self.trickle(head_207(len(BODY_207)))
            self.send(BODY_207)
        elif mode == "slow-body":
            self.send(head_207(len(BODY_207)))
            self.trickle(BODY_207)
        elif mode == "nc-maintenance":
            self.send(answer_status(b"503 Service Unavailable", BODY_NC_MAINTENANCE))
        elif mode == "nc-disabled":
            self.send(answer_status(b"503 Service Unavailable", BODY_NC_DISABLED))
        elif mode == "nc-throttled":
            self.send(answer_status(b"429 Too Many Requests", b""))
        elif mode == "forbidden":
            self.send(answer_status(b"403 Forbidden", b""))
        elif mode == "huge-body":
            self.send(head_207(None))
            chunk = b"x" * 16384
            frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
            while True:
                self.send(frame)

    def run(self):
        try:
            if self.args.tls:
                self.sock.settimeout(30)
                self.sock = self.args.ctx.wrap_socket(self.sock, server_side=True)
                self.sock.settimeout(None)
            self.serve()
        except (OSError, ssl.SSLError):
            pass
        finally:
            if self.sock is not None:
                try:
                    self.sock.close()
                except OSError:
                    pass


class Throttle:
    """State of the nc-throttle mode: failures per client address."""
    lock = threading.Lock()
    failures = {}           # address -> [monotonic times of wrong passwords]
    users = set()           # b"user:password"

    @classmethod
    def answer(cls, conn):
        import base64
        addr = conn.xff or conn.peer
        now = time.monotonic()
        with cls.lock:
            recent = [t for t in cls.failures.get(addr, []) if now - t < conn.args.throttle_window]
            cls.failures[addr] = recent
        time.sleep(min(len(recent), conn.args.throttle_cap))
        auth = getattr(conn, "authorization", b"")
        try:
            ok = auth.startswith(b"Basic ") and base64.b64decode(auth[6:]) in cls.users
        except ValueError:
            ok = False
        if ok:
            return head_207(len(BODY_207), keepalive=True) + BODY_207
        with cls.lock:
            cls.failures.setdefault(addr, []).append(time.monotonic())
        return (b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"nc\"\r\n"
                b"Content-Length: 0\r\nConnection: keep-alive\r\n\r\n")


class LateOk:
    """late-ok: whether the first request was answered (one per server)."""
    lock = threading.Lock()
    answered = False


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.rename(tmp, path)


def main():
    modes = ["hang", "reset", "garbage", "http09", "slow-headers", "slow-body",
             "huge-body", "close-keepalive", "ok", "mute-idle", "nc-maintenance",
             "nc-disabled", "nc-throttled", "forbidden", "nc-throttle", "late-ok"]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", required=True, choices=modes)
    p.add_argument("--port-file", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--log")
    p.add_argument("--lifetime", type=float, default=600)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--users", help="nc-throttle: file of user:password lines")
    p.add_argument("--throttle-cap", type=float, default=4)
    p.add_argument("--delay", type=float, default=2, help="late-ok: seconds before the first 207")
    p.add_argument("--throttle-window", type=float, default=60)
    args = p.parse_args()

    if args.users:
        with open(args.users, "rb") as f:
            Throttle.users = {line.rstrip(b"\n") for line in f if line.strip()}
    if args.tls:
        args.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        args.ctx.load_cert_chain(args.tls[0], args.tls[1])

    # Never outlive the test that started us.
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(64)
    write_atomic(args.pid_file, str(os.getpid()))
    write_atomic(args.port_file, str(srv.getsockname()[1]))
    while True:
        sock, peer = srv.accept()
        threading.Thread(target=Conn(sock, args, peer[0]).run, daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
