#!/usr/bin/env python3
"""faultproxy: an HTTP/1.1 proxy that injects network faults.

It sits between a client (blobmill, blobmill-fuse, curl) and a server
(Azurite) on the loopback interface and, for a seeded fraction of the
requests, does one of:

  reset      forwards the request, then resets the connection (RST) before
             any byte of the response: the server did the work, the client
             never hears of it
  reset_mid  sends the response head and part of the body, then RST
  truncate   sends the response head (Content-Length kept) and part of the
             body, then closes the connection normally (FIN)
  http500    answers 500 InternalError itself (the server never sees it)
  http503    answers 503 ServerBusy with Retry-After itself
  stall      reads the request and then sends nothing for --stall-seconds
             (past the client's timeout), then closes; never forwarded
  stall_mid  sends the head and part of the body, then stalls and closes
  drop       resets the connection without forwarding the request
  corrupt    forwards the request with one byte of its body flipped (a
             body damaged on the way), and the server's answer as it is;
             not among the defaults
  delay      forwards the request once it has waited --stall-seconds (a
             slow service), and the answer as it is; not among the
             defaults. With it, the summary's max_in_flight (the most
             requests the proxy held at once) shows how many requests a
             client keeps going in parallel

When the response has no body, reset_mid/truncate/stall_mid cut the
response head instead, so every injected fault really breaks the exchange.

The decision for a request depends only on the seed and the request's
sequence number (1, 2, ... in the order request heads arrive), so one seed
always gives the same decisions for the same sequence. Each injection is
printed on stderr; with --log, every request (faulted or not) is written as
one JSON object per line, and a final {"summary": ...} line at exit.

Keep-alive aware: requests on one client connection are forwarded over one
upstream connection in order; bodies are framed by Content-Length or
chunked encoding; "Expect: 100-continue" is answered by the proxy.

Standard library only. Usage:
  faultproxy.py --target-port PORT [--listen-port 0] [--port-file FILE]
                [--seed N] [--rate 0.1] [--faults reset,http503:2,...]
                [--stall-seconds 35] [--retry-after 1] [--log FILE]
                [--script SEQ:FAULT,...] [--pass-first N] [--match REGEX]
                [--rule REGEX=FAULT]... [--start-off] [--dry-run N]
SIGUSR1 turns injection off and on (the proxy starts with it on).
SIGTERM/SIGINT: print the summary and exit 0.
"""

import argparse
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time

ALL_FAULTS = ("reset", "reset_mid", "truncate", "http500", "http503",
              "stall", "stall_mid", "drop", "corrupt", "delay")
DEFAULT_FAULTS = "reset,reset_mid,truncate,http500,http503,stall"
MAX_HEAD = 64 * 1024
CHUNK = 256 * 1024
# An upstream connection idle for longer than this is not reused: the
# server (Node's keepAliveTimeout is 5 s) may be closing it, and a request
# lost to that race would look like an injected fault.
UPSTREAM_IDLE_S = 2.0


class PeerClosed(Exception):
    """The peer closed the connection (cleanly or not)."""


class BadMessage(Exception):
    """A malformed HTTP message."""


class Reader:
    """Buffered reads from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(CHUNK)
        if not data:
            raise PeerClosed()
        self.buf += data

    def head(self, allow_eof=False):
        """Bytes up to and including the blank line; None on a clean EOF
        before any byte when allow_eof."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                out = bytes(self.buf[:i + 4])
                del self.buf[:i + 4]
                return out
            if len(self.buf) > MAX_HEAD:
                raise BadMessage("header too large")
            try:
                self._fill()
            except PeerClosed:
                if allow_eof and not self.buf:
                    return None
                raise

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return out
            if len(self.buf) > MAX_HEAD:
                raise BadMessage("line too long")
            self._fill()

    def some(self, limit):
        if not self.buf:
            self._fill()
        out = bytes(self.buf[:limit])
        del self.buf[:limit]
        return out

    def until_close(self):
        """Yields everything until the peer closes."""
        while True:
            if self.buf:
                out = bytes(self.buf)
                self.buf.clear()
                yield out
            try:
                self._fill()
            except PeerClosed:
                return


