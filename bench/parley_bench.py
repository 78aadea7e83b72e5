#!/usr/bin/env python3
"""parley-bench: Parley's load generator (asyncio + uvloop + picows, HdrHistogram latencies).

Scenarios (each bounded in count and time; every target must be on 127.0.0.0/8):

  conns   N idle authenticated sessions spread over the edges, several generator processes and
          several 127.0.0.x source addresses; server RSS per connection, connect rate, failures.
  pairs   P sender/receiver pairs on different edges, open-loop aggregate rate R for D seconds;
          sent / sent-acknowledged / delivered / lost / duplicates, end-to-end latency
          percentiles, CPU of every server process and CPU per delivered message; with --v2
          every session is a fresh device (acks by seq, senders get their own copies), with
          --redis also Redis's commands per message.
  ramp    pairs phases at rising rates until p99 > limit or anything is lost.
  sync    (v2) fill one user's stream with N entries through the front door, then a device
          replays it from since=0: time to `synced`, entries/s, peak RSS, order, loss, dups.
  history (v2) C clients page one conversation's history (random `before`) back to back:
          pages/s, latency per page, every page checked.
  fanout  (groups) G groups of M members (v2 devices on both edges, all online), R messages a second
          per group from rotating members, after a dm reference (a v2 pairs run on the same stack):
          deliveries/s, latency to every member and to the last, each message exactly once at every
          member, CPU per delivery, the issue's targets as ratios to the dm reference.
  floor   the physical floor of the message path: one broker produce->consume round trip
          (Parley's low-latency client settings) and one Redis round trip.

Protocols: `parley` (POST /api/login, ws /ws?token=[&device=&since=&epoch=], welcome, send/sent/
message/ack, v2 entries/synced/history) and
`socketio` (Engine.IO v4 / Socket.IO v5 over websocket, `send` / `message` events) so the same
tool can drive a Socket.IO peer for comparisons.

Every run prints a human table on stderr and one JSON line on stdout (`--out FILE` appends it).
"""
import argparse
import asyncio
import collections
import functools
import ipaddress
import json
import math
import os
import random
import resource
import socket
import string
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from fanout_ledger import FanoutLedger, create_frame, edge_of, group_of, group_users, send_offset, sender_of

TOOL_VERSION = 1
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h
CLK_TCK = os.sysconf("SC_CLK_TCK")
MAX_CONNS_PER_PROC = 15000   # RLIMIT_NOFILE is 20000 here and cannot be raised
MAX_TIME_DEFAULT = 600.0


# ----------------------------------------------------------------------------- safety

def loopback_host(host):
    """Returns an IPv4 loopback address for host, or raises SystemExit: loopback only."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise SystemExit(f"refusing target {host!r}: only literal 127.0.0.0/8 addresses (or localhost)")
    if ip.version != 4 or ip not in ipaddress.ip_network("127.0.0.0/8"):
        raise SystemExit(f"refusing target {host!r}: not in 127.0.0.0/8")
    return str(ip)


def parse_url(url):
    u = urlsplit(url if "://" in url else "http://" + url)
    if u.scheme not in ("http", "ws"):
        raise SystemExit(f"unsupported scheme in {url!r} (http:// or ws://)")
    host = loopback_host(u.hostname or "")
    return host, u.port or 80


def parse_hostport(spec, default_port):
    host, _, port = spec.rpartition(":") if ":" in spec else (spec, "", str(default_port))
    return loopback_host(host), int(port)


# ----------------------------------------------------------------------------- /proc

def read_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def read_cpu_s(pid):
    """user+system CPU seconds of a process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def read_machine():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = list(map(int, parts))
    idle = vals[3] + vals[4]
    return sum(vals), idle


def self_cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime, c.ru_utime + c.ru_stime


class CpuWindow:
    """CPU of the given pids, of this generator and of the machine between start() and stop()."""

    def __init__(self, pids):
        self.pids = pids

    def start(self):
        self.t0 = time.monotonic()
        self.c0 = {label: read_cpu_s(pid) for label, pid in self.pids.items()}
        self.g0 = self_cpu_s()
        self.m0 = read_machine()
        return self

    def stop(self):
        dt = time.monotonic() - self.t0
        out = {"window_s": round(dt, 3), "per_pid": {}}
        for label, pid in self.pids.items():
            c1 = read_cpu_s(pid)
            if c1 is None or self.c0[label] is None:
                out["per_pid"][label] = None
                continue
            used = c1 - self.c0[label]
            out["per_pid"][label] = {"cpu_s": round(used, 3), "pct": round(100 * used / dt, 1)}
        g1 = self_cpu_s()
        gen = (g1[0] - self.g0[0]) + (g1[1] - self.g0[1])
        out["generator"] = {"cpu_s": round(gen, 3), "pct": round(100 * gen / dt, 1)}
        m1 = read_machine()
        total, idle = m1[0] - self.m0[0], m1[1] - self.m0[1]
        out["machine_busy_pct"] = round(100 * (total - idle) / total, 1) if total else None
        return out


def is_infra(label, infra):
    """Whether a pid label is infrastructure: named in `infra`, or a numbered one of them
    (`redis-3`, a node of a Redis Cluster)."""
    return label in infra or label.rstrip("0123456789").rstrip("-") in infra


def group_cpu(cpu, infra):
    """Sum CPU seconds/pct over non-infra pids (Parley) and over all pids (server)."""
    parley_s = server_s = 0.0
    for label, v in cpu["per_pid"].items():
        if v is None:
            continue
        server_s += v["cpu_s"]
        if not is_infra(label, infra):
            parley_s += v["cpu_s"]
    dt = cpu["window_s"]
    return {"parley_cpu_s": round(parley_s, 3), "parley_pct": round(100 * parley_s / dt, 1),
            "server_cpu_s": round(server_s, 3), "server_pct": round(100 * server_s / dt, 1)}


# ----------------------------------------------------------------------------- Redis

