#!/usr/bin/env python3
"""HTTP/2 clients for tests/e2e_h2.rs, run against ringlb and HAProxy 2.6 alike.

Needs the `h2` package (PyPI `h2`, Debian `python3-h2`): its connection layer drives the
well-behaved clients; the attacks write raw frames (struct-packed, headers encoded with its
`hpack`), so they can break every rule a real client keeps.

Every subcommand prints one JSON object on stdout and exits 0 when it could run at all; the
Rust test decides what passes. Connection: `--host`/`--port`, cleartext h2 with prior
knowledge, or `--tls` (ALPN h2, verified against `--ca`, SNI `--sni`).

  batch        requests read as a JSON list from stdin (method, path, headers, body as
               latin-1 text), all sent concurrently on one connection; the answers in order.
               A CONNECT (RFC 9113 8.5) has only :method and :authority, and its body is
               the tunnel's bytes, sent right away and ended with END_STREAM
  streams N    N concurrent streams on one connection: POST /echo bodies (sizes vary, half
               with content-length, half without) and GET /size/K, every answer checked
  slow-reader  one stream whose window is never reopened (its response stalls), then another
               stream on the same connection and a request on another connection must
               complete; a third connection that never reads at all is held open meanwhile
  hold         one stream to a slow path; prints `sent`, then reports the GOAWAY a soft stop
               sends and whether the stream still finished
  settings     the server's SETTINGS, by name
  attack KIND  a flood (rapid-reset, continuation, settings, ping, empty-data, zero-window,
               hpack-bomb; `idle` sends nothing at all) on one connection while a bystander connection keeps making
               requests; reports whether and how the flooded connection was closed (GOAWAY
               and its error code), and the bystander's successes and failures
"""

import argparse
import json
import socket
import ssl
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack

