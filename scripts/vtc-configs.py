#!/usr/bin/env python3
"""Pulls the HAProxy configurations out of HAProxy's reg-tests (*.vtc files), one .cfg each.

Usage: scripts/vtc-configs.py REG_TESTS_DIR OUT_DIR

Every `haproxy NAME ... -conf {...}` (also `-conf-OK {...}` and `-conf-BAD {expected} {...}`)
block becomes OUT_DIR/<vtc path with / as __>__NAME[-N].cfg. VTest's macros are replaced by
loopback values so that `haproxy -c` can judge the configuration itself:
  fd@${NAME}                     -> 127.0.0.1:PORT (a listener VTest would have opened)
  ${X_sock}                      -> 127.0.0.1:PORT
  ${X_addr} / ${X_port}          -> 127.0.0.1 / PORT (the same PORT for the same X)
  ${testdir}                     -> the absolute directory of the .vtc (its certificates, maps
                                    and Lua files are there when the whole reg-tests tree was
                                    extracted)
  ${tmpdir}                      -> OUT_DIR/tmp
  ${X_pid}                       -> 1
Anything else (e.g. ${HAPROXY_TEST_TIMEOUT-5s}) is left for HAProxy to expand as an
environment variable, as under VTest.
"""

import os
import re
import sys

BLOCK_START = re.compile(r"^\s*haproxy\s+(\w+)\b([^\n]*?)-conf(-OK|-BAD)?\s*\{", re.M)


def matching_brace(text, open_at):
    """Index just past the '}' closing the '{' at open_at (VTest counts nesting the same way)."""
    depth = 0
    i = open_at
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


class Ports:
    """One loopback port per macro prefix, the same everywhere in one file."""

    def __init__(self):
        self.by_name = {}

    def get(self, name):
        if name not in self.by_name:
            self.by_name[name] = 20000 + len(self.by_name)
        return self.by_name[name]


def substitute(conf, testdir, tmpdir):
    ports = Ports()
    conf = re.sub(r"fd@\$\{(\w+)\}", lambda m: "127.0.0.1:%d" % ports.get("fd:" + m.group(1)), conf)
    conf = re.sub(r"\$\{(\w+?)_sock\}", lambda m: "127.0.0.1:%d" % ports.get(m.group(1)), conf)
    conf = re.sub(r"\$\{(\w+?)_addr\}", "127.0.0.1", conf)
    conf = re.sub(r"\$\{(\w+?)_port\}", lambda m: str(ports.get(m.group(1))), conf)
    conf = re.sub(r"\$\{(\w+?)_pid\}", "1", conf)
    conf = conf.replace("${testdir}", testdir).replace("${tmpdir}", tmpdir)
    return conf


def blocks(text):
    """(haproxy instance name, configuration text) for each -conf block of a .vtc file."""
    for m in BLOCK_START.finditer(text):
        name, variant = m.group(1), m.group(3)
        brace = m.end() - 1
        end = matching_brace(text, brace)
        if end is None:
            continue
        if variant == "-BAD":
            # `-conf-BAD {expected output} {config}`: the configuration is the second block.
            nxt = text.find("{", end)
            if nxt < 0:
                continue
            brace = nxt
            end = matching_brace(text, brace)
            if end is None:
                continue
        yield name, text[brace + 1 : end - 1]


def main():
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    src, out = sys.argv[1], sys.argv[2]
    tmpdir = os.path.join(os.path.abspath(out), "tmp")
    os.makedirs(tmpdir, exist_ok=True)
    count = 0
    for root, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".vtc"):
                continue
            path = os.path.join(root, f)
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            rel = os.path.relpath(path, src)[: -len(".vtc")].replace(os.sep, "__")
            seen = {}
            for name, conf in blocks(text):
                seen[name] = seen.get(name, 0) + 1
                suffix = "" if seen[name] == 1 else "-%d" % seen[name]
                target = os.path.join(out, "%s__%s%s.cfg" % (rel, name, suffix))
                body = substitute(conf, os.path.dirname(os.path.abspath(path)), tmpdir)
                with open(target, "w", encoding="utf-8") as fh:
                    fh.write(body.strip("\n") + "\n")
                count += 1
    print(count)


if __name__ == "__main__":
    main()