class Message:
    """A parsed request or response head."""

    def __init__(self, raw):
        self.raw = raw
        lines = raw[:-4].decode("latin-1").split("\r\n")
        self.start = lines[0]
        self.headers = []
        for ln in lines[1:]:
            if ":" not in ln:
                raise BadMessage("bad header line")
            k, v = ln.split(":", 1)
            self.headers.append((k.strip(), v.strip()))

    def get(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def has_token(self, name, token):
        v = self.get(name)
        return v is not None and token in [t.strip().lower()
                                           for t in v.split(",")]

    def build(self, drop=()):
        drop = {d.lower() for d in drop}
        out = [self.start]
        out += ["%s: %s" % (k, v) for k, v in self.headers
                if k.lower() not in drop]
        return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")

    def framing(self):
        """('chunked', None), ('length', n) or ('close', None)."""
        if self.has_token("transfer-encoding", "chunked"):
            return ("chunked", None)
        cl = self.get("content-length")
        if cl is not None:
            if not cl.isdigit():
                raise BadMessage("bad content-length")
            return ("length", int(cl))
        return ("close", None)


def body_chunks(reader, framing):
    """Yields the raw bytes of a body (chunk framing included)."""
    kind, n = framing
    if kind == "length":
        while n > 0:
            data = reader.some(min(n, CHUNK))
            n -= len(data)
            yield data
    elif kind == "chunked":
        while True:
            size_line = reader.line()
            yield size_line
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadMessage("bad chunk size")
            if size == 0:
                # Trailers, then the final CRLF.
                while True:
                    ln = reader.line()
                    yield ln
                    if ln == b"\r\n":
                        return
            left = size + 2
            while left > 0:
                data = reader.some(min(left, CHUNK))
                left -= len(data)
                yield data
    else:
        yield from reader.until_close()


def rst_close(sock):
    """Closes with a TCP reset rather than a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def fin_close(sock):
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()


class Plan:
    """Which fault, if any, request number seq gets."""

    def __init__(self, seed, rate, faults, script, pass_first, match, rules):
        self.rules = rules  # [(compiled regex, fault)]
        self.seed = seed
        self.rate = rate
        self.faults = faults  # list with repeats for weights
        self.script = script
        self.pass_first = pass_first
        self.match = re.compile(match) if match else None
        self.enabled = True

    def decide(self, seq, method, target):
        """(fault or None, cut fraction in [0, 1))."""
        # A string seed hashes with SHA-512 (random's version 2 seeding),
        # independent of PYTHONHASHSEED: same seed, same decisions.
        r = random.Random("%d:%d" % (self.seed, seq))
        x = r.random()
        kind = r.choice(self.faults) if self.faults else None
        frac = r.random()
        if seq in self.script:
            return self.script[seq], frac
        if self.script or not self.enabled or seq <= self.pass_first:
            return None, frac
        if self.rules:
            line = "%s %s" % (method, target)
            for rx, fault in self.rules:
                if rx.search(line):
                    return fault, frac
            return None, frac
        if self.match and not self.match.search("%s %s" % (method, target)):
            return None, frac
        return (kind if x < self.rate else None), frac


class Proxy:
    def __init__(self, args):
        self.args = args
        self.plan = Plan(args.seed, args.rate, parse_faults(args.faults),
                         parse_script(args.script), args.pass_first,
                         args.match, parse_rules(args.rule))
        self.plan.enabled = not args.start_off
        self.lock = threading.Lock()
        self.seq = 0
        self.conns = 0
        self.counts = {}
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def next_conn(self):
        with self.lock:
            self.conns += 1
            return self.conns

    def held(self, delta):
        """A request's head arrived (+1) or its exchange ended (-1)."""
        with self.lock:
            self.in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def record(self, rec):
        with self.lock:
            self.requests += 1
            f = rec.get("fault")
            if f:
                self.counts[f] = self.counts.get(f, 0) + 1
            if self.log:
                self.log.write(json.dumps(rec, sort_keys=True) + "\n")
        if rec.get("fault"):
            print("faultproxy: #%d %s %s: %s%s" %
                  (rec["seq"], rec["method"], rec["target"], rec["fault"],
                   " (%s)" % rec["detail"] if rec.get("detail") else ""),
                  file=sys.stderr, flush=True)

    def summary(self):
        with self.lock:
            s = {"requests": self.requests, "connections": self.conns,
                 "max_in_flight": self.max_in_flight,
                 "faults": sum(self.counts.values()),
                 "by_fault": dict(sorted(self.counts.items())),
                 "seed": self.args.seed, "rate": self.args.rate}
            if self.log:
                self.log.write(json.dumps({"summary": s}, sort_keys=True) +
                               "\n")
                self.log.flush()
        print("faultproxy: summary %s" % json.dumps(s, sort_keys=True),
              file=sys.stderr, flush=True)


class Connection(threading.Thread):
    """One client connection and its upstream connection."""

    def __init__(self, proxy, csock):
        super().__init__(daemon=True)
        self.p = proxy
        self.c = csock
        self.cr = Reader(csock)
        self.id = proxy.next_conn()
        self.up = None
        self.ur = None
        self.up_used = 0.0

    # -- upstream ---------------------------------------------------------
    def upstream(self):
        if self.up is not None:
            idle = time.monotonic() - self.up_used
            r, _, _ = select.select([self.up], [], [], 0)
            if r or idle > UPSTREAM_IDLE_S:
                self.close_upstream()
        if self.up is None:
            a = self.p.args
            self.up = socket.create_connection((a.target_host, a.target_port),
                                               timeout=a.upstream_timeout)
            self.up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.ur = Reader(self.up)
        return self.up

    def close_upstream(self):
        if self.up is not None:
            self.up.close()
        self.up = None
        self.ur = None

    # -- helpers ----------------------------------------------------------
    def drain_request_body(self, req):
        n = 0
        for data in body_chunks(self.cr, req.framing_req):
            n += len(data)
        return n

    def stall(self, seconds):
        """Sends nothing for `seconds`, or until the client gives up."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return "stalled %.1f s" % seconds
            r, _, _ = select.select([self.c], [], [], min(left, 0.5))
            if r:
                try:
                    if not self.c.recv(CHUNK, socket.MSG_PEEK):
                        return "client gave up after %.1f s" % (
                            seconds - left)
                except OSError:
                    return "client reset after %.1f s" % (seconds - left)
                # Pipelined bytes: ignore them, keep stalling.
                time.sleep(min(left, 0.5))

    def error_response(self, status):
        if status == 503:
            code, msg, reason = ("ServerBusy",
                                 "The server is busy (injected).",
                                 "Service Unavailable")
            extra = "Retry-After: %d\r\n" % self.p.args.retry_after
        else:
            code, msg, reason = ("InternalError",
                                 "The server encountered an internal error "
                                 "(injected).", "Internal Server Error")
            extra = ""
        body = ('<?xml version="1.0" encoding="utf-8"?><Error><Code>%s'
                '</Code><Message>%s</Message></Error>' % (code, msg)).encode()
        head = ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n"
                "x-ms-error-code: %s\r\n%sContent-Length: %d\r\n\r\n" %
                (status, reason, code, extra, len(body))).encode()
        return head + body

    # -- one exchange -----------------------------------------------------
    def handle(self, req, seq):
        """Returns True to keep the client connection open."""
        method = req.start.split(" ", 1)[0]
        target = req.start.split(" ")[1] if " " in req.start else ""
        fault, frac = self.p.plan.decide(seq, method, target)
        rec = {"seq": seq, "conn": self.id, "method": method,
               "target": target, "fault": fault, "time": time.time()}
        keep = not req.has_token("connection", "close") and \
            not req.start.endswith("HTTP/1.0")
        req.framing_req = req.framing()
        if req.framing_req[0] == "close":
            req.framing_req = ("length", 0)
        if req.has_token("expect", "100-continue"):
            self.c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        if fault == "delay":
            rec["detail"] = "held %.1f s" % self.p.args.stall_seconds
            time.sleep(self.p.args.stall_seconds)
        if fault in ("http500", "http503", "stall", "drop"):
            rec["req_bytes"] = self.drain_request_body(req)
            if fault == "drop":
                rst_close(self.c)
                self.p.record(rec)
                return False
            if fault == "stall":
                rec["detail"] = self.stall(self.p.args.stall_seconds)
                fin_close(self.c)
                self.p.record(rec)
                return False
            status = 500 if fault == "http500" else 503
            rec["status"] = status
            self.c.sendall(self.error_response(status))
            self.p.record(rec)
            return keep

        # Forwarded: the request reaches the server in full.
        try:
            up = self.upstream()
            up.sendall(req.build(drop=("expect", "proxy-connection")))
            n = 0
            flip = None
            if fault == "corrupt" and req.framing_req[0] == "length" and \
                    req.framing_req[1] > 0:
                flip = int(frac * req.framing_req[1])
                rec["detail"] = "request body byte %d of %d flipped" % (
                    flip, req.framing_req[1])
            elif fault == "corrupt":
                rec["detail"] = "no body to corrupt"
            for data in body_chunks(self.cr, req.framing_req):
                if flip is not None and n <= flip < n + len(data):
                    data = bytearray(data)
                    data[flip - n] ^= 0xff
                    data = bytes(data)
                up.sendall(data)
                n += len(data)
            rec["req_bytes"] = n
            resp = Message(self.ur.head())
            while resp.start.split(" ")[1].startswith("1"):
                resp = Message(self.ur.head())  # interim: drop it
        except (OSError, PeerClosed, BadMessage) as e:
            # Not injected: the upstream failed. Tell the client the only
            # honest way, by closing, and log it as such.
            rec["fault"] = None
            rec["upstream_error"] = repr(e)
            self.close_upstream()
            rst_close(self.c)
            self.p.record(rec)
            return False
        status = int(resp.start.split(" ")[1])
        rec["status"] = status
        if method == "HEAD" or status in (204, 304):
            framing = ("length", 0)
        else:
            framing = resp.framing()
        up_keep = framing[0] != "close" and \
            not resp.has_token("connection", "close")
        keep = keep and up_keep

        if fault in (None, "corrupt", "delay"):
            self.c.sendall(resp.raw)
            n = 0
            for data in body_chunks(self.ur, framing):
                self.c.sendall(data)
                n += len(data)
            rec["resp_bytes"] = n
            self.up_used = time.monotonic()
            if not up_keep:
                self.close_upstream()
            self.p.record(rec)
            return keep

        # Faults on the response: reset, reset_mid, truncate, stall_mid.
        if fault == "reset":
            self.close_upstream()
            rst_close(self.c)
            rec["detail"] = "after the server answered %d" % status
            self.p.record(rec)
            return False
        if framing == ("length", 0):
            # No body: cut the head itself.
            cut = max(1, min(int(frac * len(resp.raw)), len(resp.raw) - 1))
            self.c.sendall(resp.raw[:cut])
            rec["detail"] = "head cut at %d of %d bytes" % (cut,
                                                            len(resp.raw))
        else:
            if framing[0] == "length":
                total = framing[1]
                body = None
            else:
                body = b"".join(body_chunks(self.ur, framing))
                total = len(body)
            cut = min(int(frac * total), total - 1) if total else 0
            self.c.sendall(resp.raw)
            if body is not None:
                self.c.sendall(body[:cut])
            else:
                sent = 0
                for data in body_chunks(self.ur, framing):
                    if sent + len(data) > cut:
                        self.c.sendall(data[:cut - sent])
                        sent = cut
                        break
                    self.c.sendall(data)
                    sent += len(data)
            rec["detail"] = "body cut at %d of %d bytes" % (cut, total)
        self.close_upstream()
        if fault == "stall_mid":
            rec["detail"] += ", " + self.stall(self.p.args.stall_seconds)
            fin_close(self.c)
        elif fault == "truncate":
            fin_close(self.c)
        else:
            rst_close(self.c)
        self.p.record(rec)
        return False

    def run(self):
        try:
            self.c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                raw = self.cr.head(allow_eof=True)
                if raw is None:
                    break
                req = Message(raw)
                seq = self.p.next_seq()
                self.p.held(1)
                try:
                    keep = self.handle(req, seq)
                finally:
                    self.p.held(-1)
                if not keep:
                    return  # the client socket is closed already
        except (OSError, PeerClosed, BadMessage):
            pass
        finally:
            self.close_upstream()
            try:
                self.c.close()
            except OSError:
                pass


def parse_faults(spec):
    """'reset,http503:3' -> ['reset', 'http503', 'http503', 'http503']."""
    out = []
    for item in filter(None, spec.split(",")):
        name, _, w = item.partition(":")
        if name not in ALL_FAULTS:
            raise SystemExit("faultproxy: unknown fault '%s' (known: %s)" %
                             (name, ", ".join(ALL_FAULTS)))
        if w and not w.isdigit():
            raise SystemExit("faultproxy: bad weight in '%s'" % item)
        out += [name] * (int(w) if w else 1)
    return out


def parse_script(spec):
    """'2:reset,5:http503' -> {2: 'reset', 5: 'http503'}."""
    out = {}
    for item in filter(None, (spec or "").split(",")):
        seq, _, name = item.partition(":")
        if not seq.isdigit() or name not in ALL_FAULTS:
            raise SystemExit("faultproxy: bad --script item '%s'" % item)
        out[int(seq)] = name
    return out


def parse_rules(items):
    """['PUT .*/x-=stall'] -> [(re, 'stall')]: every request whose
    'METHOD TARGET' matches gets that fault (first rule wins)."""
    out = []
    for item in items or []:
        rx, _, name = item.rpartition("=")
        if not rx or name not in ALL_FAULTS:
            raise SystemExit("faultproxy: bad --rule '%s' (REGEX=FAULT)" %
                             item)
        out.append((re.compile(rx), name))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target-host", default="127.0.0.1")
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--port-file", help="write the listening port here")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--faults", default=DEFAULT_FAULTS,
                    help="comma-separated FAULT[:WEIGHT] (default %s)" %
                    DEFAULT_FAULTS)
    ap.add_argument("--stall-seconds", type=float, default=35.0)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--upstream-timeout", type=float, default=300.0)
    ap.add_argument("--log", help="JSON lines, one per request")
    ap.add_argument("--script", help="SEQ:FAULT,... exactly these faults "
                    "and no random ones")
    ap.add_argument("--pass-first", type=int, default=0,
                    help="never fault the first N requests")
    ap.add_argument("--match", help="fault only requests whose "
                    "'METHOD TARGET' matches this regex")
    ap.add_argument("--rule", action="append", metavar="REGEX=FAULT",
                    help="fault every request whose 'METHOD TARGET' matches "
                    "(repeatable; replaces the random choice)")
    ap.add_argument("--start-off", action="store_true",
                    help="start with injection off (SIGUSR1 turns it on)")
    ap.add_argument("--dry-run", type=int, metavar="N",
                    help="print the decisions for requests 1..N and exit")
    args = ap.parse_args()
    if not 0 <= args.rate <= 1:
        raise SystemExit("faultproxy: --rate must be within 0..1")
    if args.target_host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("faultproxy: the target must be on loopback")

    proxy = Proxy(args)
    if args.dry_run is not None:
        for seq in range(1, args.dry_run + 1):
            fault, _ = proxy.plan.decide(seq, "GET", "/")
            print("%d %s" % (seq, fault or "-"))
        return
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen_port))
    ls.listen(128)
    port = ls.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    print("faultproxy: listening on 127.0.0.1:%d -> %s:%d, seed %d, rate %g"
          % (port, args.target_host, args.target_port, args.seed, args.rate),
          file=sys.stderr, flush=True)

    def on_term(signum, frame):
        raise SystemExit(0)

    def on_toggle(signum, frame):
        proxy.plan.enabled = not proxy.plan.enabled
        print("faultproxy: injection %s" %
              ("on" if proxy.plan.enabled else "off"),
              file=sys.stderr, flush=True)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_toggle)
    try:
        while True:
            try:
                c, _ = ls.accept()
            except InterruptedError:
                continue
            Connection(proxy, c).start()
    finally:
        proxy.summary()


if __name__ == "__main__":
    main()