# Frame types and flags (RFC 9113 section 6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ERROR_NAMES = {
    0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
    4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM",
    8: "CANCEL", 9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM",
    12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED",
}


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def pattern(n):
    """The bytes tests/common/wire.rs `pattern(n)` makes (what /size/N answers)."""
    alphabet = b"0123456789abcdefghijklmnopqrstuvwxyz"
    return bytes(alphabet[(i * 7 + i // 36) % 36] for i in range(n))


def connect(args, timeout=10.0):
    s = socket.create_connection((args.host, args.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if args.tls:
        ctx = ssl.create_default_context(cafile=args.ca)
        ctx.set_alpn_protocols(["h2"])
        s = ctx.wrap_socket(s, server_hostname=args.sni)
        if s.selected_alpn_protocol() != "h2":
            raise SystemExit(f"ALPN negotiated {s.selected_alpn_protocol()!r}, not h2")
    return s


def authority(args):
    return args.authority or (args.sni if args.tls else f"{args.host}:{args.port}")


def flatten(obj, prefix=""):
    """`key=value` lines (nested keys joined with dots, list items by index): what the Rust
    tests read, with no JSON parser there. Values never hold a newline."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}{k}.")
    elif isinstance(obj, (list, tuple)):
        yield f"{prefix}len={len(obj)}"
        for i, v in enumerate(obj):
            yield from flatten(v, f"{prefix}{i}.")
    else:
        v = "" if obj is None else str(obj).lower() if isinstance(obj, bool) else str(obj)
        yield f"{prefix[:-1]}={v.encode('unicode_escape').decode('ascii')}"


def emit(obj):
    """The result: JSON on stderr for people, flat lines on stdout for the tests."""
    print(json.dumps(obj), file=sys.stderr)
    for line in flatten(obj):
        print(line)
    sys.stdout.flush()


# ---- a well-behaved client (h2's connection layer) -----------------------------------------

class Client:
    """One connection; `run(requests)` sends them all concurrently (as many as the server's
    SETTINGS_MAX_CONCURRENT_STREAMS allows at a time) and returns the answers in order."""

    def __init__(self, args, window=1 << 24, timeout=20.0, validate=True):
        self.args = args
        self.sock = connect(args)
        self.sock.settimeout(timeout)
        # h2 4.1 wants :path in every request it sends, CONNECT's too (RFC 9113 8.5 forbids
        # it there): a batch with a CONNECT goes without h2's outbound checks.
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding=None,
                                             validate_outbound_headers=validate))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.conn.increment_flow_control_window(window)
        self.flush()
        self.goaway = None
        # The server's SETTINGS first: its SETTINGS_MAX_CONCURRENT_STREAMS bounds how many
        # streams `run` opens at once.
        end = time.monotonic() + 5
        seen = False
        while not seen and time.monotonic() < end:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("closed before the server's SETTINGS")
            for ev in self.conn.receive_data(data):
                if isinstance(ev, h2.events.RemoteSettingsChanged):
                    seen = True
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    raise ConnectionError(f"GOAWAY {ev.error_code} before any request")
            self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def run(self, requests, deadline_s=30.0):
        results = [None] * len(requests)
        pending = list(range(len(requests)))
        active = {}  # stream id -> {i, body left, response}
        deadline = time.monotonic() + deadline_s
        while (pending or active) and time.monotonic() < deadline:
            limit = self.conn.remote_settings.max_concurrent_streams
            while pending and len(active) < limit and self.goaway is None:
                i = pending.pop(0)
                r = requests[i]
                sid = self.conn.get_next_available_stream_id()
                method = r.get("method", "GET")
                headers = [(b":method", method.encode()),
                           (b":scheme", b"https" if self.args.tls else b"http"),
                           (b":authority", r.get("authority", authority(self.args)).encode()),
                           (b":path", r.get("path", "").encode())]
                if method == "CONNECT":
                    headers = [h for h in headers if h[0] in (b":method", b":authority")]
                headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in r.get("headers", [])]
                body = r.get("body", "").encode("latin-1") if isinstance(r.get("body", ""), str) else r["body"]
                self.conn.send_headers(sid, headers, end_stream=not body)
                active[sid] = {"i": i, "left": body, "status": None, "headers": [], "body": bytearray(),
                               "error": None, "started": time.monotonic()}
            self.send_bodies(active)
            self.flush()
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                break
            except OSError as e:
                for sid, st in active.items():
                    st["error"] = f"connection error: {e}"
                break
            if not data:
                for st in active.values():
                    st["error"] = st["error"] or "connection closed"
                break
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                for st in active.values():
                    st["error"] = f"protocol error: {e}"
                break
            for ev in events:
                st = active.get(getattr(ev, "stream_id", None) or 0)
                if isinstance(ev, h2.events.ResponseReceived):
                    hs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in ev.headers]
                    st["status"] = int(dict(hs)[":status"])
                    st["headers"] = [h for h in hs if not h[0].startswith(":")]
                elif isinstance(ev, h2.events.InformationalResponseReceived):
                    pass
                elif isinstance(ev, h2.events.TrailersReceived):
                    st["trailers"] = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in ev.headers]
                elif isinstance(ev, h2.events.DataReceived):
                    if st is not None:
                        st["body"] += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    self.finish(active, results, ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset):
                    if st is not None:
                        st["error"] = f"RST_STREAM {ERROR_NAMES.get(int(ev.error_code), ev.error_code)}"
                        self.finish(active, results, ev.stream_id)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self.goaway = ERROR_NAMES.get(int(ev.error_code), str(ev.error_code))
                    for sid in [s for s in active if ev.last_stream_id is not None and s > ev.last_stream_id]:
                        active[sid]["error"] = f"GOAWAY {self.goaway} (stream not processed)"
                        self.finish(active, results, sid)
            self.flush()
        for sid in list(active):
            active[sid]["error"] = active[sid]["error"] or "no answer before the deadline"
            self.finish(active, results, sid)
        for i in pending:
            results[i] = {"status": None, "headers": [], "body": "", "error": "never sent"}
        return results

    def send_bodies(self, active):
        for sid, st in active.items():
            while st["left"]:
                window = self.conn.local_flow_control_window(sid)
                n = min(len(st["left"]), window, self.conn.max_outbound_frame_size)
                if n <= 0:
                    break
                chunk, st["left"] = st["left"][:n], st["left"][n:]
                self.conn.send_data(sid, chunk, end_stream=not st["left"])

    @staticmethod
    def finish(active, results, sid):
        st = active.pop(sid, None)
        if st is None:
            return
        results[st["i"]] = {"status": st["status"], "headers": st["headers"],
                            "body": bytes(st["body"]).decode("latin-1"), "body_hex": bytes(st["body"]).hex(),
                            "error": st["error"],
                            "trailers": st.get("trailers", []),
                            "ms": round((time.monotonic() - st["started"]) * 1000, 1)}

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
            self.sock.close()
        except OSError:
            pass


def cmd_batch(args):
    reqs = json.load(sys.stdin)
    c = Client(args, validate=not any(r.get("method") == "CONNECT" for r in reqs))
    out = c.run(reqs)
    c.close()
    emit(({"responses": out, "goaway": c.goaway}))


def cmd_streams(args):
    reqs, expect = [], []
    for i in range(args.n):
        if i % 4 == 3:
            size = 1000 + i * 997
            reqs.append({"method": "GET", "path": f"/size/{size}"})
            expect.append(pattern(size))
        else:
            size = (i * 7919) % args.max_body
            body = bytes((i + j) % 256 for j in range(size))
            hdrs = [("content-type", "application/octet-stream")]
            if i % 2 == 0:
                hdrs.append(("content-length", str(size)))
            reqs.append({"method": "POST", "path": "/echo", "headers": hdrs, "body": body})
            expect.append(body)
    c = Client(args)
    t0 = time.monotonic()
    out = c.run(reqs, deadline_s=args.deadline)
    c.close()
    bad = []
    for i, (r, want) in enumerate(zip(out, expect)):
        got = r["body"].encode("latin-1")
        if r["error"] or r["status"] != 200 or got != want:
            bad.append({"i": i, "path": reqs[i]["path"], "status": r["status"], "error": r["error"],
                        "sent_or_expected": len(want), "received": len(got)})
    emit(({"streams": args.n, "ok": args.n - len(bad), "bad": bad[:20],
                      "bytes_up": sum(len(r.get("body", b"")) for r in reqs),
                      "bytes_down": sum(len(e) for e in expect),
                      "seconds": round(time.monotonic() - t0, 3), "goaway": c.goaway}))


# ---- slow reader ---------------------------------------------------------------------------

def one_get(args, path, timeout=10.0):
    """A GET on a fresh connection: (status, body length, ms) or an error string."""
    t0 = time.monotonic()
    try:
        c = Client(args, timeout=timeout)
        r = c.run([{"path": path}], deadline_s=timeout)[0]
        c.close()
        if r["error"]:
            return {"ok": False, "error": r["error"]}
        return {"ok": r["status"] == 200, "status": r["status"], "len": len(r["body"]),
                "ms": round((time.monotonic() - t0) * 1000, 1)}
    except Exception as e:  # noqa: BLE001 (reported, the test decides)
        return {"ok": False, "error": repr(e)}


def cmd_slow_reader(args):
    big = args.big
    # A third connection that asks for a big body and never reads a byte.
    deaf = connect(args)
    dconn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    dconn.initiate_connection()
    dconn.send_headers(1, [(b":method", b"GET"), (b":scheme", b"https" if args.tls else b"http"),
                           (b":authority", authority(args).encode()), (b":path", f"/size/{big}".encode())],
                       end_stream=True)
    deaf.sendall(dconn.data_to_send())

    s = connect(args)
    s.settimeout(0.2)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    # Stream windows stay at the default 65,535 bytes; the connection window is opened wide.
    conn.increment_flow_control_window(1 << 30)
    hdr = lambda path: [(b":method", b"GET"), (b":scheme", b"https" if args.tls else b"http"),
                        (b":authority", authority(args).encode()), (b":path", path.encode())]
    conn.send_headers(1, hdr(f"/size/{big}"), end_stream=True)
    s.sendall(conn.data_to_send())
    got = {1: 0, 3: 0}
    ended = {1: False, 3: False}
    status = {}
    t0 = time.monotonic()
    t_stall = None
    t3 = None
    b_sent = False
    other = None
    errors = []
    while time.monotonic() - t0 < args.deadline:
        try:
            data = s.recv(1 << 20)
            if not data:
                errors.append("connection closed")
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    status[ev.stream_id] = dict(ev.headers).get(b":status", b"").decode()
                elif isinstance(ev, h2.events.DataReceived):
                    got[ev.stream_id] = got.get(ev.stream_id, 0) + len(ev.data)
                    if ev.stream_id == 1:
                        # The connection window only: stream 1 stays stalled.
                        if ev.flow_controlled_length:
                            conn.increment_flow_control_window(ev.flow_controlled_length)
                    else:
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    ended[ev.stream_id] = True
                    if ev.stream_id == 3:
                        t3 = time.monotonic()
                elif isinstance(ev, h2.events.StreamReset):
                    errors.append(f"stream {ev.stream_id} reset {ev.error_code}")
                    ended[ev.stream_id] = True
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    errors.append(f"GOAWAY {ERROR_NAMES.get(int(ev.error_code), ev.error_code)}")
            out = conn.data_to_send()
            if out:
                s.sendall(out)
        except socket.timeout:
            pass
        if not b_sent and got[1] >= 65535:
            # Stream 1 has used its whole window: it is stalled now.
            t_stall = time.monotonic()
            b_sent = True
            conn.send_headers(3, hdr(f"/size/{args.small}"), end_stream=True)
            s.sendall(conn.data_to_send())
            other = one_get(args, f"/size/{args.small}")
        if ended[3] and other is not None:
            time.sleep(0.3)  # let any further stream-1 data show (it must not)
            try:
                data = s.recv(1 << 20)
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.DataReceived) and ev.stream_id == 1:
                        got[1] += len(ev.data)
            except (socket.timeout, BlockingIOError):
                pass
            break
    deaf_alive = True
    try:
        deaf.settimeout(0.01)
        deaf.recv(1)
    except socket.timeout:
        pass
    except OSError:
        deaf_alive = False
    deaf.close()
    s.close()
    emit(({
        "stalled_stream_bytes": got[1], "stalled_stream_ended": ended[1], "stalled_status": status.get(1),
        "other_stream_status": status.get(3), "other_stream_bytes": got[3], "other_stream_ended": ended[3],
        "other_stream_ms": round((t3 - t_stall) * 1000, 1) if t3 and t_stall else None,
        "other_connection": other, "deaf_connection_still_open": deaf_alive,
        "expected_small": args.small, "errors": errors,
    }))


# ---- soft stop, settings -------------------------------------------------------------------

def cmd_hold(args):
    """A stream to a slow path; prints `sent` as soon as its HEADERS are out (the test then
    stops the proxy softly), and reports the GOAWAY and whether the stream still finished.
    Raw frames: h2's state machine refuses every frame after a first (graceful) GOAWAY."""
    s = connect(args)
    s.settimeout(0.2)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, never_indexed([
        (":method", "GET"), (":scheme", "https" if args.tls else "http"), (":authority", authority(args)),
        (":path", args.path)])))
    print("sent", flush=True)
    res = {"status": None, "body_len": 0, "ended": False, "goaways": [], "goaway_before_end": False,
           "closed": False, "errors": []}
    dec = hpack.Decoder()
    buf = b""
    deadline = time.monotonic() + args.deadline
    ended_at = None
    while time.monotonic() < deadline:
        if ended_at and time.monotonic() - ended_at > 3:
            break
        try:
            data = s.recv(1 << 16)
        except socket.timeout:
            continue
        except OSError as e:
            res["errors"].append(repr(e))
            break
        if not data:
            res["closed"] = True
            break
        buf += data
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, flags, sid, payload = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n]
            buf = buf[9 + n:]
            if ftype == SETTINGS and not flags & ACK:
                s.sendall(frame(SETTINGS, ACK, 0))
            elif ftype == PING and not flags & ACK:
                s.sendall(frame(PING, ACK, 0, payload))
            elif ftype == HEADERS and sid == 1:
                block = payload
                if flags & 0x8:  # PADDED
                    block = block[1:len(block) - block[0]]
                if flags & 0x20:  # PRIORITY
                    block = block[5:]
                hs = dict(dec.decode(block))
                if ":status" in hs:
                    res["status"] = int(hs[":status"])
            elif ftype == DATA and sid == 1:
                res["body_len"] += len(payload)
                if payload:
                    s.sendall(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload)))
                              + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", len(payload))))
            elif ftype == RST_STREAM:
                res["errors"].append(f"RST_STREAM {ERROR_NAMES.get(struct.unpack('>I', payload)[0])}")
                res["ended"] = True
                ended_at = time.monotonic()
            elif ftype == GOAWAY:
                last, code = struct.unpack(">II", payload[:8])
                res["goaways"].append({"code": ERROR_NAMES.get(code, str(code)), "last_stream_id": last & 0x7FFFFFFF})
                if not res["ended"]:
                    res["goaway_before_end"] = True
            if ftype in (HEADERS, DATA) and sid == 1 and flags & END_STREAM:
                res["ended"] = True
                ended_at = time.monotonic()
    s.close()
    emit(res)


