"""What `WAIT 1` costs a batch on a Redis Cluster primary (docs/benchmarks.md, "Redis Cluster").

Sends batches shaped like offline-svc's append round trip (a pipeline of N script calls on one
primary, each an XADD + HSET on its own user's keys) with and without a trailing `WAIT 1 1000`,
alternating the two kinds batch by batch so both see the same machine, and prints the median
and p99 round trip of each and their ratio.

    python3 bench/redis_wait_cost.py --port <a primary's port> [--batches 2000] [--size 50]
"""

import argparse
import socket
import statistics
import time

SCRIPT = "redis.call('XADD', KEYS[1], '*', 'e', ARGV[1]); return redis.call('HSET', KEYS[2], 'h', ARGV[1])"


def command(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Connection:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind in (b"+", b":"):
            return rest
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def round_trip(self, payload, count):
        self.sock.sendall(payload)
        return [self.reply() for _ in range(count)]


def owned_tags(conn, count):
    """Hash tags whose slot this node serves (it answers MOVED for the others)."""
    tags, n = [], 0
    while len(tags) < count:
        tag = f"bench{n}"
        n += 1
        try:
            conn.round_trip(command("EXISTS", f"{{{tag}}}:probe"), 1)
            tags.append(tag)
        except RuntimeError:
            continue
    return tags


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--size", type=int, default=50)
    args = parser.parse_args()
    conn = Connection(args.port)
    sha = conn.round_trip(command("SCRIPT", "LOAD", SCRIPT), 1)[0].decode()
    tags = owned_tags(conn, args.size)
    batch = b"".join(command("EVALSHA", sha, 2, f"{{{t}}}:s", f"{{{t}}}:m", "x" * 200) for t in tags)
    wait = command("WAIT", 1, 1000)
    times = {"plain": [], "wait": []}
    for i in range(args.batches):
        kind = "wait" if i % 2 else "plain"
        payload, count = (batch + wait, len(tags) + 1) if kind == "wait" else (batch, len(tags))
        start = time.perf_counter()
        replies = conn.round_trip(payload, count)
        times[kind].append(time.perf_counter() - start)
        if kind == "wait" and int(replies[-1]) < 1:
            raise SystemExit("WAIT 1 timed out: the primary has no replica")
    for tag in tags:
        conn.round_trip(command("DEL", f"{{{tag}}}:s", f"{{{tag}}}:m"), 1)
    summary = {}
    for kind, values in times.items():
        values.sort()
        summary[kind] = (statistics.median(values) * 1e3, values[int(len(values) * 0.99)] * 1e3)
        print(f"{kind:5}: {len(values)} batches of {len(tags)} calls, median {summary[kind][0]:.3f} ms, "
              f"p99 {summary[kind][1]:.3f} ms")
    print(f"ratio wait/plain: median {summary['wait'][0] / summary['plain'][0]:.2f}, "
          f"p99 {summary['wait'][1] / summary['plain'][1]:.2f}; "
          f"WAIT adds {summary['wait'][0] - summary['plain'][0]:.3f} ms per batch (median)")


if __name__ == "__main__":
    main()
