#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
r"""A tiny misbehaving HTTP server for pam_httpbasic tests (stdlib only).

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
  nc-disabled-de   the same 503 with the message translated as Nextcloud 29
                   sends it with default_language=de: "Konto deaktiviert"
  nc-disabled-fr   ... with Accept-Language: fr: "Compte désactivé" (UTF-8)
  nc-disabled-old  ... as Nextcloud <= 24 words it: "User disabled"
  nc-login-canceled  ... an app cancelled the login: "Login canceled by app"
  nc-disabled-exception  the 503 of newer versions, which throw
                   OC\User\DisabledUserException (in <s:exception>)
  nc-503-html      a 503 with an HTML page (a proxy in front of Nextcloud):
                   unknown, an outage
  (the account modes answer a request without credentials - the module's
  anonymous outage check - with 401, as Nextcloud does; maintenance and the
  HTML page answer it with their 503)
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
                   before: Apache serves each status at its own URL only);
                   a request without credentials is answered 401 at once and
                   counts as no failure (Nextcloud throttles login attempts)

The 207 of "ok" and "nc-throttle" names the account in a
current-user-principal (/remote.php/dav/principals/users/UID/) as
Nextcloud does, UID being the Basic user name, or the one --account
LOGIN=UID maps it to (repeatable; e.g. --account alice@example.org=alice
--account Alice=alice).

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


def nc_503(exception, message):
    """Nextcloud's Sabre error body with a 503 (facts.md), exactly its shape."""
    return (b'<?xml version="1.0" encoding="utf-8"?>\n'
            b'<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n'
            b'  <s:exception>' + exception + b'</s:exception>\n'
            b'  <s:message>' + message + b'</s:message>\n'
            b'</d:error>\n')


UNAVAILABLE = b'Sabre\\DAV\\Exception\\ServiceUnavailable'
LOGIN_EXC = b'OC\\User\\LoginException: '
BODIES_503 = {
    "nc-maintenance": BODY_NC_MAINTENANCE,
    "nc-disabled": BODY_NC_DISABLED,
    "nc-disabled-de": nc_503(UNAVAILABLE, LOGIN_EXC + b'Konto deaktiviert'),
    "nc-disabled-fr": nc_503(UNAVAILABLE, LOGIN_EXC + 'Compte désactivé'.encode("utf-8")),
    "nc-disabled-old": nc_503(UNAVAILABLE, LOGIN_EXC + b'User disabled'),
    "nc-login-canceled": nc_503(UNAVAILABLE, LOGIN_EXC + b'Login canceled by app'),
    "nc-disabled-exception": nc_503(b'OC\\User\\DisabledUserException', b'Account disabled'),
    "nc-503-html": (b'<html><head><title>503 Service Unavailable</title></head><body>\n'
                    b'<h1>Service Unavailable</h1>\n<p>The server is temporarily unable to'
                    b' service your request.</p>\n</body></html>\n'),
}
ACCOUNTS = {}               # login name -> uid (--account)


def body_207(conn):
    """A 207 naming the account of the request's Basic user, as Nextcloud does."""
    import base64
    import urllib.parse
    user = b""
    if conn.authorization.startswith(b"Basic "):
        try:
            user = base64.b64decode(conn.authorization[6:]).split(b":", 1)[0]
        except ValueError:
            user = b""
    if not user:
        return BODY_207
    uid = ACCOUNTS.get(user, user)
    href = b"/remote.php/dav/principals/users/" + urllib.parse.quote(uid, safe="").encode() + b"/"
    return BODY_207.replace(b'</d:resourcetype>', b'</d:resourcetype><d:current-user-principal>'
                            b'<d:href>' + href + b'</d:href></d:current-user-principal>')


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
                body = body_207(self)
                self.send(head_207(len(body), keepalive=True, cookie=(mode == "ok")) + body)
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
        elif mode in BODIES_503 and not self.authorization and mode not in ("nc-maintenance", "nc-503-html"):
            self.send(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"nc\"\r\n"
                      b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        elif mode in BODIES_503:
            ctype = b"text/html" if mode == "nc-503-html" else b"application/xml; charset=utf-8"
            self.send(answer_status(b"503 Service Unavailable", BODIES_503[mode]).replace(
                b"application/xml; charset=utf-8", ctype, 1))
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
        if not conn.authorization:
            return (b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"nc\"\r\n"
                    b"Content-Length: 0\r\nConnection: keep-alive\r\n\r\n")
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
            body = body_207(conn)
            return head_207(len(body), keepalive=True) + body
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
             "nc-disabled", "nc-throttled", "forbidden", "nc-throttle", "late-ok"] + \
            [m for m in BODIES_503 if m not in ("nc-maintenance", "nc-disabled")]
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
    p.add_argument("--account", action="append", default=[], metavar="LOGIN=UID",
                   help="ok, nc-throttle: the 207 for LOGIN names the account UID")
    args = p.parse_args()
    for pair in args.account:
        login, sep, uid = pair.partition("=")
        if not sep or not login or not uid:
            p.error("--account wants LOGIN=UID, not %r" % pair)
        ACCOUNTS[login.encode("utf-8")] = uid.encode("utf-8")

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