SETTING_NAMES = {1: "header_table_size", 2: "enable_push", 3: "max_concurrent_streams",
                 4: "initial_window_size", 5: "max_frame_size", 6: "max_header_list_size",
                 8: "enable_connect_protocol"}


def cmd_settings(args):
    """The server's first SETTINGS frame, by name (absent: the protocol default applies)."""
    s = connect(args)
    s.settimeout(5)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    buf = b""
    values = {}
    while True:
        data = s.recv(1 << 16)
        if not data:
            break
        buf += data
        done = False
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, flags, payload = buf[3], buf[4], buf[9:9 + n]
            buf = buf[9 + n:]
            if ftype == SETTINGS and not flags & ACK:
                for i in range(0, len(payload), 6):
                    ident, value = struct.unpack(">HI", payload[i:i + 6])
                    values[SETTING_NAMES.get(ident, str(ident))] = value
                done = True
        if done:
            break
    s.close()
    emit({"settings": values})


# ---- attacks -------------------------------------------------------------------------------

def never_indexed(headers):
    """A header block that leaves the server's dynamic table alone, so it can be sent again."""
    enc = hpack.Encoder()
    return enc.encode([hpack.NeverIndexedHeaderTuple(k, v) for k, v in headers])


class Bystander(threading.Thread):
    """A normal client on its own connection: a GET every 50 ms while the flood runs."""

    def __init__(self, args):
        super().__init__(daemon=True)
        self.args, self.stop, self.ok, self.failed, self.errors, self.max_ms = args, False, 0, 0, [], 0.0

    def run(self):
        c = None
        while not self.stop:
            t0 = time.monotonic()
            try:
                if c is None:
                    c = Client(self.args, timeout=5.0)
                r = c.run([{"path": "/bystander"}], deadline_s=5.0)[0]
                if r["status"] == 200 and not r["error"]:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append(r["error"] or f"status {r['status']}")
                    c.close()
                    c = None
            except Exception as e:  # noqa: BLE001
                self.failed += 1
                self.errors.append(repr(e))
                c = None
            self.max_ms = max(self.max_ms, (time.monotonic() - t0) * 1000)
            time.sleep(0.05)
        if c is not None:
            c.close()


