#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A plain-HTTP stand-in for Nextcloud, steered by a JSON control file
re-read at every request, for tests/integration/t_redteam.sh.

    redteam_server.py --control FILE --port-file F --pid-file F --log F [--lifetime S]
                      [--tls CERT KEY]

Control file (every key optional):
  users     ["user:password", ...]       207 for these Basic credentials
  disabled  {"user:password": "BODY"}   503 with BODY (a disabled account)
  slow      {"ADDRESS": SECONDS}        delay every request whose
                                        X-Forwarded-For is ADDRESS (a
                                        throttled client at Nextcloud)
  principal {"login": "uid"}            the 207 names
                                        /remote.php/dav/principals/users/UID/
  handshake_delay SECONDS               with --tls: wait before the TLS
                                        handshake of each connection (a
                                        slow front end; the client cannot
                                        send its request before it is done)
Anything else: 401.  The log gets one line per request:
  "user=U xff=A status=S" (never the password).
"""
import argparse
import base64
import http.server
import json
import os
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_PROPFIND(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with open(self.server.args.control, encoding="utf-8") as f:
            ctl = json.load(f)
        xff = self.headers.get("X-Forwarded-For", "-")
        creds = ""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                creds = base64.b64decode(auth[6:]).decode("utf-8", "surrogateescape")
            except ValueError:
                creds = ""
        user = creds.split(":", 1)[0]
        delay = ctl.get("slow", {}).get(xff, 0)
        if delay:
            time.sleep(delay)
        if creds in ctl.get("disabled", {}):
            status, body = 503, ctl["disabled"][creds].encode("utf-8")
        elif creds in ctl.get("users", []):
            uid = ctl.get("principal", {}).get(user)
            prop = ("<d:current-user-principal><d:href>/remote.php/dav/principals/users/%s/</d:href>"
                    "</d:current-user-principal>" % uid) if uid else ""
            status = 207
            body = ('<?xml version="1.0" encoding="utf-8"?>\n<d:multistatus xmlns:d="DAV:"><d:response>'
                    '<d:href>/remote.php/dav/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/>'
                    '</d:resourcetype>%s</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>'
                    '</d:response></d:multistatus>\n' % prop).encode("utf-8")
        else:
            status, body = 401, b""
        with self.server.lock:
            with open(self.server.args.log, "a", encoding="utf-8") as f:
                f.write("user=%s xff=%s status=%d\n" % (user or "-", xff, status))
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="nc"')
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    # The anonymous confirmation of an outage is a GET: answered the same way
    # (no credentials: a 401, delayed like any request from its address).
    do_GET = do_PROPFIND


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        if self.args.tls:
            try:
                with open(self.args.control, encoding="utf-8") as f:
                    delay = json.load(f).get("handshake_delay", 0)
                if delay:
                    time.sleep(delay)
                request = self.ctx.wrap_socket(request, server_side=True)
            except (OSError, ValueError):
                return
        super().finish_request(request, client_address)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--control", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--lifetime", type=float, default=600)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = p.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    if args.tls:
        import ssl
        server.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.ctx.load_cert_chain(args.tls[0], args.tls[1])
    server.args = args
    server.lock = threading.Lock()
    for path, text in ((args.pid_file, str(os.getpid())), (args.port_file, str(server.server_address[1]))):
        with open(path + ".tmp", "w") as f:
            f.write(text + "\n")
        os.rename(path + ".tmp", path)
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
