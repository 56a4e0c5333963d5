#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""spawn.py - run one command N times in a row, for tests/bench/run.

    spawn.py -n N [--stdin FILE] -- COMMAND [ARG...]

Each run gets FILE on its standard input (or /dev/null) and its output is
discarded.  Prints "key=value" lines: n, ok (runs that exited 0), wall_s,
runs_per_s, ms_per_run, and user_s / sys_s / cpu_us_per_run: the CPU time
of the runs and all their descendants (RUSAGE_CHILDREN), i.e. pamtester,
the PAM modules it loads, and for pam_exec the shell and curl it starts.
The runner itself (os.posix_spawn + waitpid) adds the same small cost to
every command.
"""
import os
import resource
import sys
import time


def main():
    args = sys.argv[1:]
    n, stdin_path = 10, None
    while args and args[0] != "--":
        if args[0] == "-n":
            n = int(args[1])
        elif args[0] == "--stdin":
            stdin_path = args[1]
        else:
            sys.exit("usage: spawn.py -n N [--stdin FILE] -- COMMAND [ARG...]")
        args = args[2:]
    cmd = args[1:]
    if not cmd:
        sys.exit("usage: spawn.py -n N [--stdin FILE] -- COMMAND [ARG...]")
    devnull = os.open(os.devnull, os.O_WRONLY)
    ok = 0
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    for _ in range(n):
        stdin = os.open(stdin_path or os.devnull, os.O_RDONLY)
        actions = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                   (os.POSIX_SPAWN_DUP2, devnull, 2)]
        pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=actions)
        os.close(stdin)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            ok += 1
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = r1.ru_utime - r0.ru_utime
    sys_ = r1.ru_stime - r0.ru_stime
    print(f"n={n}\nok={ok}\nwall_s={wall:.3f}\nruns_per_s={n / wall:.1f}")
    print(f"ms_per_run={wall * 1000 / n:.2f}")
    print(f"user_s={user:.3f}\nsys_s={sys_:.3f}\ncpu_us_per_run={(user + sys_) * 1e6 / n:.1f}")


if __name__ == "__main__":
    main()
