#!/usr/bin/env python3
"""Summarises `perf script` output (perf record -g) per process: where the samples are, by
thread, by leaf library, by inclusive symbol (a symbol counts once per sample it appears in),
by self symbol, and by a few named cost centres (JSON coding, librdkafka, kernel, ...).

  perf script -i perf.data -F comm,pid,tid,ip,sym,dso | perf_summary.py LABEL=PID ... > summary.md
"""
import collections
import re
import subprocess
import sys

# (name, predicate over the frames leaf-first as (mangled symbol, library)); inclusive: any frame
def _mod(*prefixes):
    return lambda fr: any(sym.startswith(prefixes) for sym, _ in fr)


def _found(*words):
    return lambda fr: any(sym.startswith("$s20FoundationEssentials") and any(w in sym for w in words) for sym, _ in fr)


PARLEY_MODULES = ("$s4Edge", "$s5Relay", "$s7Offline", "$s8Presence", "$s16ParleyServiceKit", "$s11ParleyKafka",
                  "$s11ParleyRedis", "$s14ParleyProtocol", "$s13ParleyBackend", "$s10ParleyChat", "$s7ws_edge",
                  "$s9relay_svc")
CENTRES = [
    ("Foundation JSONEncoder (encode)", _found("JSONEncoder")),
    ("Foundation JSONDecoder (decode)", _found("JSONDecoder", "JSONScanner", "JSONMap")),
    ("librdkafka code (any frame)", lambda fr: any("librdkafka" in d for _, d in fr)),
    ("librdkafka threads (rdk:*)", None),
    ("SwiftNIO event loop threads", None),
    ("Swift concurrency pool threads", None),
    ("kernel (leaf frame in kernel)", lambda fr: bool(fr) and "kernel" in fr[0][1]),
    ("  of which poll/epoll/futex waits and context switches",
     lambda fr: bool(fr) and "kernel" in fr[0][1] and any(re.search(r"poll|futex|schedule|finish_task_switch", x) for x, _ in fr)),
    ("malloc/free (leaf)", lambda fr: bool(fr) and re.search(r"malloc|free|_int_|calloc|tcache", fr[0][0] or "") is not None),
    ("Swift retain/release (leaf)", lambda fr: bool(fr) and re.search(r"swift_(retain|release|bridgeObject)", fr[0][0] or "") is not None),
    ("Redis client (ParleyRedis)", _mod("$s11ParleyRedis")),
    ("WebSocket (NIOWebSocket, Hummingbird WS)", _mod("$s12NIOWebSocket", "$s20HummingbirdWebSocket", "$s6WSCore")),
    ("NIOAsyncChannel / AsyncStream bridging",
     lambda fr: any(("NIOAsyncChannel" in sym or "NIOAsyncSequenceProducer" in sym or "NIOAsyncWriter" in sym or "11AsyncStreamV" in sym) for sym, _ in fr)),
    ("swift-log / swift-metrics / Prometheus", _mod("$s7Logging", "$s7Metrics", "$s11CoreMetrics", "$s10Prometheus")),
    ("Parley's own code on the stack", _mod(*PARLEY_MODULES)),
]


def demangle_all(names):
    names = sorted(set(n for n in names if n))
    if not names:
        return {}
    try:
        out = subprocess.run(["swift-demangle", "--simplified"], input="\n".join(names), capture_output=True,
                             text=True, timeout=120).stdout.splitlines()
        if len(out) == len(names):
            return dict(zip(names, out))
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {n: n for n in names}


def parse(stream):
    """yields (pid, tid, comm, frames[(sym, dso)]) per sample"""
    head = re.compile(r"^(.*?)\s+(\d+)/(\d+)\s*$")
    cur = None
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if cur:
                yield cur
            cur = None
            continue
        if not line.startswith("\t") and not line.startswith(" "):
            m = head.match(line)
            if m:
                if cur:
                    yield cur
                cur = (int(m.group(2)), int(m.group(3)), m.group(1).strip(), [])
            continue
        if cur is None:
            continue
        parts = line.strip().split(None, 1)
        if len(parts) < 2:
            continue
        rest = parts[1]
        m = re.match(r"^(.*) \((.*)\)$", rest)
        sym, dso = (m.group(1), m.group(2)) if m else (rest, "")
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        cur[3].append((sym, dso.rsplit("/", 1)[-1]))
    if cur:
        yield cur


