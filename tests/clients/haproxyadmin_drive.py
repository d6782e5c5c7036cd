#!/usr/bin/env python3
"""Drives a stats socket with haproxyadmin (PyPI, 0.2.4), as an operator's script would, for
tests/e2e_clients.rs. Each step prints one line `step: value`; the Rust test checks them
against ringlb's `show stat` and its traffic.

Usage: haproxyadmin_drive.py SOCKET STEP...
  list              every backend and its servers: `list: be/s1,be/s2 ...`
  status B/S        the server's status (`status: UP`)
  weight B/S        its weight
  disable B/S       `disable server` (maintenance); prints `disable: True`
  enable B/S        `enable server`
  drain B/S         `set server B/S state drain`
  ready B/S         `set server B/S state ready`
  setweight B/S N   `set weight B/S N`
"""
import sys

from haproxyadmin import haproxy, utils
from haproxyadmin.server import STATE_DISABLE, STATE_DRAIN, STATE_ENABLE, STATE_READY

# haproxyadmin takes a socket only when `show info` says `Name: HAProxy` (or hapee-lb);
# ringlb names itself. This lets that one name through and changes nothing else: every
# command below is haproxyadmin's own.
_connected = utils.connected_socket


def _ringlb_too(path, timeout):
    if _connected(path, timeout):
        return True
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(b"show info\n")
            info = s.makefile().read()
    except OSError:
        return False
    return "\nName: ringlb\n" in "\n" + info


haproxy.connected_socket = _ringlb_too


def server(hap, name):
    backend, srv = name.split("/", 1)
    return hap.server(srv, backend=backend)[0]


def main():
    hap = haproxy.HAProxy(socket_file=sys.argv[1])
    args = sys.argv[2:]
    while args:
        step, args = args[0], args[1:]
        if step == "list":
            names = sorted(
                f"{b.name}/{s.name}" for b in hap.backends() for s in b.servers()
            )
            print(f"list: {','.join(names)}")
            continue
        target, args = args[0], args[1:]
        s = server(hap, target)
        if step == "status":
            print(f"status: {s.status}")
        elif step == "weight":
            print(f"weight: {s.weight}")
        elif step in ("disable", "enable"):
            state = STATE_DISABLE if step == "disable" else STATE_ENABLE
            print(f"{step}: {s.setstate(state)}")
        elif step in ("drain", "ready"):
            state = STATE_DRAIN if step == "drain" else STATE_READY
            print(f"{step}: {s.setstate(state)}")
        elif step == "setweight":
            value, args = int(args[0]), args[1:]
            print(f"setweight: {s.setweight(value)}")
        else:
            sys.exit(f"unknown step {step}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
