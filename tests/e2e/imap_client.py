#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A real IMAP client for the e2e tests (Python's imaplib, stdlib only).

    imap_client.py login --port P [--host H] [--source ADDR] [--mech login|plain]
                         --user U --password PW [--mailbox NAME]
        One login.  Prints one JSON line:
          {"ok": bool, "response": "<the tagged answer as the client saw it>",
           "ms": <milliseconds from sending the command to the answer>, ...}
        With --mailbox and a successful login, also CREATE NAME and SELECT
        INBOX (so that Dovecot creates the mailbox on disk), then LOGOUT.

    imap_client.py bulk --port P --count N --master-pid PID --users FILE
                        [--wrong-every K]
        N consecutive logins (LOGIN, then LOGOUT) cycling through the
        "user<TAB>password" lines of FILE; every K-th login uses a wrong
        password and must fail.  After each login, records the pids of the
        auth-worker children of Dovecot master PID and their number of open
        file descriptors (/proc/PID/fd).  Prints one JSON summary.

    imap_client.py many --port P --logins FILE [--threads C] [--interval S]
        The logins of FILE ("source<TAB>user<TAB>password" per line, one
        login each), run by C threads at once (default 4), each login on
        its own connection from its source address; with --interval S,
        login i starts no earlier than i*S seconds in.  Prints one JSON
        summary: "ok", "refused", "errors", "seconds" (wall time of all),
        "results" (per login, in FILE's order: source, user, ok, ms,
        response), and "ms" percentiles p50/p95/p99/max of the OK logins.

--source binds the client socket to ADDR first, so Dovecot sees the login
come from ADDR (e.g. 127.0.0.2, any 127/8 address works on Linux).
"""

import argparse
import imaplib
import json
import os
import socket
import sys
import time


class IMAP(imaplib.IMAP4):
    """imaplib.IMAP4 whose socket can be bound to a source address."""

    def __init__(self, host, port, source=None, timeout=30):
        self._source = source
        self.transcript = []   # every line the server sent, as received
        super().__init__(host, port, timeout=timeout)

    def _get_line(self):
        try:
            line = super()._get_line()
        except imaplib.IMAP4.abort:
            self.transcript.append("<connection closed by the server>")
            raise
        self.transcript.append(line.decode("utf-8", "replace"))
        return line

    def _create_socket(self, timeout):
        src = (self._source, 0) if self._source else None
        return socket.create_connection((self.host, self.port), timeout, source_address=src)


def tagged(typ, dat):
    text = dat[-1] if dat else b""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "%s %s" % (typ, text)


def authenticate(conn, mech, user, password):
    """Run LOGIN or AUTHENTICATE PLAIN; return (typ, response, ms).

    imaplib's login()/authenticate() raise on NO and keep only the text, so
    this calls the command layer underneath them to keep "NO [CODE] text"
    exactly as the server sent it.
    """
    start = time.monotonic()
    if mech == "login":
        typ, dat = conn._simple_command("LOGIN", conn._quote(user), conn._quote(password))
    else:
        blob = b"\0" + user.encode() + b"\0" + password.encode()
        conn.literal = imaplib._Authenticator(lambda _challenge: blob).process
        typ, dat = conn._simple_command("AUTHENTICATE", "PLAIN")
    ms = int((time.monotonic() - start) * 1000)
    if typ == "OK":
        conn.state = "AUTH"
    return typ, tagged(typ, dat), ms


def cmd_login(a):
    out = {"ok": False, "user": a.user, "mech": a.mech, "source": a.source}
    try:
        conn = IMAP(a.host, a.port, a.source, timeout=a.timeout)
    except OSError as e:
        out["response"] = "connect failed: %s" % e
        print(json.dumps(out))
        return 1
    try:
        out["greeting"] = conn.welcome.decode("utf-8", "replace")
        seen = len(conn.transcript)
        try:
            typ, out["response"], out["ms"] = authenticate(conn, a.mech, a.user, a.password)
        finally:
            # What the server sent in answer to LOGIN/AUTHENTICATE (the
            # untagged CAPABILITY of a success is left out).
            out["answer"] = [l for l in conn.transcript[seen:] if not l.startswith("* CAPABILITY")]
        out["ok"] = typ == "OK"
        if out["ok"] and a.mailbox:
            out["create"] = tagged(*conn.create(a.mailbox))
            out["select"] = tagged(*conn.select("INBOX"))
        if out["ok"]:
            conn.logout()
        else:
            conn.shutdown()
    except (imaplib.IMAP4.error, OSError) as e:
        # No tagged answer: show what the server sent instead.
        out["response"] = out.get("response") or " / ".join(out.get("answer") or ["error: %s" % e])
        out["error"] = str(e)
    print(json.dumps(out))
    return 0


def auth_workers(master):
    """pid -> fd count of the auth-worker children of Dovecot's master."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid != master:
                continue
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            # "dovecot/auth -w", or "dovecot-INSTANCE/auth -w" with instance_name
            if not (cmd.startswith("dovecot") and cmd.rstrip().endswith("/auth -w")):
                continue
            found[int(name)] = len(os.listdir("/proc/%s/fd" % name))
        except (OSError, ValueError):
            continue
    return found


