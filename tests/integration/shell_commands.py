#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""shell_commands.py - the external commands a bash script (or one function
of it) runs, for t_demo_packages.sh: the first word of every simple command
(after VAR=value assignments and the wrappers env, timeout N, exec,
command, nohup), with comments and here-document bodies left out.

    shell_commands.py FILE [FUNCTION]

Prints one word per line; the caller keeps those that are programs in PATH.
A heuristic, not a shell parser: good enough for scripts written as ours.
"""
import re
import sys

path = sys.argv[1]
func = sys.argv[2] if len(sys.argv) > 2 else None
lines = open(path, encoding='utf-8').read().split('\n')
if func:
    start = next(i for i, l in enumerate(lines) if re.match(r'^%s\(\)\s*\{' % re.escape(func), l))
    end = next(i for i in range(start + 1, len(lines)) if lines[i] == '}')
    lines = lines[start + 1:end]

words = set()
heredoc = None
SEP = re.compile(r'\|\||&&|[|;(){}`]|\$\(|\bthen\b|\bdo\b|\belse\b|\bif\b|\bwhile\b|\buntil\b|!')
WRAPPERS = {'env', 'exec', 'command', 'nohup', 'time'}
for line in lines:
    if heredoc is not None:
        if line.strip() == heredoc:
            heredoc = None
        continue
    m = re.search(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?", line)
    if m:
        heredoc = m.group(1)
        line = line[:m.start()]
    line = re.sub(r'(^|\s)#.*$', '', line)           # a comment
    line = re.sub(r"'[^']*'", "''", line)             # single-quoted text is no command
    for part in SEP.split(line):
        tokens = part.split()
        while tokens and (re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', tokens[0]) or tokens[0] in WRAPPERS
                          or tokens[0].startswith('"${') or tokens[0].startswith('${')):
            if tokens[0] == 'timeout':
                tokens = tokens[1:]
            tokens = tokens[1:]
        if tokens and tokens[0] == 'timeout':
            tokens = [t for t in tokens[1:] if not re.match(r'^-|^\d', t)]
        if tokens and re.match(r'^[A-Za-z][A-Za-z0-9_.+-]*$', tokens[0]):
            words.add(tokens[0])
for w in sorted(words):
    print(w)