class Reader(threading.Thread):
    """Reads the flooded connection, parses frames, notes GOAWAY and the close. It answers the
    server's PINGs, as any client does (a graceful GOAWAY is followed by one, and the server
    may wait for its ACK before the final GOAWAY); `lock` serialises its writes with the
    flood's."""

    def __init__(self, sock, lock):
        super().__init__(daemon=True)
        self.sock, self.buf, self.lock = sock, b"", lock
        self.goaway = None
        self.closed = None  # "eof" / "reset" / None
        self.frames = {}
        self.settings_seen = threading.Event()
        self.rst_streams = 0
        self.statuses = 0
        self.t_goaway = None

    def run(self):
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError as e:
                self.closed = f"error: {e.__class__.__name__}"
                self.settings_seen.set()
                return
            if not data:
                self.closed = "eof"
                self.settings_seen.set()
                return
            self.buf += data
            off, buf = 0, self.buf
            while len(buf) - off >= 9:
                n = int.from_bytes(buf[off:off + 3], "big")
                if len(buf) - off < 9 + n:
                    break
                ftype, flags = buf[off + 3], buf[off + 4]
                payload = buf[off + 9:off + 9 + n]
                off += 9 + n
                self.frames[ftype] = self.frames.get(ftype, 0) + 1
                if ftype == SETTINGS and not flags & ACK:
                    self.settings_seen.set()
                elif ftype == PING and not flags & ACK and payload != b"liveness":
                    try:
                        with self.lock:
                            self.sock.sendall(frame(PING, ACK, 0, payload))
                    except OSError:
                        pass
                elif ftype == GOAWAY and self.goaway is None:
                    last, code = struct.unpack(">II", payload[:8])
                    self.goaway = {"code": ERROR_NAMES.get(code, str(code)), "last_stream_id": last & 0x7FFFFFFF,
                                   "debug": payload[8:].decode("latin-1")[:200]}
                    self.t_goaway = time.monotonic()
                elif ftype == RST_STREAM:
                    self.rst_streams += 1
                elif ftype == HEADERS:
                    self.statuses += 1
            self.buf = buf[off:]