def cmd_bulk(a):
    users = []
    with open(a.users) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                u, p = line.split("\t", 1)
                users.append((u, p))
    results = {"count": a.count, "correct": 0, "unexpected": [], "ok": 0, "refused": 0,
               "samples": []}
    start = time.monotonic()
    for i in range(a.count):
        user, password = users[i % len(users)]
        wrong = a.wrong_every > 0 and (i + 1) % a.wrong_every == 0
        if wrong:
            password = password + "-wrong"
        try:
            conn = IMAP(a.host, a.port, timeout=a.timeout)
            typ, resp, ms = authenticate(conn, "login", user, password)
            if typ == "OK":
                conn.logout()
            else:
                conn.shutdown()
        except (imaplib.IMAP4.error, OSError) as e:
            typ, resp, ms = "ERROR", str(e), -1
        expected = "NO" if wrong else "OK"
        if typ == "OK":
            results["ok"] += 1
        elif typ == "NO":
            results["refused"] += 1
        if typ == expected:
            results["correct"] += 1
        else:
            results["unexpected"].append({"i": i, "user": user, "wrong": wrong, "response": resp})
        results["samples"].append({"i": i, "ms": ms, "workers": auth_workers(a.master_pid)})
    results["seconds"] = round(time.monotonic() - start, 2)
    print(json.dumps(results))
    return 0


def one_login(host, port, timeout, source, user, password):
    """One LOGIN on its own connection: (typ, response, ms); ms -1 on error."""
    try:
        conn = IMAP(host, port, source or None, timeout=timeout)
        typ, resp, ms = authenticate(conn, "login", user, password)
        if typ == "OK":
            conn.logout()
        else:
            conn.shutdown()
    except (imaplib.IMAP4.error, OSError) as e:
        typ, resp, ms = "ERROR", str(e), -1
    return typ, resp, ms


def percentiles(values):
    """p50/p95/p99/max of a list of numbers (nearest rank), {} when empty."""
    v = sorted(values)
    if not v:
        return {}
    rank = lambda q: v[min(len(v) - 1, int(q * len(v)))]
    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": v[-1]}


def cmd_many(a):
    import concurrent.futures
    jobs = []
    with open(a.logins) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                jobs.append(line.split("\t", 2))
    start = time.monotonic()

    def run(ij):
        i, job = ij
        # --interval: login i starts no earlier than i * interval s after the start
        time.sleep(max(0.0, start + i * a.interval - time.monotonic()))
        return one_login(a.host, a.port, a.timeout, *job)
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.threads) as pool:
        done = list(pool.map(run, enumerate(jobs)))
    out = {"seconds": round(time.monotonic() - start, 3), "results": []}
    for (source, user, _), (typ, resp, ms) in zip(jobs, done):
        out["results"].append({"source": source, "user": user, "ok": typ == "OK", "ms": ms,
                               "response": resp})
    out["ok"] = sum(1 for t, _, _ in done if t == "OK")
    out["refused"] = sum(1 for t, _, _ in done if t == "NO")
    out["errors"] = sum(1 for t, _, _ in done if t not in ("OK", "NO"))
    out["ms"] = percentiles([ms for t, _, ms in done if t == "OK"])
    print(json.dumps(out))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("login", "bulk", "many"):
        s = sub.add_parser(name)
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, required=True)
        s.add_argument("--timeout", type=float, default=90)
    s = sub.choices["login"]
    s.add_argument("--source")
    s.add_argument("--mech", choices=["login", "plain"], default="login")
    s.add_argument("--user", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--mailbox")
    s = sub.choices["bulk"]
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--master-pid", type=int, required=True)
    s.add_argument("--users", required=True)
    s.add_argument("--wrong-every", type=int, default=0)
    s = sub.choices["many"]
    s.add_argument("--logins", required=True)
    s.add_argument("--threads", type=int, default=4)
    s.add_argument("--interval", type=float, default=0)
    a = p.parse_args()
    return {"login": cmd_login, "bulk": cmd_bulk, "many": cmd_many}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
