#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""doc_snippets.py - extract every pam_httpbasic configuration snippet from
the documentation, for t_docs.sh to parse with the module's own parser.

    doc_snippets.py SRCDIR OUTDIR OPTIONS_C

What counts as a snippet (the documentation's conventions):
  - Markdown (README.md, docs/*.md, conf/**/*.md): a fenced block tagged
    ```conf is a pam_httpbasic.conf snippet; a block tagged ```pam is a
    pam.d service file.
  - man pages (man/*.8): a roff comment line `.\\" snippet: conf` (or
    `.\\" snippet: pam`) right before a .nf or .EX block marks it.
  - conf/pam_httpbasic.conf: the whole file, and each commented-out
    "#key = value" line of it on its own (an administrator uncomments them).
  - conf/pam.d/*: pam.d service files.
  - In every block of every document, tagged or not, each pam.d line that
    loads pam_httpbasic.so (e.g. inside a `cat > /etc/pam.d/x <<EOF` in a
    shell block) is a pam snippet.
  - A block NOT tagged conf in which a line starts with a known option key
    followed by "=" is reported as untagged: tag it, so that it is parsed.

Output, one record per line on stdout, tab-separated:
    conf  DOC  LINE  FILE        (FILE: the snippet, written under OUTDIR)
    pam   DOC  LINE  TYPE  ARG\\x1fARG...
    untagged  DOC  LINE  KEY
"""
import glob
import os
import re
import sys

src, out, options_c = sys.argv[1:4]
KEYS = re.findall(r'^\s*\{"([a-z_]+)", OPT_', open(options_c).read(), re.M)
KEY_LINE = re.compile(r'^\s*#?\s*(' + '|'.join(KEYS) + r')\s*(=|$)')
PAM_LINE = re.compile(r'^\s*(-?(?:auth|account|password|session))\s+(\[[^\]]*\]|\S+)\s+(\S*pam_httpbasic(?:\.so)?)(\s.*)?$')
n = 0


def emit(*fields):
    print('\t'.join(str(f) for f in fields))


def write_snippet(lines):
    global n
    n += 1
    path = os.path.join(out, 'snippet-%d.conf' % n)
    with open(path, 'w') as f:
        f.write(''.join(l + '\n' for l in lines))
    os.chmod(path, 0o644)
    return path


def pam_args(rest):
    """Split module arguments as Linux-PAM does ([...] keeps spaces)."""
    args, s = [], (rest or '').strip()
    while s:
        if s.startswith('['):
            end = s.find(']')
            end = len(s) if end < 0 else end
            args.append(s[1:end])
            s = s[end + 1:].strip()
        else:
            word = s.split(None, 1)
            args.append(word[0])
            s = word[1].strip() if len(word) > 1 else ''
    return args


def scan_pam_lines(doc, first, lines):
    for i, line in enumerate(lines):
        m = PAM_LINE.match(line.split('#', 1)[0])   # a pam.d comment ends the line
        if m:
            emit('pam', doc, first + i, m.group(1), '\x1f'.join(pam_args(m.group(4))))


def block(doc, first, tag, lines):
    """One block starting at line first (1-based line of its first content line)."""
    if tag == 'conf':
        emit('conf', doc, first, write_snippet(lines))
        return
    scan_pam_lines(doc, first, lines)
    if tag == 'pam':
        return
    for i, line in enumerate(lines):
        m = KEY_LINE.match(line)
        if m and not line.lstrip().startswith('#') and '=' in line:
            emit('untagged', doc, first + i, m.group(1))
            return


def markdown(path):
    doc = os.path.relpath(path, src)
    lines = open(path, encoding='utf-8').read().split('\n')
    i = 0
    while i < len(lines):
        m = re.match(r'^\s*```\s*([A-Za-z0-9_.+-]*)', lines[i])
        if not m:
            i += 1
            continue
        tag, start, i = m.group(1), i + 1, i + 1
        while i < len(lines) and not re.match(r'^\s*```\s*$', lines[i]):
            i += 1
        block(doc, start + 1, tag, lines[start:i])
        i += 1


def roff_text(line):
    """A line of a no-fill block as the reader sees it (escapes undone)."""
    return line.replace('\\-', '-').replace('\\(aq', "'").replace('\\e', '\\').replace('\\&', '')


def man(path):
    doc = os.path.relpath(path, src)
    lines = open(path, encoding='utf-8').read().split('\n')
    tag = ''
    i = 0
    while i < len(lines):
        m = re.match(r'^\.\\"\s*snippet:\s*(\S+)', lines[i])
        if m:
            tag = m.group(1)
            i += 1
            continue
        if lines[i] in ('.nf', '.EX'):
            end_mark = '.fi' if lines[i] == '.nf' else '.EE'
            start, i = i + 1, i + 1
            while i < len(lines) and lines[i] != end_mark:
                i += 1
            body = ['' if l.startswith('.') else roff_text(l) for l in lines[start:i]]
            block(doc, start + 1, tag, body)
            tag = ''
        elif not lines[i].startswith('.\\"'):
            tag = ''
        i += 1


def conffile(path):
    doc = os.path.relpath(path, src)
    lines = open(path, encoding='utf-8').read().split('\n')
    emit('conf', doc, 1, write_snippet(lines))
    for i, line in enumerate(lines):
        m = re.match(r'^#\s?((' + '|'.join(KEYS) + r')(\s*=.*)?)$', line)
        if m:
            emit('conf', doc, i + 1, write_snippet([m.group(1)]))


def pamd(path):
    doc = os.path.relpath(path, src)
    scan_pam_lines(doc, 1, open(path, encoding='utf-8').read().split('\n'))


docs = [os.path.join(src, 'README.md')] + sorted(glob.glob(os.path.join(src, 'docs', '*.md')))
docs += sorted(glob.glob(os.path.join(src, 'conf', '**', '*.md'), recursive=True))
for path in docs:
    if os.path.exists(path):
        markdown(path)
for path in sorted(glob.glob(os.path.join(src, 'man', '*.8'))):
    man(path)
conffile(os.path.join(src, 'conf', 'pam_httpbasic.conf'))
for path in sorted(glob.glob(os.path.join(src, 'conf', 'pam.d', '*'))):
    pamd(path)