class RedisClient:
    """A minimal blocking RESP client for the few reads the scenarios make of the stack's Redis
    (counters, a stream's head). Loopback only, like every target."""

    def __init__(self, spec):
        host, port = parse_hostport(spec, 6379)
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")

    def command(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _reply(self):
        line = self.rfile.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(f"redis: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.rfile.read(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"redis: unexpected reply {line[:40]!r}")

    def hget_int(self, key, field):
        v = self.command("HGET", key, field)
        return int(v) if v is not None else None

    def close(self):
        self.rfile.close()
        self.sock.close()


def redis_counters(r):
    """total_commands_processed and the calls of each command (commands inside scripts included)."""
    out = {"total": 0, "per_command": {}}
    for line in r.command("INFO", "stats", "commandstats").splitlines():
        if line.startswith("total_commands_processed:"):
            out["total"] = int(line.split(":", 1)[1])
        elif line.startswith("cmdstat_"):
            name, _, rest = line[len("cmdstat_"):].partition(":")
            out["per_command"][name] = int(rest.split(",", 1)[0].split("=", 1)[1])
    return out


class RedisWindow:
    """Commands Redis processed between start() and stop(), without the window's own INFO."""

    SCRIPT_COMMANDS = ("evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro")

    def __init__(self, client):
        self.client = client

    def start(self):
        self.c0 = redis_counters(self.client) if self.client else None
        return self

    def stop(self):
        if self.c0 is None:
            return None
        c1 = redis_counters(self.client)
        per = {k: v - self.c0["per_command"].get(k, 0) for k, v in c1["per_command"].items()}
        per["info"] = per.get("info", 1) - 1
        per = {k: v for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v > 0}
        return {"commands": c1["total"] - self.c0["total"] - 1, "scripts": sum(per.get(k, 0) for k in self.SCRIPT_COMMANDS),
                "per_command": per}


def redis_costs(window, cpu, count, unit):
    """The Redis window with commands, script calls and Redis CPU µs per unit of work (msg, entry, page)."""
    out = dict(window or {})
    if not count:
        return out
    if window:
        out[f"commands_per_{unit}"] = round(window["commands"] / count, 2)
        out[f"scripts_per_{unit}"] = round(window["scripts"] / count, 2)
    nodes = [v for k, v in ((cpu or {}).get("per_pid") or {}).items() if v is not None and is_infra(k, {"redis"})]
    if nodes:
        out[f"cpu_us_per_{unit}"] = round(sum(v["cpu_s"] for v in nodes) * 1e6 / count, 1)
    return out


# ----------------------------------------------------------------------------- stats

def new_hist():
    from hdrh.histogram import HdrHistogram
    return HdrHistogram(1, 120_000_000, 3)  # microseconds, 1 us .. 120 s


def hist_ms(h):
    if h.get_total_count() == 0:
        return None
    q = lambda p: round(h.get_value_at_percentile(p) / 1000, 3)
    return {"n": h.get_total_count(), "p50": q(50), "p90": q(90), "p99": q(99), "p999": q(99.9),
            "max": round(h.get_max_value() / 1000, 3), "mean": round(h.get_mean_value() / 1000, 3)}


def fmt(v, nd=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def table(title, rows):
    w = max(len(k) for k, _ in rows) if rows else 0
    lines = [f"== {title}"] + [f"  {k.ljust(w)}  {v}" for k, v in rows]
    print("\n".join(lines), file=sys.stderr, flush=True)


def emit(args, rec):
    rec.setdefault("tool", "parley-bench")
    rec.setdefault("tool_version", TOOL_VERSION)
    rec.setdefault("label", args.label)
    rec.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    line = json.dumps(rec, separators=(",", ":"))
    print(line, flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")


def parse_pids(specs):
    pids = {}
    for s in specs or []:
        label, _, pid = s.partition("=")
        if not pid.isdigit():
            raise SystemExit(f"--pid wants LABEL=PID, got {s!r}")
        pids[label] = int(pid)
    return pids


# ----------------------------------------------------------------------------- HTTP login

class HttpConn:
    """A tiny HTTP/1.1 keep-alive client for POST /api/login (JSON in, JSON out)."""

    def __init__(self, host, port, src=None):
        self.host, self.port, self.src = host, port, src
        self.reader = self.writer = None

    async def _open(self):
        sock = make_socket(self.src)
        await asyncio.get_running_loop().sock_connect(sock, (self.host, self.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock)

    async def post_json(self, path, obj):
        body = json.dumps(obj).encode()
        req = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode() + body
        for attempt in (0, 1):
            try:
                if self.writer is None:
                    await self._open()
                self.writer.write(req)
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionError("closed")
                status = int(status_line.split()[1])
                length, chunked, close = 0, False, False
                while True:
                    line = await self.reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = line.decode("latin-1").partition(":")
                    k, v = k.strip().lower(), v.strip().lower()
                    if k == "content-length":
                        length = int(v)
                    elif k == "transfer-encoding" and "chunked" in v:
                        chunked = True
                    elif k == "connection" and v == "close":
                        close = True
                if chunked:
                    data = b""
                    while True:
                        n = int((await self.reader.readline()).strip(), 16)
                        if n == 0:
                            await self.reader.readline()
                            break
                        data += await self.reader.readexactly(n)
                        await self.reader.readline()
                else:
                    data = await self.reader.readexactly(length)
                if close:
                    self.close()
                if status != 200:
                    raise RuntimeError(f"login HTTP {status}: {data[:200]!r}")
                return json.loads(data)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                self.close()
                if attempt:
                    raise

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class HttpPool:
    def __init__(self, host, port, size, srcs):
        self.free = asyncio.Queue()
        for i in range(size):
            self.free.put_nowait(HttpConn(host, port, srcs[i % len(srcs)] if srcs else None))
        self.all = list(self.free._queue)

    async def post_json(self, path, obj):
        c = await self.free.get()
        try:
            return await c.post_json(path, obj)
        finally:
            self.free.put_nowait(c)

    def close(self):
        for c in self.all:
            c.close()


def make_socket(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if src:
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((src, 0))
    return s


# ----------------------------------------------------------------------------- protocols

def _picows():
    from picows import WSListener, WSMsgType, ws_connect
    return WSListener, WSMsgType, ws_connect


WSListener, WSMsgType, ws_connect = _picows()


class Conn(WSListener):
    """One client connection. `ready` resolves when the protocol says the session is usable."""

    def __init__(self, proto, user, index=-1, device=None):
        self.proto, self.user, self.index, self.device = proto, user, index, device
        self.transport = None
        self.ready = asyncio.get_running_loop().create_future()
        self.alive = False
        self.handler = None          # pairs: the rig's callbacks

    def on_ws_connected(self, transport):
        self.transport = transport
        self.alive = True

    def on_ws_disconnected(self, transport):
        was = self.alive
        self.alive = False
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before ready"))
        if was and self.handler is not None:
            self.handler.on_disconnect(self)

    def on_ws_frame(self, transport, frame):
        t = frame.msg_type
        if t == WSMsgType.TEXT:
            self.on_text(frame.get_payload_as_utf8_text())
        elif t == WSMsgType.CLOSE:
            transport.disconnect()

    def send_text(self, s):
        self.transport.send(WSMsgType.TEXT, s.encode() if isinstance(s, str) else s)

    def close(self):
        if self.transport is not None and self.alive:
            self.transport.disconnect()


class ParleyConn(Conn):
    """A Parley session. v1 (no device): ready at `welcome`, acks by message id. v2 (a device): ready at
    `synced`, acks the highest `seq` seen; its own messages come back as entries (`on_own_copy`)."""

    def __init__(self, proto, user, index=-1, device=None):
        super().__init__(proto, user, index, device)
        self.pending_acks = []       # v1: message ids not acked yet
        self.seen_seq = self.acked_seq = 0   # v2

    def on_text(self, s):
        m = json.loads(s)
        t = m.get("type")
        if t == "message":
            self.seen_seq = max(self.seen_seq, m.get("seq") or 0)
            if self.handler is None:
                return
            if self.device is not None and m.get("from") == self.user:
                self.handler.on_own_copy(self, m.get("body"))
            else:
                self.handler.on_message(self, m.get("from"), m.get("to"), m.get("body"), m.get("msg"))
        elif t == "sent":
            if self.handler is not None:
                self.handler.on_sent(self, m.get("id"))
        elif t == "receipt":
            self.seen_seq = max(self.seen_seq, m.get("seq") or 0)
            if self.handler is not None:
                self.handler.receipts += 1
        elif t == "welcome":
            if self.device is None and not self.ready.done():
                self.ready.set_result(True)
        elif t == "synced":
            self.seen_seq = self.acked_seq = max(self.seen_seq, m.get("seq") or 0)
            if not self.ready.done():
                self.ready.set_result(True)
        elif t == "error":
            if self.handler is not None:
                self.handler.on_error(self, m.get("code"), m.get("id"))
            elif not self.ready.done():
                self.ready.set_exception(RuntimeError(f"error before ready: {m.get('code')}"))

    def send_dm(self, to, body, cid):
        self.send_text('{"type":"send","id":"%s","to":"%s","body":"%s"}' % (cid, to, body))

    def queue_ack(self, msg):
        if self.device is None:
            self.pending_acks.append(msg)

    def has_pending_acks(self):
        return self.seen_seq > self.acked_seq if self.device is not None else bool(self.pending_acks)

    def flush_acks(self):
        """Sends the pending ack (v1: the message ids, v2: the highest seq seen); True if it sent a frame."""
        sent = self.alive and self.has_pending_acks()
        if sent and self.device is not None:
            self.send_text('{"type":"ack","seq":%d}' % self.seen_seq)
            self.acked_seq = self.seen_seq
        elif sent:
            self.send_text('{"type":"ack","msgs":["%s"]}' % '","'.join(self.pending_acks))
        self.pending_acks = []
        return sent


class SocketIOConn(Conn):
    def on_text(self, s):
        if s.startswith("42"):
            ev = json.loads(s[2:])
            if ev and ev[0] == "message" and self.handler is not None:
                d = ev[1]
                self.handler.on_message(self, d.get("from"), d.get("to"), d.get("body"), None)
        elif s == "2":
            self.send_text("3")
        elif s.startswith("0"):
            self.send_text("40")
        elif s.startswith("40"):
            if not self.ready.done():
                self.ready.set_result(True)
        elif s.startswith("44"):
            if not self.ready.done():
                self.ready.set_exception(RuntimeError("socket.io connect refused: " + s[:100]))

    def send_dm(self, to, body, cid):
        self.send_text('42["send",{"to":"%s","body":"%s"}]' % (to, body))

    def queue_ack(self, msg):
        pass

    def flush_acks(self):
        return False


class Protocol:
    """How to log in and connect for one protocol; holds per-URL login pools."""

    def __init__(self, name, urls, srcs, pool_size):
        self.name = name
        self.urls = [parse_url(u) for u in urls]
        self.srcs = srcs
        self.pool_size = pool_size
        self.pools = {}
        self.conn_class = ParleyConn if name == "parley" else SocketIOConn

    def pool(self, i):
        if i not in self.pools:
            h, p = self.urls[i]
            self.pools[i] = HttpPool(h, p, self.pool_size, self.srcs)
        return self.pools[i]

    async def connect(self, url_index, user, src=None, index=-1, timeout=30.0, read_buffer=4096, device=None,
                      conn_class=None, query=None):
        """A ready session of user; `device` makes it a v2 session of that device (Parley), `query` adds
        connect parameters (since, epoch)."""
        h, p = self.urls[url_index]
        if self.name == "parley":
            tok = (await self.pool(url_index).post_json("/api/login", {"user": user}))["token"]
            params = {"device": device, **(query or {})}
            url = f"ws://{h}:{p}/ws?token={tok}" + "".join(f"&{k}={v}" for k, v in params.items() if v is not None)
        else:
            url = f"ws://{h}:{p}/socket.io/?EIO=4&transport=websocket&user={user}"

        def factory(_parsed, src=src):
            return make_socket(src) if src else None

        cls = conn_class or self.conn_class
        _, conn = await asyncio.wait_for(
            ws_connect(lambda: cls(self, user, index, device), url, socket_factory=factory,
                       read_buffer_init_size=read_buffer, websocket_handshake_timeout=timeout),
            timeout)
        await asyncio.wait_for(conn.ready, timeout)
        return conn

    def close(self):
        for p in self.pools.values():
            p.close()
        self.pools = {}


def run_nonce():
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))


def src_ips(n):
    # 127.0.0.1 is where the servers listen; sources start at .2
    return [f"127.0.0.{2 + i}" for i in range(n)]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ----------------------------------------------------------------------------- conns

async def open_many(proto, jobs, concurrency, timeout):
    """jobs: [(url_index, user, src)] -> (conns, failures{reason: n}, connect latency hist)"""
    sem = asyncio.Semaphore(concurrency)
    conns, failures, hist = [], {}, new_hist()

    async def one(job):
        ui, user, src = job
        async with sem:
            t = time.monotonic()
            try:
                c = await proto.connect(ui, user, src, timeout=timeout, read_buffer=1024)
            except Exception as e:  # noqa: BLE001 - every failure is counted by kind
                reason = type(e).__name__
                failures[reason] = failures.get(reason, 0) + 1
                return
            hist.record_value(max(1, int((time.monotonic() - t) * 1e6)))
            conns.append((ui, c))

    await asyncio.gather(*(one(j) for j in jobs))
    return conns, failures, hist


async def conns_worker(args):
    """A generator process of `conns`: connects its share, reports, holds until told to stop."""
    raise_nofile()
    spec = json.loads(args.spec)
    srcs = spec["srcs"]
    proto = Protocol(spec["protocol"], spec["urls"], srcs, spec["pool"])
    jobs = [(i % len(spec["urls"]), f"{spec['prefix']}{i}", srcs[i % len(srcs)])
            for i in range(spec["first"], spec["first"] + spec["count"])]
    t0 = time.time()
    c0 = self_cpu_s()[0]
    conns, failures, hist = await open_many(proto, jobs, spec["concurrency"], spec["timeout"])
    t1 = time.time()
    proto.close()
    per_url = [0] * len(spec["urls"])
    for ui, _ in conns:
        per_url[ui] += 1
    rep = {"event": "connected", "ok": len(conns), "failures": failures, "t0": t0, "t1": t1,
           "per_url": per_url, "cpu_s": self_cpu_s()[0] - c0, "hist": hist.encode().decode()}
    print(json.dumps(rep), flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    alive = sum(1 for _, c in conns if c.alive)
    print(json.dumps({"event": "end", "alive": alive, "cmd": line.strip()}), flush=True)
    for _, c in conns:
        c.close()
    await asyncio.sleep(0.5)


def rss_all(pids):
    return {label: read_rss_kb(pid) for label, pid in pids.items()}


async def scen_conns(args):
    pids = parse_pids(args.pid)
    n = args.n
    procs = args.procs or max(1 if n < 2000 else 2, math.ceil(n / MAX_CONNS_PER_PROC))
    if math.ceil(n / procs) > MAX_CONNS_PER_PROC + 4000:
        raise SystemExit(f"{n} connections need more than {procs} generator processes (fd limit)")
    nsrc = args.src_ips or max(1, math.ceil(n / 20000))
    srcs = src_ips(nsrc)
    urls = args.url
    edge_labels = args.edge_label or [l for l in pids if l.startswith("ws-edge")][:len(urls)]
    prefix = f"c{run_nonce()}_"

    rss_before = rss_all(pids)
    share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    workers, first = [], 0
    cpu = CpuWindow(pids).start()
    for i in range(procs):
        spec = {"protocol": args.protocol, "urls": urls, "srcs": srcs, "first": first, "count": share[i],
                "prefix": prefix, "concurrency": max(1, args.concurrency // procs), "pool": args.login_pool,
                "timeout": args.timeout}
        first += share[i]
        workers.append(await asyncio.create_subprocess_exec(
            sys.executable, os.path.abspath(__file__), "_conns-worker", "--spec", json.dumps(spec),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE))
    reps = []
    deadline = time.monotonic() + args.max_time
    for w in workers:
        line = await asyncio.wait_for(w.stdout.readline(), max(1, deadline - time.monotonic()))
        if not line:
            raise SystemExit("a generator worker died while connecting")
        reps.append(json.loads(line))
    connect_cpu = cpu.stop()
    ok = sum(r["ok"] for r in reps)
    failures = {}
    for r in reps:
        for k, v in r["failures"].items():
            failures[k] = failures.get(k, 0) + v
    per_url = [sum(r["per_url"][i] for r in reps) for i in range(len(urls))]
    t0, t1 = min(r["t0"] for r in reps), max(r["t1"] for r in reps)
    hist = new_hist()
    for r in reps:
        hist.decode_and_add(r["hist"].encode())
    await asyncio.sleep(args.settle)
    rss_after = rss_all(pids)
    await asyncio.sleep(args.hold)
    rss_end = rss_all(pids)
    alive = 0
    for w in workers:
        w.stdin.write(b"stop\n")
        await w.stdin.drain()
    for w in workers:
        line = await asyncio.wait_for(w.stdout.readline(), 60)
        alive += json.loads(line)["alive"] if line else 0
    for w in workers:
        await w.wait()

    def per_conn(before, after, count):
        if before is None or after is None or not count:
            return None
        return round((after - before) / count, 2)

    per_pid = {}
    for label in pids:
        per_pid[label] = {"before_kb": rss_before[label], "after_kb": rss_after[label], "end_kb": rss_end[label]}
    edges = {}
    for i, label in enumerate(edge_labels):
        if label in pids:
            edges[label] = {"sessions": per_url[i], "kb_per_conn": per_conn(rss_before[label], rss_after[label], per_url[i]),
                            "kb_per_conn_end": per_conn(rss_before[label], rss_end[label], per_url[i])}
    tot = lambda d, keys: sum(d[k] for k in keys if d.get(k) is not None)
    all_labels = list(pids)
    parley_labels = [l for l in pids if not is_infra(l, args.infra)]
    rec = {
        "scenario": "conns", "protocol": args.protocol, "n": n, "connected": ok, "failed": n - ok,
        "failures": failures, "alive_end": alive, "generator_procs": procs, "src_ips": nsrc,
        "concurrency": args.concurrency, "connect_s": round(t1 - t0, 3),
        "connect_rate": round(ok / (t1 - t0), 1) if t1 > t0 else None, "connect_ms": hist_ms(hist),
        "edges": edges,
        "kb_per_conn_all": per_conn(tot(rss_before, all_labels), tot(rss_after, all_labels), ok),
        "kb_per_conn_parley": per_conn(tot(rss_before, parley_labels), tot(rss_after, parley_labels), ok),
        "rss_per_pid": per_pid,
        "connect_cpu": {"window_s": connect_cpu["window_s"], "per_pid": connect_cpu["per_pid"],
                        "generator_workers_cpu_s": round(sum(r["cpu_s"] for r in reps), 2),
                        "machine_busy_pct": connect_cpu["machine_busy_pct"]},
        "settle_s": args.settle, "hold_s": args.hold,
    }
    rows = [("connected / failed", f"{ok} / {n - ok}  {failures or ''}"), ("alive after hold", alive),
            ("generator procs / src IPs", f"{procs} / {nsrc}"),
            ("connect rate /s", fmt(rec["connect_rate"], 0)),
            ("connect ms p50/p99/max", "/".join(fmt(rec["connect_ms"][k]) for k in ("p50", "p99", "max")) if rec["connect_ms"] else "-")]
    for label, e in edges.items():
        rows.append((f"{label} sessions, KB/conn (end)", f"{e['sessions']}, {fmt(e['kb_per_conn'])} ({fmt(e['kb_per_conn_end'])})"))
    rows.append(("KB/conn all pids / Parley only", f"{fmt(rec['kb_per_conn_all'])} / {fmt(rec['kb_per_conn_parley'])}"))
    for label in pids:
        rows.append((f"RSS {label} KB before/after/end", f"{rss_before[label]} / {rss_after[label]} / {rss_end[label]}"))
    table(f"conns N={n} ({args.protocol})", rows)
    emit(args, rec)


# ----------------------------------------------------------------------------- pairs

class PairsRig:
    def __init__(self, args, proto):
        self.args, self.proto = args, proto
        self.senders, self.receivers = [], []
        self.phase = None
        self.disconnected = 0
        self.receipts = 0
        self.acks_frames = 0
        self.stale = 0
        self.ack_task = None
        self.redis = RedisClient(args.redis) if args.redis else None

    async def open(self):
        a = self.args
        n_urls = len(self.proto.urls)
        prefix = f"p{run_nonce()}_"
        srcs = src_ips(a.src_ips or 1)
        self.proto.srcs = srcs
        self.names_s = [f"{prefix}s{i}" for i in range(a.P)]
        self.names_r = [f"{prefix}r{i}" for i in range(a.P)]
        # receivers first, so nothing is sent to a user who is not connected yet
        rj = [((i + 1) % n_urls, self.names_r[i], srcs[i % len(srcs)]) for i in range(a.P)]
        sj = [(i % n_urls, self.names_s[i], srcs[i % len(srcs)]) for i in range(a.P)]
        # v2: a fresh device per connection (no cursor: it starts at the head)
        self.devices = f"d{run_nonce()}" if a.v2 else None
        self.receivers = await self._open(rj)
        self.senders = await self._open(sj)
        self.proto.close()
        for c in self.senders + self.receivers:
            c.handler = self
        if a.ack_interval_ms > 0:
            self.ack_task = asyncio.get_running_loop().create_task(self._ack_loop())

    async def _open(self, jobs):
        sem = asyncio.Semaphore(50)

        async def one(i, job):
            device = f"{self.devices}{job[1]}" if self.devices else None
            async with sem:
                return await self.proto.connect(job[0], job[1], job[2], index=i, read_buffer=16384, device=device)
        return await asyncio.gather(*(one(i, j) for i, j in enumerate(jobs)))

    async def _ack_loop(self):
        iv = self.args.ack_interval_ms / 1000
        while True:
            await asyncio.sleep(iv)
            for c in self.receivers:
                if c.flush_acks():
                    self.acks_frames += 1

    def close(self):
        if self.ack_task:
            self.ack_task.cancel()
        for c in self.senders + self.receivers:
            c.close()
        if self.redis:
            self.redis.close()

    # -- callbacks
    def on_disconnect(self, conn):
        self.disconnected += 1

    def on_error(self, conn, code, cid=None):
        ph = self.phase
        if ph is not None:
            ph["errors"][code] = ph["errors"].get(code, 0) + 1

    def on_sent(self, conn, cid):
        ph = self.phase
        if ph is None or not cid or cid[0] != ph["tag"]:
            return
        seq = int(cid[1:])
        if seq < len(ph["send_us"]) and not ph["sent_acked"][seq]:
            ph["sent_acked"][seq] = 1
            ph["n_sent_acked"] += 1
            ph["sent_hist"].record_value(max(1, time.monotonic_ns() // 1000 - ph["send_us"][seq]))

    def on_own_copy(self, conn, body):
        """A v2 sender's own message, back as an entry of its stream: counted, not a delivery."""
        ph = self.phase
        if ph is not None and body and body.startswith(ph["tag"] + "|"):
            ph["own_copies"] += 1

    def on_message(self, conn, frm, to, body, msg):
        now = time.monotonic_ns() // 1000
        if msg is not None:
            conn.queue_ack(msg)
            if self.args.ack_interval_ms <= 0 and conn.flush_acks():
                self.acks_frames += 1
        ph = self.phase
        try:
            tag, seq, _ = body.split("|", 2)
            seq = int(seq)
        except (AttributeError, ValueError):
            if ph:
                ph["bad"] += 1
            return
        if ph is None or tag != ph["tag"]:
            self.stale += 1
            return
        if conn.index != seq % self.args.P or to != conn.user or frm != self.names_s[seq % self.args.P]:
            ph["misrouted"] += 1
            return
        if ph["delivered"][seq]:
            ph["dups"] += 1
            return
        ph["delivered"][seq] = 1
        ph["n_delivered"] += 1
        if now <= ph["deadline_us"]:
            ph["n_in_time"] += 1
            ph["hist"].record_value(max(1, now - ph["send_us"][seq]))
        else:
            ph["n_late"] += 1
        ph["last_arrival"] = time.monotonic()

    async def run_phase(self, tag, rate, duration, drain, pids, measure=True):
        a = self.args
        total = int(round(rate * duration))
        pad = max(0, a.body_size - 24)
        padding = "x" * pad
        ph = {"tag": tag, "send_us": [], "sent_acked": bytearray(total), "n_sent_acked": 0,
              "delivered": bytearray(total), "n_delivered": 0, "n_in_time": 0, "n_late": 0, "dups": 0,
              "misrouted": 0, "bad": 0, "errors": {}, "hist": new_hist(), "sent_hist": new_hist(), "own_copies": 0,
              "deadline_us": 1 << 62, "last_arrival": time.monotonic()}
        self.stale = 0
        self.acks_frames = 0
        self.receipts = 0
        disc0 = self.disconnected
        lag = new_hist()
        self.phase = ph
        P = a.P
        names_r = self.names_r
        senders = self.senders
        send_us = ph["send_us"]
        tick = a.tick_ms / 1000
        cpu = CpuWindow(pids).start() if measure else None
        redis = RedisWindow(self.redis).start() if measure else None
        t0 = time.monotonic()
        t0_us = int(t0 * 1e6)
        k = 0
        while k < total:
            now = time.monotonic()
            due = min(total, int((now - t0) * rate) + 1)
            while k < due:
                i = k % P
                t_us = time.monotonic_ns() // 1000
                if (k & 15) == 0:
                    lag.record_value(max(1, t_us - (t0_us + int(k * 1e6 / rate))))
                send_us.append(t_us)
                s = senders[i]
                if s.alive:
                    s.send_dm(names_r[i], f"{tag}|{k}|{t_us}|{padding}", f"{tag}{k}")
                k += 1
            await asyncio.sleep(tick)
        t_send_end = time.monotonic()
        cpu_send = cpu.stop() if measure else None
        redis_send = redis.stop() if measure else None
        ph["deadline_us"] = int((t_send_end + drain) * 1e6)
        while time.monotonic() < t_send_end + drain and ph["n_delivered"] < total:
            await asyncio.sleep(0.02)
        in_time = ph["n_in_time"]
        # keep listening for late arrivals until 1 s of quiet (bounded by quiet_max)
        qend = time.monotonic() + a.quiet_max
        while ph["n_delivered"] < total and time.monotonic() < qend and time.monotonic() - ph["last_arrival"] < 1.0:
            await asyncio.sleep(0.05)
        if not measure:
            return None
        achieved = total / (t_send_end - t0) if t_send_end > t0 else 0
        g = group_cpu(cpu_send, a.infra)
        rec = {
            "mode": "v2" if a.v2 else "v1",
            "rate": rate, "duration_s": duration, "pairs": P, "body_size": a.body_size,
            "ack_interval_ms": a.ack_interval_ms, "sent": total, "achieved_send_rate": round(achieved, 1),
            "generator_bound": achieved < 0.95 * rate, "send_lag_ms": hist_ms(lag),
            "sent_acked": ph["n_sent_acked"], "sent_ack_ms": hist_ms(ph["sent_hist"]),
            "delivered": in_time, "lost": total - in_time, "lost_late": ph["n_late"],
            "lost_never": total - ph["n_delivered"], "dups": ph["dups"], "misrouted": ph["misrouted"],
            # which messages never arrived (up to 20), to trace them in the logs and the inbox
            "lost_never_ids": [f"{ph['tag']}|{k}|to={self.names_r[k % P]}" for k in range(total) if not ph["delivered"][k]][:20],
            "stale": self.stale, "bad": ph["bad"], "errors": ph["errors"],
            "disconnected": self.disconnected - disc0, "ack_frames": self.acks_frames, "receipts": self.receipts,
            "own_copies": ph["own_copies"],
            "latency_ms": hist_ms(ph["hist"]), "drain_s": drain, "redis": redis_costs(redis_send, cpu_send, total, "msg"),
            "cpu": {**cpu_send, **g,
                    "parley_us_per_msg": round(g["parley_cpu_s"] * 1e6 / total, 1) if total else None,
                    "server_us_per_msg": round(g["server_cpu_s"] * 1e6 / total, 1) if total else None,
                    "generator_us_per_msg": round(cpu_send["generator"]["cpu_s"] * 1e6 / total, 1) if total else None},
        }
        self.phase = None
        return rec


def pairs_rows(r):
    lat = r["latency_ms"] or {}
    c = r["cpu"]
    rows = [("rate target / achieved", f"{r['rate']} / {r['achieved_send_rate']}" + ("  GENERATOR-BOUND" if r["generator_bound"] else "")),
            ("sent / sent-acked / delivered", f"{r['sent']} / {r['sent_acked']} / {r['delivered']}"),
            ("lost (late / never) / dups", f"{r['lost']} ({r['lost_late']} / {r['lost_never']}) / {r['dups']}"),
            ("misrouted / stale / bad / disconnected", f"{r['misrouted']} / {r['stale']} / {r['bad']} / {r['disconnected']}"),
            ("own copies (v2 senders) / receipts / ack frames", f"{r['own_copies']} / {r['receipts']} / {r['ack_frames']}"),
            ("errors", r["errors"] or "-"),
            ("latency ms p50/p90/p99/p99.9/max", "/".join(fmt(lat.get(k)) for k in ("p50", "p90", "p99", "p999", "max"))),
            ("sent-ack ms p50/p99", "/".join(fmt((r["sent_ack_ms"] or {}).get(k)) for k in ("p50", "p99"))),
            ("send lag ms p99", fmt((r["send_lag_ms"] or {}).get("p99")))]
    for label, v in c["per_pid"].items():
        rows.append((f"cpu {label} %", fmt(v["pct"], 1) if v else "-"))
    rows += [("cpu Parley / all servers %", f"{c['parley_pct']} / {c['server_pct']}"),
             ("cpu generator %", c["generator"]["pct"]), ("machine busy %", c["machine_busy_pct"]),
             ("Parley CPU us per msg", c["parley_us_per_msg"]), ("all servers CPU us per msg", c["server_us_per_msg"])]
    return rows + redis_rows(r["redis"], "msg")


def redis_rows(redis, unit):
    if not redis:
        return []
    return [(f"redis commands / scripts per {unit}", f"{fmt(redis.get(f'commands_per_{unit}'))} / {fmt(redis.get(f'scripts_per_{unit}'))}"),
            (f"redis CPU us per {unit}", fmt(redis.get(f"cpu_us_per_{unit}"), 1)),
            ("redis top commands", ", ".join(f"{k} {v}" for k, v in list(redis.get("per_command", {}).items())[:6]) or "-")]


async def idle_cpu(pids, infra, seconds):
    if seconds <= 0:
        return None
    w = CpuWindow(pids).start()
    await asyncio.sleep(seconds)
    c = w.stop()
    return {"window_s": c["window_s"], "per_pid_pct": {k: (v["pct"] if v else None) for k, v in c["per_pid"].items()},
            **group_cpu(c, infra)}


async def scen_pairs(args):
    pids = parse_pids(args.pid)
    proto = Protocol(args.protocol, args.url, None, 4)
    rig = PairsRig(args, proto)
    await rig.open()
    try:
        idle = await idle_cpu(pids, args.infra, args.idle)
        await rig.run_phase("w", args.R, args.warmup, 2.0, pids, measure=False)
        r = await rig.run_phase("m", args.R, args.D, args.drain, pids)
    finally:
        rig.close()
    r.update({"scenario": "pairs", "protocol": args.protocol, "urls": args.url, "idle_cpu": idle})
    table(f"pairs P={args.P} R={args.R} D={args.D}s ({args.protocol}{', v2 devices' if args.v2 else ''})", pairs_rows(r))
    emit(args, r)


async def scen_ramp(args):
    pids = parse_pids(args.pid)
    proto = Protocol(args.protocol, args.url, None, 4)
    rig = PairsRig(args, proto)
    await rig.open()
    steps = []
    phase_no = [0]
    tags = "abcdefghijklnopqrstuvxyz"  # no 'm' (measured pairs) or 'w' (warmup)

    def ok(r):
        return (r["lost"] == 0 and r["latency_ms"] is not None and r["latency_ms"]["p99"] <= args.p99_limit_ms
                and not r["generator_bound"] and r["disconnected"] == 0)

    def why(r):
        if r["generator_bound"]:
            return "generator-bound"
        if r["lost"]:
            return f"lost {r['lost']}"
        if r["disconnected"]:
            return f"disconnected {r['disconnected']}"
        return f"p99 {r['latency_ms']['p99'] if r['latency_ms'] else '-'} ms"

    async def step(rate):
        tag = tags[phase_no[0] % len(tags)]
        phase_no[0] += 1
        await rig.run_phase(tag, rate, min(2.0, args.D / 4), 2.0, pids, measure=False)
        tag = tags[phase_no[0] % len(tags)]
        phase_no[0] += 1
        r = await rig.run_phase(tag, rate, args.D, args.drain, pids)
        r["pass"] = ok(r)
        r["why"] = "ok" if r["pass"] else why(r)
        steps.append(r)
        lat = r["latency_ms"] or {}
        print(f"  ramp step {rate:>8.0f} msg/s: {'PASS' if r['pass'] else 'FAIL'} ({r['why']}) "
              f"p50 {fmt(lat.get('p50'))} p99 {fmt(lat.get('p99'))} ms, lost {r['lost']}, "
              f"Parley cpu {r['cpu']['parley_pct']}% tansu {fmt((r['cpu']['per_pid'].get('tansu') or {}).get('pct'), 1)}% "
              f"gen {r['cpu']['generator']['pct']}%", file=sys.stderr, flush=True)
        emit(args, {"scenario": "ramp-step", "protocol": args.protocol, **r})
        return r

    t_start = time.monotonic()
    best, first_fail, stop_reason = None, None, None
    try:
        rate = args.start_rate
        while True:
            if time.monotonic() - t_start > args.max_time:
                stop_reason = "max-time"
                break
            r = await step(rate)
            if r["pass"]:
                best = rate
                if rate >= args.max_rate:
                    stop_reason = "max-rate"
                    break
                rate = min(args.max_rate, rate * args.factor)
            else:
                first_fail = rate
                stop_reason = r["why"]
                break
        if best is None and first_fail is not None:
            # the first step failed: halve until something passes
            rate = first_fail / 2
            while rate >= 100 and time.monotonic() - t_start < args.max_time:
                r = await step(rate)
                if r["pass"]:
                    best = rate
                    break
                first_fail = rate
                rate /= 2
        if best is not None and first_fail is not None:
            lo, hi = best, first_fail
            for _ in range(args.refine):
                if time.monotonic() - t_start > args.max_time:
                    break
                mid = round((lo + hi) / 2)
                r = await step(mid)
                if r["pass"]:
                    lo = mid
                else:
                    hi = mid
            best, first_fail = lo, hi
    finally:
        rig.close()
    brief = [{"rate": s["rate"], "pass": s["pass"], "why": s["why"], "p50": (s["latency_ms"] or {}).get("p50"),
              "p99": (s["latency_ms"] or {}).get("p99"), "lost": s["lost"], "parley_pct": s["cpu"]["parley_pct"],
              "server_pct": s["cpu"]["server_pct"], "parley_us_per_msg": s["cpu"]["parley_us_per_msg"],
              "per_pid_pct": {k: (v["pct"] if v else None) for k, v in s["cpu"]["per_pid"].items()},
              "generator_pct": s["cpu"]["generator"]["pct"], "machine_busy_pct": s["cpu"]["machine_busy_pct"]}
             for s in steps]
    rec = {"scenario": "ramp", "protocol": args.protocol, "pairs": args.P, "step_s": args.D,
           "p99_limit_ms": args.p99_limit_ms, "max_sustainable_rate": best, "first_failing_rate": first_fail,
           "stop_reason": stop_reason, "steps": brief}
    table(f"ramp P={args.P} ({args.protocol})", [("max sustainable msg/s", best), ("first failing msg/s", first_fail),
                                                 ("stop reason", stop_reason)])
    emit(args, rec)


# ----------------------------------------------------------------------------- v2: sync and history

class FillRig:
    """Sends n messages through the front door: v1 sessions (no own copies) of the given senders, each
    at most `rate` sends a second (under the edge's --send-rate, like a real client) and `window`
    unanswered; a send answered with an error is sent again with the same id (relay drops retries)."""

    def __init__(self, proto, body_size):
        self.proto = proto
        self.padding = "x" * max(0, body_size - 12)
        self.acked = self.disconnected = self.receipts = 0
        self.errors = {}

    def on_sent(self, conn, cid):
        if cid in conn.inflight:
            conn.inflight.discard(cid)
            self.acked += 1

    def on_error(self, conn, code, cid=None):
        self.errors[code] = self.errors.get(code, 0) + 1
        if cid in conn.inflight:
            conn.inflight.discard(cid)
            conn.retry.append(cid)

    def on_message(self, conn, frm, to, body, msg):
        pass

    def on_disconnect(self, conn):
        self.disconnected += 1

    async def run(self, senders, to, n, rate, window, timeout):
        """senders: [(url index, user)], one session each; n messages to `to`, split evenly."""
        sem = asyncio.Semaphore(50)

        async def one(ui, user):
            async with sem:
                return await self.proto.connect(ui, user, read_buffer=16384)
        conns = await asyncio.gather(*(one(ui, user) for ui, user in senders))
        for c in conns:
            c.handler, c.inflight, c.retry = self, set(), []
        t0 = time.monotonic()
        first, tasks = 0, []
        for i, c in enumerate(conns):
            share = n // len(conns) + (1 if i < n % len(conns) else 0)
            tasks.append(self._send(c, to, [f"f{k}" for k in range(first, first + share)], rate, window, t0 + timeout))
            first += share
        await asyncio.gather(*tasks)
        dt = time.monotonic() - t0
        for c in conns:
            c.close()
        return {"messages": n, "acked": self.acked, "senders": len(conns), "rate_per_sender": rate, "window": window,
                "s": round(dt, 3), "rate": round(self.acked / dt, 1) if dt > 0 else None, "errors": self.errors,
                "disconnected": self.disconnected}

    async def _send(self, conn, to, ids, rate, window, deadline):
        todo = collections.deque(ids)
        gap = 1 / rate
        next_t = time.monotonic()
        while (todo or conn.inflight or conn.retry) and conn.alive and time.monotonic() < deadline:
            todo.extend(conn.retry)
            conn.retry.clear()
            now = time.monotonic()
            if todo and len(conn.inflight) < window and now >= next_t:
                cid = todo.popleft()
                conn.inflight.add(cid)
                conn.send_dm(to, f"{cid}|{self.padding}", cid)
                next_t = max(next_t, now - gap) + gap  # paced: no catch-up burst after a full window
            else:
                await asyncio.sleep(max(0.002, min(gap, next_t - now)))


async def wait_redis_count(redis, key, field, n, timeout):
    """Seconds until the integer at HGET key field reaches n, or None after timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if (redis.hget_int(key, field) or 0) >= n:
            return round(time.monotonic() - t0, 3)
        await asyncio.sleep(0.2)
    return None


class DrainConn(Conn):
    """A v2 device replaying its stream of `expect` entries: counts each entry once by seq, every
    break of seq order, acks the highest seq seen (ack_loop), times welcome, first entry, `synced`."""

    def __init__(self, proto, user, index=-1, device=None, expect=0):
        super().__init__(proto, user, index, device)
        self.seen = bytearray(expect + 1)
        self.count = self.last = self.acked = self.breaks = self.beyond = self.acks = 0
        self.kinds, self.errors = {}, {}
        self.t_welcome = self.t_first = None
        self.synced = asyncio.get_running_loop().create_future()

    def on_text(self, s):
        m = json.loads(s)
        t = m.get("type")
        if t == "synced":
            if not self.synced.done():
                self.synced.set_result((time.monotonic(), m))
        elif "seq" in m:
            if self.t_first is None:
                self.t_first = time.monotonic()
            seq = m["seq"]
            self.count += 1
            self.kinds[t] = self.kinds.get(t, 0) + 1
            if seq != self.last + 1:
                self.breaks += 1
            self.last = seq
            if 0 < seq < len(self.seen):
                self.seen[seq] = 1
            else:
                self.beyond += 1
        elif t == "welcome":
            self.t_welcome = time.monotonic()
            if not self.ready.done():
                self.ready.set_result(True)
        elif t == "error":
            self.errors[m.get("code")] = self.errors.get(m.get("code"), 0) + 1

    def on_ws_disconnected(self, transport):
        super().on_ws_disconnected(transport)
        if not self.synced.done():
            self.synced.set_exception(ConnectionError("closed before synced"))

    def flush_ack(self):
        high = max(self.last, self.acked)
        if self.alive and high > self.acked:
            self.send_text('{"type":"ack","seq":%d}' % high)
            self.acked = high
            self.acks += 1

    async def ack_loop(self, interval):
        while True:
            await asyncio.sleep(interval)
            self.flush_ack()


class RssPeak:
    """VmRSS of the given pids at start() and its peak until stop(), sampled every `interval` s on a
    thread of its own (the event loop is busy with the frames meanwhile)."""

    def __init__(self, pids, interval=0.1):
        self.pids, self.interval = pids, interval

    def start(self):
        self.before = rss_all(self.pids)
        self.peak = dict(self.before)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self.done.wait(self.interval):
            self._sample()

    def _sample(self):
        for label, kb in rss_all(self.pids).items():
            if kb is not None and kb > (self.peak[label] or 0):
                self.peak[label] = kb

    def stop(self):
        self.done.set()
        self.thread.join()
        self._sample()
        return {label: {"before_kb": self.before[label], "peak_kb": self.peak[label],
                        "growth_kb": (self.peak[label] - self.before[label]) if self.before[label] is not None else None}
                for label in self.pids}


async def drain_stream(args, proto, pids, redis, user, n, epoch):
    """Connects a fresh device of `user` with since=0 and the stream's epoch and times its replay of n
    entries until `synced`, acking as pages arrive; RSS, CPU and Redis over the drain."""
    rss, cpu, rw = RssPeak(pids).start(), CpuWindow(pids).start(), RedisWindow(redis).start()
    t0 = time.monotonic()
    conn = await proto.connect(args.edge, user, device=f"sync{run_nonce()}", query={"since": 0, "epoch": epoch},
                               conn_class=functools.partial(DrainConn, expect=n), read_buffer=65536)
    acker = asyncio.get_running_loop().create_task(conn.ack_loop(args.ack_interval_ms / 1000))
    error, synced, t_synced = None, None, None
    try:
        t_synced, synced = await asyncio.wait_for(conn.synced, args.sync_timeout)
    except (asyncio.TimeoutError, ConnectionError) as e:
        error = f"{type(e).__name__}: no synced after {conn.count} entries"
    t_end = t_synced or time.monotonic()
    c, redis_used, mem = cpu.stop(), rw.stop(), rss.stop()
    acker.cancel()
    conn.flush_ack()
    conn.close()
    unique = sum(conn.seen)
    g = group_cpu(c, args.infra)
    since = lambda t: round(t - t0, 3) if t is not None else None
    return {
        "error": error, "synced": synced, "time_to_welcome_s": since(conn.t_welcome),
        "time_to_first_entry_s": since(conn.t_first), "time_to_synced_s": since(t_synced),
        "entries_per_s": round(unique / (t_end - t0), 1) if t_end > t0 else None,
        "received": conn.count, "unique": unique, "lost": n - unique, "dups": conn.count - unique - conn.beyond,
        "order_breaks": conn.breaks, "beyond_head": conn.beyond, "kinds": conn.kinds, "errors": conn.errors,
        "acks": conn.acks, "rss": mem, "redis": redis_costs(redis_used, c, n, "entry"),
        "cpu": {**c, **g, "parley_us_per_entry": round(g["parley_cpu_s"] * 1e6 / n, 1) if n else None},
    }


async def scen_sync(args):
    pids = parse_pids(args.pid)
    proto = Protocol("parley", args.url, None, 4)
    redis = RedisClient(args.redis)
    prefix = f"y{run_nonce()}_"
    target, n = f"{prefix}target", args.n
    senders = args.senders or max(1, math.ceil(args.fill_rate / args.sender_rate))
    fill_timeout = min(args.max_time / 2, 60 + 3 * n / (senders * args.sender_rate))
    try:
        fill = await FillRig(proto, args.body_size).run([(i % len(proto.urls), f"{prefix}f{i}") for i in range(senders)],
                                                         target, n, args.sender_rate, args.window, fill_timeout)
        meta = f"user:{{{target}}}:meta"
        stored_s = await wait_redis_count(redis, meta, "h", n, args.store_timeout)
        head, epoch = redis.hget_int(meta, "h"), redis.command("HGET", meta, "e")
        rec = {"scenario": "sync", "n": n, "body_size": args.body_size, "fill": fill, "stored_s": stored_s,
               "head": head, "edge": f"ws-edge-{args.edge + 1}", "ack_interval_ms": args.ack_interval_ms}
        if stored_s is None:
            rec["error"] = f"the stream holds {head} of {n} entries after {args.store_timeout:g} s"
        else:
            rec.update(await drain_stream(args, proto, pids, redis, target, n, epoch))
    finally:
        proto.close()
        redis.close()
    table(f"sync N={n}", sync_rows(rec))
    emit(args, rec)


def sync_rows(r):
    f = r["fill"]
    rows = [("fill: senders x rate, s, msg/s", f"{f['senders']} x {f['rate_per_sender']}/s, {f['s']} s, {fmt(f['rate'], 0)}"),
            ("fill: acked / errors", f"{f['acked']} / {f['errors'] or '-'}"),
            ("stored after fill s / head", f"{fmt(r['stored_s'])} / {r['head']}")]
    if "received" not in r:
        return rows + [("error", r.get("error"))]
    c = r["cpu"]
    rows += [("error", r["error"] or "-"),
             ("time to welcome / first entry / synced s",
              " / ".join(fmt(r[k], 3) for k in ("time_to_welcome_s", "time_to_first_entry_s", "time_to_synced_s"))),
             ("entries/s", fmt(r["entries_per_s"], 0)),
             ("received / unique / lost / dups", f"{r['received']} / {r['unique']} / {r['lost']} / {r['dups']}"),
             ("seq order breaks / beyond head", f"{r['order_breaks']} / {r['beyond_head']}"),
             ("kinds / acks sent", f"{r['kinds']} / {r['acks']}")]
    for label, v in r["rss"].items():
        rows.append((f"RSS {label} KB before / peak", f"{v['before_kb']} / {v['peak_kb']}"))
    for label, v in c["per_pid"].items():
        rows.append((f"cpu {label} %", fmt(v["pct"], 1) if v else "-"))
    rows.append(("Parley CPU us per entry", c["parley_us_per_entry"]))
    return rows + redis_rows(r["redis"], "entry")


class HistoryConn(Conn):
    """A v2 device that asks `history` pages back to back, one at a time (the rig decides and checks)."""

    def __init__(self, proto, user, index=-1, device=None):
        super().__init__(proto, user, index, device)
        self.pending = None   # (before, send time ns)

    def on_text(self, s):
        m = json.loads(s)
        t = m.get("type")
        if t == "history":
            self.handler.on_page(self, m)
        elif t == "error" and self.handler is not None:
            self.handler.on_error(self, m.get("code"))
        elif t == "synced" and not self.ready.done():
            self.ready.set_result(True)


class HistoryRig:
    """C clients paging one conversation of `top` messages: random `before` within the log, `limit`
    per page; a page is right when it holds exactly the cseqs below `before`, oldest first."""

    def __init__(self, conv, top, limit):
        self.conv, self.top, self.limit = conv, top, limit
        self.hist = new_hist()
        self.pages = self.bad = self.disconnected = 0
        self.errors = {}
        self.stop_at = None
        self.idle = asyncio.Event()
        self.busy = 0

    def ask(self, conn):
        if time.monotonic() >= self.stop_at or not conn.alive:
            conn.pending = None
            self.busy -= 1
            if self.busy == 0:
                self.idle.set()
            return
        before = random.randint(2, self.top + 1)
        conn.pending = (before, time.monotonic_ns())
        conn.send_text('{"type":"history","conv":"%s","before":%d,"limit":%d}' % (self.conv, before, self.limit))

    def on_page(self, conn, m):
        if conn.pending is None:
            return
        before, t = conn.pending
        self.hist.record_value(max(1, (time.monotonic_ns() - t) // 1000))
        if time.monotonic() < self.stop_at:
            self.pages += 1
        want = list(range(max(1, before - self.limit), before))
        if [x.get("cseq") for x in m.get("messages", [])] != want or bool(m.get("more")) != (want[0] > 1):
            self.bad += 1
        self.ask(conn)

    def on_error(self, conn, code):
        self.errors[code] = self.errors.get(code, 0) + 1
        if conn.pending is not None:
            self.ask(conn)

    def on_disconnect(self, conn):
        self.disconnected += 1
        if conn.pending is not None:
            self.ask(conn)

    async def run(self, conns, duration, grace):
        self.stop_at = time.monotonic() + duration
        self.busy = len(conns)
        for c in conns:
            c.handler = self
            self.ask(c)
        await asyncio.sleep(duration)
        try:
            await asyncio.wait_for(self.idle.wait(), grace)
        except asyncio.TimeoutError:
            pass


async def scen_history(args):
    pids = parse_pids(args.pid)
    proto = Protocol("parley", args.url, None, 4)
    redis = RedisClient(args.redis)
    prefix = f"h{run_nonce()}_"
    a, b = f"{prefix}a", f"{prefix}b"
    conv = "dm:" + ":".join(sorted([a, b]))
    urls = len(proto.urls)
    conns = []
    try:
        fill = await FillRig(proto, args.body_size).run([(i % urls, a) for i in range(args.fill_sessions)], b, args.M,
                                                         args.sender_rate, args.window, args.max_time / 3)
        stored_s = await wait_redis_count(redis, f"conv:{{{conv}}}:meta", "n", args.M, args.store_timeout)
        rec = {"scenario": "history", "messages": args.M, "clients": args.C, "limit": args.limit, "duration_s": args.D,
               "body_size": args.body_size, "conv_users": 2, "fill": fill, "stored_s": stored_s}
        if stored_s is None:
            rec["error"] = f"the conversation log holds {redis.hget_int(f'conv:{{{conv}}}:meta', 'n')} of {args.M} messages"
        else:
            device = f"hist{run_nonce()}"
            conns = await asyncio.gather(*(proto.connect(i % urls, (a, b)[i % 2], device=f"{device}{i}",
                                                         conn_class=HistoryConn) for i in range(args.C)))
            rig = HistoryRig(conv, args.M, args.limit)
            cpu, rw = CpuWindow(pids).start(), RedisWindow(redis).start()
            await rig.run(conns, args.D, 10.0)
            c, used = cpu.stop(), rw.stop()
            g = group_cpu(c, args.infra)
            rec.update({"pages": rig.pages, "pages_per_s": round(rig.pages / args.D, 1), "bad_pages": rig.bad,
                        "errors": rig.errors, "disconnected": rig.disconnected, "latency_ms": hist_ms(rig.hist),
                        "redis": redis_costs(used, c, rig.pages, "page"),
                        "cpu": {**c, **g, "parley_us_per_page": round(g["parley_cpu_s"] * 1e6 / rig.pages, 1) if rig.pages else None}})
    finally:
        for conn in conns:
            conn.close()
        proto.close()
        redis.close()
    table(f"history M={args.M} C={args.C} limit={args.limit} D={args.D}s", history_rows(rec))
    emit(args, rec)


def history_rows(r):
    f = r["fill"]
    rows = [("fill: sessions x rate, s", f"{f['senders']} x {f['rate_per_sender']}/s, {f['s']} s"),
            ("stored after fill s", fmt(r["stored_s"]))]
    if "pages" not in r:
        return rows + [("error", r.get("error"))]
    lat, c = r["latency_ms"] or {}, r["cpu"]
    rows += [("pages / pages/s / bad", f"{r['pages']} / {fmt(r['pages_per_s'], 1)} / {r['bad_pages']}"),
             ("errors / disconnected", f"{r['errors'] or '-'} / {r['disconnected']}"),
             ("latency ms p50/p90/p99/max", "/".join(fmt(lat.get(k)) for k in ("p50", "p90", "p99", "max")))]
    for label, v in c["per_pid"].items():
        rows.append((f"cpu {label} %", fmt(v["pct"], 1) if v else "-"))
    rows.append(("Parley CPU us per page", c["parley_us_per_page"]))
    return rows + redis_rows(r["redis"], "page")


# ----------------------------------------------------------------------------- fanout (groups)

class FanoutConn(Conn):
    """A v2 device of a group member: ready at `synced`; checks its stream arrives in `seq` order
    (one session is one epoch, so a repeated `seq` is a duplicate by (epoch, seq)); hands message,
    `group`, `rejected`, `sent` and `error` frames to the rig."""

    def __init__(self, proto, user, index=-1, device=None):
        super().__init__(proto, user, index, device)
        self.group = self.member = -1
        self.last_seq = self.acked_seq = 0
        self.repeats = self.gaps = 0

    def on_text(self, s):
        m = json.loads(s)
        t = m.get("type")
        seq = m.get("seq")
        if t == "synced":
            self.last_seq = self.acked_seq = max(self.last_seq, seq or 0)
            if not self.ready.done():
                self.ready.set_result(True)
            return
        if seq is not None:
            if seq <= self.last_seq:
                self.repeats += 1
                return
            if seq != self.last_seq + 1:
                self.gaps += 1
            self.last_seq = seq
            if self.handler is not None:
                self.handler.dirty.add(self)
        if self.handler is None:
            if t == "error" and not self.ready.done():
                self.ready.set_exception(RuntimeError(f"error before ready: {m.get('code')}"))
            return
        if t == "message":
            self.handler.on_group_message(self, m)
        elif t == "group":
            self.handler.on_group_entry(self, m)
        elif t == "rejected":
            self.handler.on_rejected(self, m)
        elif t == "sent":
            self.handler.on_sent(self, m)
        elif t == "error":
            self.handler.on_error(self, m.get("code"), m.get("id"))

    def flush_ack(self):
        if self.alive and self.last_seq > self.acked_seq:
            self.send_text('{"type":"ack","seq":%d}' % self.last_seq)
            self.acked_seq = self.last_seq
            return True
        return False


class FanoutRig:
    """`groups` groups of `members` v2 devices (one user each, a group's members alternating between
    the edges); member 0 of each creates its group; then phases of messages from rotating members."""

    def __init__(self, args, proto):
        self.args, self.proto = args, proto
        self.conns = []               # [group][member]
        self.convs = [None] * args.groups
        self.created = {}             # conv -> users whose stream has its `created` entry
        self.create_sent = {}         # client id -> group
        self.phase = None
        self.dirty = set()
        self.disconnected = 0
        self.stale = 0
        self.errors, self.rejected = {}, {}
        self.group_entries = {}
        self.ack_frames = 0
        self.ack_task = None
        self.redis = RedisClient(args.redis) if args.redis else None

    async def open(self):
        a = self.args
        self.proto.srcs = srcs = src_ips(a.src_ips or 1)
        self.users = group_users(f"{run_nonce()[:4]}", a.groups, a.members)
        device = f"f{run_nonce()}"
        sem = asyncio.Semaphore(50)
        edges = len(self.proto.urls)

        async def one(g, j):
            async with sem:
                c = await self.proto.connect(edge_of(g, j, edges), self.users[g][j], srcs[(g * a.members + j) % len(srcs)],
                                             read_buffer=16384, device=device, conn_class=FanoutConn)
            c.group, c.member = g, j
            return c
        t0 = time.monotonic()
        flat = await asyncio.gather(*(one(g, j) for g in range(a.groups) for j in range(a.members)))
        self.connect_s = round(time.monotonic() - t0, 3)
        self.proto.close()
        self.conns = [flat[g * a.members:(g + 1) * a.members] for g in range(a.groups)]
        for c in flat:
            c.handler = self
        self.ack_task = asyncio.get_running_loop().create_task(self._ack_loop())

    async def _ack_loop(self):
        iv = max(0.001, self.args.ack_interval_ms / 1000)
        while True:
            await asyncio.sleep(iv)
            dirty, self.dirty = self.dirty, set()
            for c in dirty:
                if c.flush_ack():
                    self.ack_frames += 1

    def close(self):
        if self.ack_task:
            self.ack_task.cancel()
        for row in self.conns:
            for c in row:
                c.close()
        if self.redis:
            self.redis.close()

    async def create(self):
        """Every creator sends `group_create`; done when every member's stream has its group's
        `created` entry. Returns seconds from the first create to the last member's entry. Nothing
        else is in flight meanwhile: any `error` or `rejected` ends it."""
        a = self.args
        frames = []
        for g in range(a.groups):
            frame = create_frame(f"create{g}", f"bench group {g}", self.users[g][1:])
            if len(frame.encode()) > a.max_frame_bytes:
                raise SystemExit(f"a group_create of {a.members} members is {len(frame.encode())} bytes, over "
                                 f"--max-frame-bytes {a.max_frame_bytes}")
            frames.append(frame)
        t0 = time.monotonic()
        for g, frame in enumerate(frames):
            self.create_sent[f"create{g}"] = g
            self.conns[g][0].send_text(frame)
        deadline = t0 + a.create_timeout
        while time.monotonic() < deadline and not self.errors and not self.rejected:
            if all(c is not None and len(self.created.get(c, ())) == a.members for c in self.convs):
                return round(time.monotonic() - t0, 3)
            await asyncio.sleep(0.01)
        have = sum(len(self.created.get(c, ())) for c in self.convs if c is not None)
        raise RuntimeError(f"groups not created: {sum(c is not None for c in self.convs)} of {a.groups} `sent`, "
                           f"{have} of {a.groups * a.members} `created` entries after {time.monotonic() - t0:.1f} s; "
                           f"errors {self.errors or '-'}, rejected {self.rejected or '-'}")

    # -- callbacks
    def on_disconnect(self, conn):
        self.disconnected += 1

    def on_error(self, conn, code, cid=None):
        self.errors[code] = self.errors.get(code, 0) + 1

    def on_rejected(self, conn, m):
        code = m.get("code")
        self.rejected[code] = self.rejected.get(code, 0) + 1

    def on_group_entry(self, conn, m):
        ev = m.get("event")
        self.group_entries[ev] = self.group_entries.get(ev, 0) + 1
        if ev == "created":
            self.created.setdefault(m.get("conv"), set()).add(conn.user)

    def on_sent(self, conn, m):
        cid = m.get("id") or ""
        if cid in self.create_sent:
            self.convs[self.create_sent[cid]] = m.get("conv")
            return
        ph = self.phase
        if ph is None or not cid.startswith(ph["tag"]):
            return
        k = int(cid[len(ph["tag"]):])
        if k < len(ph["sent_acked"]) and not ph["sent_acked"][k]:
            ph["sent_acked"][k] = 1
            ph["n_sent_acked"] += 1
            ph["sent_hist"].record_value(max(1, time.monotonic_ns() // 1000 - ph["ledger"].send_us[k]))

    def on_group_message(self, conn, m):
        now = time.monotonic_ns() // 1000
        ph = self.phase
        try:
            tag, k, _ = m.get("body").split("|", 2)
            k = int(k)
        except (AttributeError, ValueError):
            if ph:
                ph["bad"] += 1
            return
        if ph is None or tag != ph["tag"]:
            self.stale += 1
            return
        g = group_of(k, self.args.groups)
        if conn.group != g or m.get("conv") != self.convs[g] or \
                m.get("from") != self.users[g][sender_of(k, self.args.groups, self.args.members)]:
            ph["misrouted"] += 1
            return
        if ph["ledger"].receive(k, conn.member, now, m.get("cseq"), m.get("msg")) != "dup":
            ph["last_arrival"] = time.monotonic()

    async def run_phase(self, tag, duration, drain, pids, measure=True):
        a = self.args
        G, N = a.groups, a.members
        total = int(round(duration * a.rate)) * G
        deliveries = new_hist()
        ledger = FanoutLedger(G, N, total, deliveries.record_value)
        padding = "x" * max(0, a.body_size - 16)
        ph = {"tag": tag, "ledger": ledger, "sent_acked": bytearray(total), "n_sent_acked": 0, "sent_hist": new_hist(),
              "misrouted": 0, "bad": 0, "last_arrival": time.monotonic()}
        self.stale, self.ack_frames = 0, 0
        self.errors, self.rejected = {}, {}
        disc0 = self.disconnected
        repeats0 = sum(c.repeats for row in self.conns for c in row)
        gaps0 = sum(c.gaps for row in self.conns for c in row)
        lag = new_hist()
        self.phase = ph
        tick = a.tick_ms / 1000
        cpu = CpuWindow(pids).start() if measure else None
        redis = RedisWindow(self.redis).start() if measure else None
        t0 = time.monotonic()
        t0_us = int(t0 * 1e6)
        k = 0
        while k < total:
            elapsed = time.monotonic() - t0
            while k < total and send_offset(k, G, a.rate) <= elapsed:
                g = group_of(k, G)
                t_us = time.monotonic_ns() // 1000
                lag.record_value(max(1, t_us - t0_us - int(send_offset(k, G, a.rate) * 1e6)))
                ledger.sent(k, t_us)
                s = self.conns[g][sender_of(k, G, N)]
                if s.alive:
                    s.send_text('{"type":"send","id":"%s%d","conv":"%s","body":"%s|%d|%s"}'
                                % (tag, k, self.convs[g], tag, k, padding))
                k += 1
            await asyncio.sleep(tick)
        t_send_end = time.monotonic()
        cpu_send = cpu.stop() if measure else None
        redis_send = redis.stop() if measure else None
        ledger.deadline_us = int((t_send_end + drain) * 1e6)
        expected = total * (N - 1)
        while time.monotonic() < t_send_end + drain and ledger.deliveries < expected:
            await asyncio.sleep(0.02)
        qend = time.monotonic() + a.quiet_max
        while (ledger.deliveries + ledger.late < expected and time.monotonic() < qend
               and time.monotonic() - ph["last_arrival"] < 1.0):
            await asyncio.sleep(0.05)
        self.phase = None
        if not measure:
            return None
        last = new_hist()
        counts = ledger.summary(last.record_value)
        sent_s = t_send_end - t0
        g = group_cpu(cpu_send, a.infra)
        n_del = counts["expected_deliveries"]
        per = lambda s: round(s * 1e6 / n_del, 1) if n_del else None
        return {
            "members": N, "groups": G, "sessions": N * G, "rate_per_group": a.rate, "duration_s": duration,
            "body_size": a.body_size, "ack_interval_ms": a.ack_interval_ms, "drain_s": drain,
            "sent": total, "msgs_per_s": round(total / sent_s, 1) if sent_s > 0 else None,
            "deliveries_per_s": round(counts["deliveries"] / sent_s, 1) if sent_s > 0 else None,
            "send_lag_ms": hist_ms(lag), "sent_acked": ph["n_sent_acked"], "sent_ack_ms": hist_ms(ph["sent_hist"]),
            **counts, "lost_never_ids": ledger.missing(self.users),
            "seq_repeats": sum(c.repeats for row in self.conns for c in row) - repeats0,
            "seq_gaps": sum(c.gaps for row in self.conns for c in row) - gaps0,
            "misrouted": ph["misrouted"], "stale": self.stale, "bad": ph["bad"], "errors": self.errors,
            "rejected": self.rejected, "disconnected": self.disconnected - disc0, "ack_frames": self.ack_frames,
            "latency_ms": hist_ms(deliveries), "last_member_ms": hist_ms(last),
            "redis": redis_costs(redis_send, cpu_send, n_del, "delivery"),
            "cpu": {**cpu_send, **g, "parley_us_per_delivery": per(g["parley_cpu_s"]),
                    "server_us_per_delivery": per(g["server_cpu_s"]),
                    "parley_us_per_msg": round(g["parley_cpu_s"] * 1e6 / total, 1) if total else None,
                    "us_per_delivery": {label: (per(v["cpu_s"]) if v else None) for label, v in cpu_send["per_pid"].items()},
                    "generator_us_per_delivery": per(cpu_send["generator"]["cpu_s"])},
        }


def dm_reference(args, deliveries_per_s):
    """The pairs settings of the dm reference: v2 devices at the fan-out's delivery rate (at most
    2,000 msg/s; --dm-rate sets another)."""
    return argparse.Namespace(
        P=args.dm_pairs, R=args.dm_rate or min(2000, max(args.dm_pairs, round(deliveries_per_s))), v2=True, redis=args.redis,
        src_ips=args.src_ips, body_size=args.body_size, ack_interval_ms=args.ack_interval_ms, tick_ms=args.tick_ms,
        quiet_max=args.quiet_max, infra=args.infra)


async def run_dm_reference(args, pids, deliveries_per_s):
    """A short v2 pairs run on the same stack: the dm figures the group targets are ratios of."""
    dm = dm_reference(args, deliveries_per_s)
    rig = PairsRig(dm, Protocol("parley", args.url, None, 4))
    await rig.open()
    try:
        await rig.run_phase("w", dm.R, args.warmup, 2.0, pids, measure=False)
        r = await rig.run_phase("m", dm.R, args.dm_duration, args.drain, pids)
    finally:
        rig.close()
    c = r["cpu"]
    return {"rate": r["rate"], "pairs": r["pairs"], "duration_s": r["duration_s"], "sent": r["sent"],
            "delivered": r["delivered"], "lost": r["lost"], "dups": r["dups"], "latency_ms": r["latency_ms"],
            "parley_us_per_msg": c["parley_us_per_msg"], "server_us_per_msg": c["server_us_per_msg"],
            "per_pid_pct": {k: (v["pct"] if v else None) for k, v in c["per_pid"].items()},
            "redis_cpu_us_per_msg": (r["redis"] or {}).get("cpu_us_per_msg")}


def fanout_targets(rec):
    """The issue's targets as ratios to the dm reference of the same run."""
    dm = rec.get("dm") or {}
    us, dm_us = rec["cpu"]["parley_us_per_delivery"], dm.get("parley_us_per_msg")
    p99, dm_p99 = (rec.get("last_member_ms") or {}).get("p99"), (dm.get("latency_ms") or {}).get("p99")
    return {"cpu_ratio": round(us / dm_us, 3) if us and dm_us else None, "cpu_ratio_max": 0.2,
            "last_p99_ratio": round(p99 / dm_p99, 2) if p99 and dm_p99 else None, "last_p99_ratio_max": 2.0}


async def scen_fanout(args):
    pids = parse_pids(args.pid)
    sessions = args.groups * args.members
    if sessions > MAX_CONNS_PER_PROC:
        raise SystemExit(f"{sessions} sessions: at most {MAX_CONNS_PER_PROC} in one generator process")
    if args.rate * args.groups > 2000:
        raise SystemExit("at most 2,000 group messages a second (--rate x --groups)")
    raise_nofile()
    dm = await run_dm_reference(args, pids, args.groups * args.rate * (args.members - 1)) if args.dm_duration > 0 else None
    rig = FanoutRig(args, Protocol("parley", args.url, None, 4))
    rec = {"scenario": "fanout", "urls": args.url, "members": args.members, "groups": args.groups, "dm": dm}
    try:
        await rig.open()
        idle = await idle_cpu(pids, args.infra, args.idle)
        rec.update({"connect_s": rig.connect_s, "idle_cpu": idle})
        try:
            rec["create_s"] = await rig.create()
        except RuntimeError as e:
            rec["error"] = str(e)
        if "error" not in rec:
            rec["group_entries"] = dict(rig.group_entries)
            await rig.run_phase("w", args.warmup, 2.0, pids, measure=False)
            rec.update(await rig.run_phase("m", args.D, args.drain, pids))
            rec["targets"] = fanout_targets(rec)
    finally:
        rig.close()
    table(f"fanout {args.groups} group(s) x {args.members} members, {args.rate:g} msg/s each, D={args.D}s", fanout_rows(rec))
    emit(args, rec)


def fanout_rows(r):
    rows = [("sessions / connect s", f"{r['groups'] * r['members']} / {fmt(r.get('connect_s'))}"),
            ("groups created in s (to every member's `created`)", fmt(r.get("create_s")))]
    if "error" in r:
        return rows + [("error", r["error"])]
    lat, last, c = r["latency_ms"] or {}, r["last_member_ms"] or {}, r["cpu"]
    rows += [("msgs/s / deliveries/s", f"{fmt(r['msgs_per_s'], 1)} / {fmt(r['deliveries_per_s'], 1)}"),
             ("sent / sent-acked / messages complete", f"{r['sent']} / {r['sent_acked']} / {r['complete_messages']}"),
             ("deliveries expected / in time", f"{r['expected_deliveries']} / {r['deliveries']}"),
             ("lost (late / never) / dups", f"{r['lost']} ({r['lost_late']} / {r['lost_never']}) / {r['dups']}"),
             ("own copies / missing", f"{r['own_copies']} / {r['own_copies_missing']}"),
             ("seq repeats / gaps / cseq-msg mismatches", f"{r['seq_repeats']} / {r['seq_gaps']} / {r['order_mismatches']}"),
             ("misrouted / stale / bad / disconnected", f"{r['misrouted']} / {r['stale']} / {r['bad']} / {r['disconnected']}"),
             ("errors / rejected", f"{r['errors'] or '-'} / {r['rejected'] or '-'}"),
             ("every delivery ms p50/p90/p99/max", "/".join(fmt(lat.get(k)) for k in ("p50", "p90", "p99", "max"))),
             ("to the last member ms p50/p90/p99/max", "/".join(fmt(last.get(k)) for k in ("p50", "p90", "p99", "max"))),
             ("sent-ack ms p50/p99", "/".join(fmt((r["sent_ack_ms"] or {}).get(k)) for k in ("p50", "p99")))]
    for label, v in c["per_pid"].items():
        rows.append((f"cpu {label} % / us per delivery", f"{fmt(v['pct'], 1) if v else '-'} / {fmt(c['us_per_delivery'].get(label), 1)}"))
    rows += [("cpu generator %", c["generator"]["pct"]), ("machine busy %", c["machine_busy_pct"]),
             ("Parley CPU us per delivery / per group message", f"{c['parley_us_per_delivery']} / {c['parley_us_per_msg']}")]
    dm, t = r.get("dm"), r.get("targets") or {}
    if dm:
        rows += [("dm reference: rate / lost / p50 / p99 ms",
                  f"{dm['rate']} / {dm['lost']} / {fmt((dm['latency_ms'] or {}).get('p50'))} / {fmt((dm['latency_ms'] or {}).get('p99'))}"),
                 ("dm reference: Parley CPU us per msg", dm["parley_us_per_msg"]),
                 ("CPU per delivery / dm per msg (target <= 0.2)", fmt(t.get("cpu_ratio"), 3)),
                 ("p99 to last member / dm p99 (target < 2)", fmt(t.get("last_p99_ratio")))]
    return rows + redis_rows(r["redis"], "delivery")


# ----------------------------------------------------------------------------- floor

def scen_floor(args):
    from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_END
    from confluent_kafka.admin import AdminClient, NewTopic

    kh, kp = parse_hostport(args.kafka, 9092)
    rh, rp = parse_hostport(args.redis, 6379)
    brokers = f"{kh}:{kp}"
    topic = f"bench.floor.{run_nonce()}"
    admin = AdminClient({"bootstrap.servers": brokers})
    fut = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic]
    fut.result(15)
    low = {"socket.nagle.disable": True}
    prod = Producer({"bootstrap.servers": brokers, **low, "linger.ms": args.linger_ms, "acks": "all",
                     "enable.idempotence": True, "allow.auto.create.topics": False})
    cons = Consumer({"bootstrap.servers": brokers, **low, "group.id": f"bench-floor-{run_nonce()}",
                     "fetch.wait.max.ms": 10, "enable.auto.commit": False, "allow.auto.create.topics": False})
    cons.assign([TopicPartition(topic, 0, OFFSET_END)])

    deadline = time.monotonic() + args.max_time
    value = b"x" * args.body_size

    # produce acknowledged (what the edge waits for before `sent`)
    h_ack = new_hist()
    for i in range(args.n + 10):
        t = time.monotonic_ns()
        prod.produce(topic, value=value, key=b"k")
        prod.flush(10)
        if i >= 10:
            h_ack.record_value(max(1, (time.monotonic_ns() - t) // 1000))
        if time.monotonic() > deadline:
            break

    # produce -> consume, one message at a time (the consumer has been polling since assign)
    h_hop = new_hist()
    got = 0
    while True:  # drain what the ack loop produced
        m = cons.poll(0.5)
        if m is None:
            break
    for i in range(args.n + 10):
        tag = f"{i}|".encode()
        t = time.monotonic_ns()
        prod.produce(topic, value=tag + value, key=b"k")
        prod.poll(0)
        while True:
            m = cons.poll(1.0)
            prod.poll(0)
            if m is None:
                if time.monotonic() > deadline:
                    break
                continue
            if m.error() is None and m.value().startswith(tag):
                break
        if i >= 10 and m is not None:
            h_hop.record_value(max(1, (time.monotonic_ns() - t) // 1000))
            got += 1
        if time.monotonic() > deadline:
            break
    prod.flush(5)
    cons.close()

    # one Redis round trip (PING)
    h_redis = new_hist()
    s = socket.create_connection((rh, rp), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(args.n * 5 + 50):
        t = time.monotonic_ns()
        s.sendall(b"PING\r\n")
        buf = b""
        while not buf.endswith(b"\r\n"):
            buf += s.recv(64)
        if i >= 50:
            h_redis.record_value(max(1, (time.monotonic_ns() - t) // 1000))
    s.close()

    ack, hop, red = hist_ms(h_ack), hist_ms(h_hop), hist_ms(h_redis)
    hops, trips = args.path_hops, args.path_redis
    path = {k: round(hops * hop[k] + trips * red[k], 3) for k in ("p50", "p90", "p99")} if hop and red else None
    rec = {"scenario": "floor", "broker": brokers, "redis": f"{rh}:{rp}", "n": args.n, "body_size": args.body_size,
           "client_settings": {"socket.nagle.disable": True, "fetch.wait.max.ms": 10, "linger.ms": args.linger_ms, "acks": "all",
                               "enable.idempotence": True},
           "produce_ack_ms": ack, "broker_hop_ms": hop, "redis_rtt_ms": red,
           "path_floor_ms": path, "path_hops": hops, "path_redis": trips,
           "path_floor_note": f"Parley's message path = {hops} broker hops (v2: chat.inbound -> relay-svc -> chat.inbox -> "
                              f"offline-svc -> chat.deliver.<edge>) + {trips} Redis round trips (relay's conversation "
                              f"script, offline's stream script); path_floor = {hops}*hop + {trips}*redis at each percentile"}
    rows = [("produce acked ms p50/p99", f"{ack['p50']} / {ack['p99']}"),
            ("broker hop produce->consume ms p50/p90/p99", f"{hop['p50']} / {hop['p90']} / {hop['p99']}" if hop else "-"),
            ("redis RTT ms p50/p99", f"{red['p50']} / {red['p99']}"),
            (f"path floor ({hops} hops + {trips} redis) ms p50/p99", f"{path['p50']} / {path['p99']}" if path else "-")]
    table("floor", rows)
    emit(args, rec)


# ----------------------------------------------------------------------------- CLI

def build_parser():
    p = argparse.ArgumentParser(prog="parley_bench.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(q, servers=True):
        if servers:
            q.add_argument("--url", action="append", required=True,
                           help="server base URL, http://127.0.0.x:PORT (repeat for each edge/node)")
            q.add_argument("--protocol", choices=["parley", "socketio"], default="parley")
            q.add_argument("--pid", action="append", default=[], help="LABEL=PID of a server process (repeat)")
            q.add_argument("--infra", type=lambda s: set(s.split(",")), default={"tansu", "redis"},
                           help="labels not counted as Parley's own CPU/RSS (default tansu,redis)")
        q.add_argument("--label", default="")
        q.add_argument("--out", help="append the JSON line(s) to this file")
        q.add_argument("--max-time", type=float, default=MAX_TIME_DEFAULT, help="hard cap of the run, seconds")

    c = sub.add_parser("conns", help="N idle authenticated sessions")
    common(c)
    c.add_argument("-n", type=int, default=10000)
    c.add_argument("--procs", type=int, default=0, help="generator processes (0: auto, <=15000 conns each)")
    c.add_argument("--src-ips", type=int, default=0, help="127.0.0.x source addresses (0: auto)")
    c.add_argument("--concurrency", type=int, default=100, help="connects in flight, over all processes")
    c.add_argument("--login-pool", type=int, default=8, help="keep-alive login connections per edge per process")
    c.add_argument("--settle", type=float, default=5.0)
    c.add_argument("--hold", type=float, default=10.0)
    c.add_argument("--timeout", type=float, default=30.0, help="per-connect timeout")
    c.add_argument("--edge-label", action="append", help="pid label of the edge behind each --url, in order")

    def pairs_opts(q):
        common(q)
        q.add_argument("-P", type=int, default=100, help="sender/receiver pairs")
        q.add_argument("--body-size", type=int, default=100)
        q.add_argument("--drain", type=float, default=5.0, help="seconds after the last send that still count")
        q.add_argument("--quiet-max", type=float, default=10.0, help="max extra wait for late arrivals")
        q.add_argument("--ack-interval-ms", type=float, default=5.0,
                       help="receivers batch acks and flush every this many ms (0: one ack frame per message)")
        q.add_argument("--tick-ms", type=float, default=1.0, help="send loop timer")
        q.add_argument("--src-ips", type=int, default=1)
        q.add_argument("--v2", action="store_true",
                       help="v2 sessions: a fresh device per connection, receivers ack by seq (Parley only)")
        q.add_argument("--redis", help="127.0.0.1:PORT of the stack's Redis: its commands per message")

    pr = sub.add_parser("pairs", help="P cross-edge pairs at aggregate rate R for D s")
    pairs_opts(pr)
    pr.add_argument("-R", type=float, default=1000)
    pr.add_argument("-D", type=float, default=30)
    pr.add_argument("--warmup", type=float, default=2.0)
    pr.add_argument("--idle", type=float, default=3.0, help="seconds of idle CPU measured before the run")

    rp = sub.add_parser("ramp", help="pairs at rising rates until p99 > limit or any loss")
    pairs_opts(rp)
    rp.add_argument("-D", type=float, default=8, help="seconds per step")
    rp.add_argument("--start-rate", type=float, default=1000)
    rp.add_argument("--factor", type=float, default=1.25)
    rp.add_argument("--max-rate", type=float, default=50000)
    rp.add_argument("--refine", type=int, default=2)
    rp.add_argument("--p99-limit-ms", type=float, default=50.0)

    fl = sub.add_parser("floor", help="broker produce->consume and Redis round trips")
    common(fl, servers=False)
    fl.add_argument("--kafka", required=True, help="127.0.0.1:PORT of the broker")
    fl.add_argument("--redis", required=True, help="127.0.0.1:PORT of Redis")
    fl.add_argument("-n", type=int, default=500)
    fl.add_argument("--body-size", type=int, default=300)
    fl.add_argument("--linger-ms", type=float, default=10.0,
                    help="the producer's linger.ms (Parley's --kafka-linger; 1 gives the broker's own floor)")
    fl.add_argument("--path-hops", type=int, default=3, help="broker hops of a message's path (v2: 3; v1 had 2)")
    fl.add_argument("--path-redis", type=int, default=2, help="Redis round trips of a message's path (v2: 2; v1 had 1)")

    def v2_opts(q):
        common(q)
        q.add_argument("--redis", required=True, help="127.0.0.1:PORT of the stack's Redis")
        q.add_argument("--body-size", type=int, default=100)
        q.add_argument("--sender-rate", type=float, default=40.0,
                       help="sends per second per filling session (under the edge's --send-rate, 50)")
        q.add_argument("--window", type=int, default=100, help="unanswered sends per filling session")
        q.add_argument("--store-timeout", type=float, default=180.0,
                       help="seconds to wait for the last filled message to be stored")

    sy = sub.add_parser("sync", help="fill one user's stream with N entries, then time a device's replay")
    v2_opts(sy)
    sy.add_argument("-n", type=int, default=10000, help="entries in the stream")
    sy.add_argument("--fill-rate", type=float, default=2000.0, help="aggregate fill rate (sets the sessions)")
    sy.add_argument("--senders", type=int, default=0, help="filling sessions, one user each (0: fill-rate / sender-rate)")
    sy.add_argument("--edge", type=int, default=0, help="index of the --url the draining device connects to")
    sy.add_argument("--ack-interval-ms", type=float, default=5.0, help="the device acks the highest seq this often")
    sy.add_argument("--sync-timeout", type=float, default=300.0, help="seconds to wait for synced")

    hi = sub.add_parser("history", help="C clients paging one conversation's history back to back")
    v2_opts(hi)
    hi.add_argument("-M", type=int, default=2000, help="messages in the conversation")
    hi.add_argument("-C", type=int, default=10, help="concurrent clients (devices of the two members)")
    hi.add_argument("-D", type=float, default=30.0, help="seconds of paging")
    hi.add_argument("--limit", type=int, default=50, help="messages per page (1-100)")
    hi.add_argument("--fill-sessions", type=int, default=8, help="sessions of the sender filling the conversation")

    fo = sub.add_parser("fanout", help="groups of M members on both edges, R messages a second per group")
    common(fo)
    fo.add_argument("--members", type=int, default=100, help="members per group, the creator included (2-1000)")
    fo.add_argument("--groups", type=int, default=1, help="groups, each with members of its own")
    fo.add_argument("--rate", type=float, default=1.0, help="messages per second per group, from rotating members")
    fo.add_argument("-D", type=float, default=30, help="seconds of sending")
    fo.add_argument("--warmup", type=float, default=2.0)
    fo.add_argument("--drain", type=float, default=5.0, help="seconds after the last send that still count")
    fo.add_argument("--quiet-max", type=float, default=10.0, help="max extra wait for late arrivals")
    fo.add_argument("--idle", type=float, default=3.0, help="seconds of idle CPU measured with every member online")
    fo.add_argument("--body-size", type=int, default=100)
    fo.add_argument("--ack-interval-ms", type=float, default=5.0, help="members ack the highest seq this often")
    fo.add_argument("--tick-ms", type=float, default=1.0, help="send loop timer")
    fo.add_argument("--src-ips", type=int, default=1)
    fo.add_argument("--redis", help="127.0.0.1:PORT of the stack's Redis: its commands and CPU per delivery")
    fo.add_argument("--create-timeout", type=float, default=60.0,
                    help="seconds for every member's stream to get its group's `created` entry")
    fo.add_argument("--max-frame-bytes", type=int, default=16384, help="the edge's frame limit (a group_create must fit)")
    fo.add_argument("--dm-pairs", type=int, default=100, help="pairs of the dm reference")
    fo.add_argument("--dm-rate", type=float, default=0,
                    help="msg/s of the dm reference (0: the fan-out's deliveries/s, at most 2,000)")
    fo.add_argument("--dm-duration", type=float, default=10.0,
                    help="seconds of the dm reference, a v2 pairs run first on the same stack (0: none)")

    w = sub.add_parser("_conns-worker")
    w.add_argument("--spec", required=True)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.cmd == "_conns-worker":
        spec = json.loads(args.spec)
        for u in spec["urls"]:
            parse_url(u)
        import uvloop
        uvloop.run(conns_worker(args))
        return
    if args.cmd == "floor":
        scen_floor(args)
        return
    for u in args.url:
        parse_url(u)  # refuses anything outside 127.0.0.0/8
    if getattr(args, "redis", None):
        parse_hostport(args.redis, 6379)
    if getattr(args, "v2", False) and args.protocol != "parley":
        raise SystemExit("--v2 is Parley's protocol")
    import uvloop

    async def capped(coro):
        # not wait_for: a timeout inside the run (a connect) is its own error, not the cap's
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait({task}, timeout=args.max_time + 120)
        if not done:
            task.cancel()
            raise SystemExit(f"run exceeded --max-time {args.max_time}s")
        task.result()

    if args.cmd == "conns":
        uvloop.run(capped(scen_conns(args)))
    elif args.cmd == "pairs":
        uvloop.run(capped(scen_pairs(args)))
    elif args.cmd == "ramp":
        uvloop.run(capped(scen_ramp(args)))
    elif args.cmd == "sync":
        uvloop.run(capped(scen_sync(args)))
    elif args.cmd == "history":
        uvloop.run(capped(scen_history(args)))
    elif args.cmd == "fanout":
        if not (2 <= args.members <= 1000 and args.groups >= 1 and args.rate > 0):
            raise SystemExit("fanout wants 2-1000 --members, --groups >= 1 and --rate > 0")
        uvloop.run(capped(scen_fanout(args)))


if __name__ == "__main__":
    main()