def short(s, n=150):
    return s if len(s) <= n else s[: n - 1] + "…"


def main():
    labels = {}
    for a in sys.argv[1:]:
        k, _, v = a.partition("=")
        labels[int(v)] = k
    samples = collections.defaultdict(list)
    for pid, tid, comm, frames in parse(sys.stdin):
        if pid in labels:
            samples[labels[pid]].append((comm, frames))
    allsyms = [s for lst in samples.values() for _, fr in lst for s, _ in fr]
    dm = demangle_all(allsyms)
    total_all = sum(len(v) for v in samples.values())
    print(f"Samples: {total_all} in all Parley processes\n")
    print("| process | share of Parley's samples |\n|---|---|")
    for label, lst in sorted(samples.items(), key=lambda kv: -len(kv[1])):
        print(f"| {label} | {100 * len(lst) / total_all:.1f} % |")
    print()
    for label, lst in sorted(samples.items(), key=lambda kv: -len(kv[1])):
        n = len(lst)
        print(f"## {label} ({n} samples)\n")
        threads = collections.Counter()
        for comm, _ in lst:
            c = re.sub(r"\d+$", "", comm)
            if c.startswith("rdk:"):
                c = "rdk:* (librdkafka)"
            elif c.startswith("NIO-"):
                c = "NIO-* (event loops)"
            elif "qos" in c:
                c = "dispatch/Swift concurrency pool"
            threads[c] += 1
        print("Threads: " + ", ".join(f"{k} {100 * v / n:.0f} %" for k, v in threads.most_common(8)) + "\n")
        print("| cost centre (inclusive) | % of this process |\n|---|---|")
        for name, pred in CENTRES:
            if pred is None:
                if name.startswith("librdkafka threads"):
                    c = sum(1 for comm, _ in lst if comm.startswith("rdk:"))
                elif name.startswith("SwiftNIO"):
                    c = sum(1 for comm, _ in lst if comm.startswith("NIO-"))
                else:
                    c = sum(1 for comm, _ in lst if "qos" in comm)
            else:
                c = sum(1 for _, fr in lst if pred(fr))
            print(f"| {name} | {100 * c / n:.1f} |")
        print()
        inc = collections.Counter()
        selfc = collections.Counter()
        for _, fr in lst:
            seen = set()
            for s, d in fr:
                key = dm.get(s, s) or f"[{d}]"
                if key not in seen:
                    seen.add(key)
                    inc[key] += 1
            if fr:
                s, d = fr[0]
                selfc[f"{dm.get(s, s) or '?'}  [{d}]"] += 1
        print("Top inclusive (symbol on the stack):\n")
        print("| % | symbol |\n|---|---|")
        skip = re.compile(r"^(start_thread|clone3?|_dispatch_|swift_job_run|swift::runJob|__libc_start|main$|\[unknown\])")
        shown = 0
        for k, v in inc.most_common(200):
            if skip.search(k):
                continue
            print(f"| {100 * v / n:.1f} | `{short(k)}` |")
            shown += 1
            if shown >= 30:
                break
        pinc = collections.Counter()
        for _, fr in lst:
            seen = set()
            for sym, _ in fr:
                if sym.startswith(PARLEY_MODULES) and sym not in seen:
                    seen.add(sym)
                    pinc[dm.get(sym, sym)] += 1
        print("\nTop inclusive, Parley's own functions only:\n")
        print("| % | function |\n|---|---|")
        for k, v in pinc.most_common(25):
            print(f"| {100 * v / n:.1f} | `{short(k)}` |")
        print("\nTop self (leaf frame):\n")
        print("| % | symbol [library] |\n|---|---|")
        for k, v in selfc.most_common(15):
            print(f"| {100 * v / n:.1f} | `{short(k)}` |")
        print()


if __name__ == "__main__":
    main()