def cmd_attack(args):
    kind = args.kind
    by = Bystander(args)
    by.start()
    time.sleep(0.2)
    s = connect(args)
    s.settimeout(args.send_timeout)
    lock = threading.Lock()
    rd = Reader(s, lock)
    rd.start()
    settings = b""
    if kind == "zero-window":
        settings = struct.pack(">HI", 0x4, 0)  # SETTINGS_INITIAL_WINDOW_SIZE = 0
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
    if not rd.settings_seen.wait(5):
        raise SystemExit("no SETTINGS from the server")
    s.sendall(frame(SETTINGS, ACK, 0))
    scheme = "https" if args.tls else "http"
    get = never_indexed([(":method", "GET"), (":scheme", scheme), (":authority", authority(args)), (":path", "/")])
    post = never_indexed([(":method", "POST"), (":scheme", scheme), (":authority", authority(args)),
                          (":path", "/echo")])
    t0 = time.monotonic()
    sent_frames = 0
    stop = None  # why the flood stopped

    def batches():
        """Yields (bytes, frames in it) until the cap."""
        nonlocal sent_frames
        sid = 1
        if kind == "rapid-reset":
            while True:
                chunk = b"".join(frame(HEADERS, END_HEADERS | END_STREAM, sid + 2 * i, get)
                                 + frame(RST_STREAM, 0, sid + 2 * i, struct.pack(">I", 8)) for i in range(200))
                sid += 400
                yield chunk, 400
        elif kind == "continuation":
            field = never_indexed([("x-flood", "a" * 1000)])
            yield frame(HEADERS, 0, 1, get), 1
            one = frame(CONTINUATION, 0, 1, field)
            while True:
                yield one * 64, 64
        elif kind == "settings":
            one = frame(SETTINGS, 0, 0, struct.pack(">HI", 0x4, 65535))
            while True:
                yield one * 500, 500
        elif kind == "ping":
            while True:
                yield b"".join(frame(PING, 0, 0, struct.pack(">Q", sent_frames + i)) for i in range(500)), 500
        elif kind == "empty-data":
            yield frame(HEADERS, END_HEADERS, 1, post), 1
            one = frame(DATA, 0, 1)
            while True:
                yield one * 500, 500
        elif kind == "zero-window":
            # Streams asking for big bodies the server can never send (window 0, never opened).
            for i in range(args.zw_streams):
                path = never_indexed([(":method", "GET"), (":scheme", scheme), (":authority", authority(args)),
                                      (":path", "/size/1000000")])
                yield frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, path), 1
        elif kind == "idle":
            # Nothing at all after the preface: `timeout client` must close it.
            return
        elif kind == "hpack-bomb":
            # One 4 KB value into the dynamic table (incremental indexing), then header blocks
            # that repeat it by index: each 16 KB block stands for 64 MB of headers.
            enc = hpack.Encoder()
            first = enc.encode([(":method", "GET"), (":scheme", scheme), (":authority", authority(args)),
                                (":path", "/"), ("x-bomb", "b" * 4000)])
            yield frame(HEADERS, END_HEADERS | END_STREAM, 1, first), 1
            base = never_indexed([(":method", "GET"), (":scheme", scheme), (":authority", authority(args)),
                                  (":path", "/")])
            bomb = base + bytes([0x80 | 62]) * 16000  # indexed field 62: the newest dynamic entry
            sid = 3
            while True:
                yield frame(HEADERS, END_HEADERS | END_STREAM, sid, bomb), 1
                sid += 2
        else:
            raise SystemExit(f"unknown attack {kind}")

    try:
        for chunk, n in batches():
            if rd.closed or rd.goaway:
                stop = "server closed or sent GOAWAY"
                break
            if sent_frames >= args.max_frames:
                stop = "cap reached"
                break
            if time.monotonic() - t0 > args.max_seconds:
                stop = "time cap reached"
                break
            with lock:
                s.sendall(chunk)
            sent_frames += n
        else:
            stop = "all sent"
    except socket.timeout:
        stop = "send blocked (the server stopped reading)"
    except OSError as e:
        stop = f"send failed: {e.__class__.__name__}"
    flood_s = time.monotonic() - t0
    # Wait for the verdict: GOAWAY and close, or nothing (until --wait seconds).
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline and not rd.closed:
        if rd.goaway and time.monotonic() - rd.t_goaway > 3.0:
            break
        time.sleep(0.05)
    # The bystander keeps going a little after the verdict, and until it made a few requests:
    # on a loaded machine one may take a second, and a flood ended at once leaves it no time.
    time.sleep(0.3)
    settle = time.monotonic() + 10
    while by.ok + by.failed < 3 and time.monotonic() < settle:
        time.sleep(0.05)
    by.stop = True
    by.join(10)
    # A PING on the attacked connection tells whether it is still served.
    still_served = False
    if not rd.closed and not rd.goaway:
        before = rd.frames.get(PING, 0)
        try:
            s.sendall(frame(PING, 0, 0, b"liveness"))
            end = time.monotonic() + 5
            while time.monotonic() < end and rd.frames.get(PING, 0) == before:
                time.sleep(0.05)
            still_served = rd.frames.get(PING, 0) > before
        except OSError:
            pass
    try:
        s.close()
    except OSError:
        pass
    emit(({
        "attack": kind, "frames_sent": sent_frames, "flood_seconds": round(flood_s, 3), "stopped": stop,
        "goaway": rd.goaway, "closed": rd.closed, "still_served": still_served,
        "goaway_after_flood_s": round(rd.t_goaway - t0 - flood_s, 3) if rd.t_goaway else None,
        "frames_received": {str(k): v for k, v in sorted(rd.frames.items())},
        "rst_streams_received": rd.rst_streams, "headers_received": rd.statuses,
        "bystander": {"ok": by.ok, "failed": by.failed, "errors": by.errors[:5], "max_ms": round(by.max_ms, 1)},
    }))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--ca")
    p.add_argument("--sni", default="localhost")
    p.add_argument("--authority", help=":authority (default host:port, or the SNI name over TLS)")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("batch")
    ho = sub.add_parser("hold")
    ho.add_argument("--path", default="/delay/1500")
    ho.add_argument("--deadline", type=float, default=15.0)
    sub.add_parser("settings")
    st = sub.add_parser("streams")
    st.add_argument("n", type=int)
    st.add_argument("--max-body", type=int, default=200_000)
    st.add_argument("--deadline", type=float, default=60.0)
    sr = sub.add_parser("slow-reader")
    sr.add_argument("--big", type=int, default=20_000_000)
    sr.add_argument("--small", type=int, default=300_000)
    sr.add_argument("--deadline", type=float, default=20.0)
    at = sub.add_parser("attack")
    at.add_argument("kind")
    at.add_argument("--max-frames", type=int, default=200_000)
    at.add_argument("--max-seconds", type=float, default=10.0)
    at.add_argument("--send-timeout", type=float, default=3.0)
    at.add_argument("--wait", type=float, default=8.0, help="seconds to wait for GOAWAY after the flood")
    at.add_argument("--zw-streams", type=int, default=20)
    args = p.parse_args()
    {"batch": cmd_batch, "streams": cmd_streams, "slow-reader": cmd_slow_reader, "attack": cmd_attack,
     "hold": cmd_hold, "settings": cmd_settings}[args.cmd](args)


if __name__ == "__main__":
    main()
