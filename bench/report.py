#!/usr/bin/env python3
"""Writes the measured part of docs/benchmarks.md from parley_bench.py JSON lines.

  report.py RESULTS.jsonl [--peer PEER.jsonl] [--baseline BEFORE.jsonl] [--doc docs/benchmarks.md]
            [--commands FILE]

With --baseline (JSON lines of an earlier `make bench` on the same machine), a "before → after"
table of the headline figures comes first, as after/before ratios of medians. `pairs` runs of v1
sessions and of v2 devices (`"mode"`) are compared in a table of their own; `sync`, `history`
(v2) and `fanout` (groups, with issue 13's targets) get a section each.

Only the block between `<!-- generated:begin -->` and `<!-- generated:end -->` is replaced; the
hand-written sections around it (analysis, profile) are kept. Figures are medians over the runs
with [min-max]; ratios are of medians.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess

BEGIN, END = "<!-- generated:begin -->", "<!-- generated:end -->"

TARGETS = {
    "kb_per_conn": 12.0,        # one ws-edge, 19,000 idle sessions
    "us_per_msg": 100.0,        # all Parley processes, per delivered 1:1 message at 1,000 msg/s
    "p50_floor_ratio": 2.0,     # p50 <= 2x floor
    "p99_ms": 30.0,             # at 1,000 msg/s across two edges
    "ramp_rate": 10000.0,       # with p99 <= 50 ms
}


def load(path):
    out = []
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    out.append(json.loads(line))
    return out


def get(d, path):
    for k in path.split("."):
        if d is None:
            return None
        d = d.get(k) if isinstance(d, dict) else None
    return d


def vals(recs, path):
    return [v for v in (get(r, path) for r in recs) if isinstance(v, (int, float))]


def med(recs, path):
    v = vals(recs, path)
    return statistics.median(v) if v else None


def num(x, nd=1):
    if x is None:
        return "-"
    if isinstance(x, float) and abs(x - round(x)) < 1e-9 and abs(x) >= 100:
        return f"{int(round(x)):,}"
    if isinstance(x, int):
        return f"{x:,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def mmm(recs, path, nd=1):
    v = vals(recs, path)
    if not v:
        return "-"
    m = statistics.median(v)
    if len(v) == 1:
        return num(m, nd)
    return f"{num(m, nd)} [{num(min(v), nd)}–{num(max(v), nd)}]"


def held_rates(ramps):
    """The ramps' highest passing rates: their median, and how many runs held any rate."""
    held = [r["max_sustainable_rate"] for r in ramps if r.get("max_sustainable_rate")]
    if not held:
        return "no rate held"
    text = f"{num(statistics.median(held), 0)} msg/s"
    if len(held) > 1:
        text += f" [{num(min(held), 0)}–{num(max(held), 0)}]"
    if len(held) < len(ramps):
        text += f" in {len(held)} of {len(ramps)} runs (no rate held in the others)"
    return text


def edge_kb(r, key="kb_per_conn"):
    e = [x[key] for x in (r.get("edges") or {}).values() if x.get(key) is not None]
    return statistics.mean(e) if e else None


def normalise(cmd):
    """Ports and pids differ per fresh stack: show them as placeholders."""
    import re
    urls = iter(["$EDGE1", "$EDGE2", "$EDGE3", "$EDGE4"])
    cmd = re.sub(r"--url http://127\.0\.0\.1:\d+", lambda m: f"--url http://127.0.0.1:{next(urls)}", cmd)
    cmd = re.sub(r"--pid ([\w.-]+)=\d+", lambda m: f"--pid {m.group(1)}=$PID", cmd)
    cmd = re.sub(r"--kafka 127\.0\.0\.1:\d+", "--kafka 127.0.0.1:$KAFKA_PORT", cmd)
    cmd = re.sub(r"--redis 127\.0\.0\.1:\d+", "--redis 127.0.0.1:$REDIS_PORT", cmd)
    return cmd


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1048576:.0f} GiB"
    except OSError:
        pass

    def cmd(c):
        try:
            return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        except Exception:  # noqa: BLE001
            return "?"
    return {"cpu": f"{os.cpu_count()} × {model}", "mem": mem, "kernel": platform.release(),
            "swift": cmd("swift --version 2>&1 | grep -m1 'Swift version'"),
            "redis": "Redis " + (cmd("redis-server --version").split("v=")[-1].split()[0] if "v=" in cmd("redis-server --version") else "?"),
            "python": platform.python_version()}


def over(v, target):
    return "" if v <= target else f" ({v / target:.1f}× the target)"


def under(v, target):
    return "" if v >= target else f" ({v / target:.2f}× the target)"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def baseline_table(before, after):
    """Before → after of the headline figures: medians of each file, ratio after/before."""
    by = lambda recs, scen, label: [r for r in recs if r.get("scenario") == scen and r.get("label") == label]
    first = lambda recs: min((r.get("time", "") for r in recs), default="")[:16].replace("T", " ")
    L = ["### Before → after (same machine, same tool and settings)", ""]
    L.append(f"Before: `{os.path.basename(before['path'])}` (measured {first(before['recs'])}); after: this run "
             f"(measured {first(after)}). Medians over each file's runs; ratio = after / before (< 1 is better for "
             "costs and latencies, > 1 for rates).")
    L.append("")
    L.append("| metric | before | after | after/before |")
    L.append("|---|---|---|---|")
    b, a = before["recs"], after

    def row(name, recs_b, recs_a, path, nd=1, unit=""):
        x, y = med(recs_b, path), med(recs_a, path)
        if x is None and y is None:
            return
        ratio = f"{y / x:.2f}×" if x and y is not None else "-"
        L.append(f"| {name} | {num(x, nd)}{unit if x is not None else ''} | {num(y, nd)}{unit if y is not None else ''} | {ratio} |")

    pb, pa = by(b, "pairs", "pairs-1000"), by(a, "pairs", "pairs-1000")
    row("**Parley CPU µs per delivered message**, 1,000 msg/s", pb, pa, "cpu.parley_us_per_msg", 1, " µs")
    pv2 = by(a, "pairs", "pairs-v2-1000")
    if pv2:
        row("… after with v2 devices (own copies, acks by seq)", pb, pv2, "cpu.parley_us_per_msg", 1, " µs")
    row("all servers (+Tansu, Redis) CPU µs per message", pb, pa, "cpu.server_us_per_msg", 1, " µs")
    for label in ("ws-edge-1", "ws-edge-2", "relay-svc", "offline-svc", "tansu", "redis"):
        row(f"CPU {label} % of a core, 1,000 msg/s", pb, pa, f"cpu.per_pid.{label}.pct", 1, " %")
    row("`sent` ack p50", pb, pa, "sent_ack_ms.p50", 2, " ms")
    row("`sent` ack p99", pb, pa, "sent_ack_ms.p99", 2, " ms")
    row("end-to-end latency p50, 1,000 msg/s", pb, pa, "latency_ms.p50", 2, " ms")
    row("end-to-end latency p99, 1,000 msg/s", pb, pa, "latency_ms.p99", 2, " ms")
    row("end-to-end latency p99.9, 1,000 msg/s", pb, pa, "latency_ms.p999", 2, " ms")
    if pv2:
        row("end-to-end latency p50, 1,000 msg/s, after with v2 devices", pb, pv2, "latency_ms.p50", 2, " ms")
        row("end-to-end latency p99, 1,000 msg/s, after with v2 devices", pb, pv2, "latency_ms.p99", 2, " ms")
    row("Redis commands per message (inside scripts included)", pb, pa, "redis.commands_per_msg", 2)
    if pv2:
        row("… after with v2 devices", pb, pv2, "redis.commands_per_msg", 2)
    if pb or pa:
        L.append(f"| lost / duplicates (sum over runs), 1,000 msg/s | {sum(vals(pb, 'lost'))} / {sum(vals(pb, 'dups'))} "
                 f"({len(pb)} runs) | {sum(vals(pa, 'lost'))} / {sum(vals(pa, 'dups'))} ({len(pa)} runs) | |")
    row("one broker hop p50 (produce → consume), linger.ms=1", floors(b)[1], floors(a)[1], "broker_hop_ms.p50", 2, " ms")
    row(f"path floor p50 (before: {path_of(floors(b)[1])}; after: {path_of(floors(a)[1])}), linger.ms=1", floors(b)[1],
        floors(a)[1], "path_floor_ms.p50", 2, " ms")
    for label, name in (("ramp", "ramp: max rate with p99 ≤ 50 ms, no loss"),
                        ("ramp-capacity", "ramp-capacity: max rate without loss, p99 ≤ 1 s")):
        rb, ra = by(b, "ramp", label), by(a, "ramp", label)
        if not (rb or ra):
            continue
        def show(rs):
            if not rs:
                return "not run"
            if med(rs, "max_sustainable_rate"):
                return held_rates(rs)
            lowest = min((s["rate"] for r in rs for s in r["steps"]), default=None)
            return f"none (down to {num(float(lowest), 0)} msg/s)" if lowest else "none"
        x, y = med(rb, "max_sustainable_rate"), med(ra, "max_sustainable_rate")
        ratio = f"{y / x:.2f}×" if x and y else "-"
        L.append(f"| {name} | {show(rb)} | {show(ra)} | {ratio} |")
    cb, ca = [r for r in b if r.get("scenario") == "conns"], [r for r in a if r.get("scenario") == "conns"]
    for n in sorted({r["n"] for r in cb} | {r["n"] for r in ca}):
        xb = [edge_kb(r) for r in cb if r["n"] == n and edge_kb(r) is not None]
        xa = [edge_kb(r) for r in ca if r["n"] == n and edge_kb(r) is not None]
        x = statistics.median(xb) if xb else None
        y = statistics.median(xa) if xa else None
        ratio = f"{y / x:.2f}×" if x and y else "-"
        L.append(f"| KB RSS per idle session per edge, N={n:,} | {num(x) + ' KB' if x else 'not run'} | "
                 f"{num(y) + ' KB' if y else 'not run'} | {ratio} |")
    L.append("")
    return L


def path_of(recs):
    """How a floor record composed its path floor (records before v2 wrote 2 hops + 1 Redis round trip)."""
    hops, trips = (recs[0].get("path_hops", 2), recs[0].get("path_redis", 1)) if recs else (2, 1)
    return f"{hops} hops + {trips} Redis round trip{'s' if trips != 1 else ''}"


def linger_of(rec):
    return (rec.get("client_settings") or {}).get("linger.ms", 1)


def floors(recs):
    """(floor with the stack's client settings, floor with linger.ms=1: the broker's own)."""
    fl = [r for r in recs if r.get("scenario") == "floor"]
    return [r for r in fl if r.get("label") != "floor-linger1"], [r for r in fl if linger_of(r) == 1]


def redis_rows(recs, unit, name):
    """Table rows of Redis's cost per unit of work (`redis.*_per_<unit>`), when the runs measured it."""
    if not vals(recs, f"redis.commands_per_{unit}") and not vals(recs, f"redis.cpu_us_per_{unit}"):
        return []
    return [f"| Redis CPU µs per {name} | {mmm(recs, f'redis.cpu_us_per_{unit}')} |",
            f"| Redis commands per {name} (inside scripts included) | {mmm(recs, f'redis.commands_per_{unit}', 2)} |",
            f"| … of which script calls (EVALSHA) | {mmm(recs, f'redis.scripts_per_{unit}', 2)} |"]


def pairs_modes(v1, v2):
    """The same pairs load through v1 sessions and through v2 devices, medians side by side."""
    P = v2[0]
    L = [f"### pairs: v1 sessions vs v2 devices ({num(P['rate'], 0)} msg/s, {P['pairs']} pairs)", ""]
    L.append("The same pairs run with every session a fresh v2 device (`device=`, no cursor: it starts at the head "
             "and is ready at `synced`): receivers ack the highest `seq` seen, coalesced every "
             f"{P['ack_interval_ms']:g} ms; a sender gets its own message back as a stream entry (counted as an own "
             "copy, not a delivery) and a `delivered` receipt. Runs alternate with the v1 runs, each on a fresh stack. "
             "Medians [min–max]; ratio = v2 / v1 of the medians.")
    L.append("")
    L.append("| metric | v1 sessions | v2 devices | v2/v1 |")
    L.append("|---|---|---|---|")

    def row(name, key, nd=1):
        a, b = med(v1, key), med(v2, key)
        if a is None and b is None:
            return
        ratio = f"{b / a:.2f}×" if a and b is not None else "-"
        L.append(f"| {name} | {mmm(v1, key, nd)} | {mmm(v2, key, nd)} | {ratio} |")
    for name, key, nd in (("delivered", "delivered", 0), ("lost (after drain)", "lost", 0), ("duplicates", "dups", 0),
                          ("own copies (v2 senders)", "own_copies", 0), ("receipts", "receipts", 0),
                          ("ack frames", "ack_frames", 0), ("latency p50 ms", "latency_ms.p50", 2),
                          ("latency p99 ms", "latency_ms.p99", 2), ("`sent` ack p50 ms", "sent_ack_ms.p50", 2),
                          ("`sent` ack p99 ms", "sent_ack_ms.p99", 2),
                          ("**Parley CPU µs per delivered message**", "cpu.parley_us_per_msg", 1),
                          ("all servers (+Tansu, Redis) CPU µs per message", "cpu.server_us_per_msg", 1)):
        row(name, key, nd)
    for label in P["cpu"]["per_pid"]:
        row(f"CPU {label} % of a core", f"cpu.per_pid.{label}.pct")
    row("Redis CPU µs per message", "redis.cpu_us_per_msg")
    row("Redis commands per message (inside scripts included)", "redis.commands_per_msg", 2)
    row("… of which script calls (EVALSHA)", "redis.scripts_per_msg", 2)
    L.append("")
    return L


def sync_section(recs):
    """One device replaying a backlog of N entries, per N."""
    if not recs:
        return []
    R = recs[0]
    f, edge = R["fill"], R.get("edge", "ws-edge-1")
    L = ["### sync: one device replays a backlog of N entries", ""]
    L.append(f"One fresh user's stream is filled with N messages through the front door ({f['senders']} v1 sessions of "
             f"other users, {num(float(f['rate_per_sender']), 0)} sends/s each, under the edge's default `--send-rate`, "
             f"{R['body_size']}-byte bodies) until `meta h` = N; then a fresh device connects to {edge} with `since=0` "
             f"and the epoch and acks the highest `seq` seen every {R.get('ack_interval_ms', 5):g} ms. Time from the "
             "connect request to `synced`; entries/s = N / that time; RSS of every process sampled every 100 ms during "
             "the drain (peak, and its growth over the value before the connect); every entry checked once, in `seq` "
             "order. offline-svc keeps more than the largest N (`PARLEY_STREAM_MAX_ENTRIES`).")
    L.append("")
    L.append(f"| N | time to `synced` s | entries/s | first entry s | {edge} peak RSS KB (growth) | "
             "offline-svc peak RSS KB (growth) | lost | dups | `seq` order breaks | Parley CPU µs per entry | "
             "Redis commands per entry | fill msg/s |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sorted({r["n"] for r in recs}):
        rs = [r for r in recs if r["n"] == n and "received" in r]
        if not rs:
            L.append(f"| {n:,} | not drained | | | | | | | | | | |")
            continue
        rss = lambda label: (f"{mmm(rs, f'rss.{label}.peak_kb', 0)} ({mmm(rs, f'rss.{label}.growth_kb', 0)})")
        L.append(f"| {n:,} | {mmm(rs, 'time_to_synced_s', 2)} | {mmm(rs, 'entries_per_s', 0)} | "
                 f"{mmm(rs, 'time_to_first_entry_s', 3)} | {rss(edge)} | {rss('offline-svc')} | {mmm(rs, 'lost', 0)} | "
                 f"{mmm(rs, 'dups', 0)} | {mmm(rs, 'order_breaks', 0)} | {mmm(rs, 'cpu.parley_us_per_entry')} | "
                 f"{mmm(rs, 'redis.commands_per_entry', 2)} | {mmm(rs, 'fill.rate', 0)} |")
    L.append("")
    failed = [r for r in recs if r.get("error")]
    if failed:
        L.append("Runs that did not complete: " + "; ".join(f"N={r['n']:,}: {r['error']}" for r in failed) + ".")
        L.append("")
    return L


def history_section(recs):
    """C clients paging one conversation back to back."""
    rs = [r for r in recs if "pages" in r]
    if not recs:
        return []
    R = recs[0]
    L = [f"### history: {R['clients']} clients paging a conversation of {R['messages']:,} messages", ""]
    L.append(f"One dm conversation filled with {R['messages']:,} messages through the front door; then {R['clients']} "
             "v2 devices of its two members, spread over both edges, each ask `history` pages "
             f"(`limit` {R['limit']}, a random `before` within the log) one after another for {num(R['duration_s'], 0)} s. "
             "Latency is from the request to its page; every page is checked (exactly the `cseq`s below `before`, "
             "oldest first, `more` right). CPU over the paging window.")
    L.append("")
    if not rs:
        L.append("No run completed: " + "; ".join(str(r.get("error")) for r in recs) + ".")
        L.append("")
        return L
    L.append("| metric | median [min–max] |")
    L.append("|---|---|")
    for name, key, nd in (("pages", "pages", 0), ("**pages/s**", "pages_per_s", 1), ("wrong pages", "bad_pages", 0),
                          ("latency p50 ms", "latency_ms.p50", 2), ("latency p90 ms", "latency_ms.p90", 2),
                          ("latency p99 ms", "latency_ms.p99", 2), ("latency max ms", "latency_ms.max", 1)):
        L.append(f"| {name} | {mmm(rs, key, nd)} |")
    errors = {}
    for r in rs:
        for k, v in (r.get("errors") or {}).items():
            errors[k] = errors.get(k, 0) + v
    L.append(f"| errors (sum over runs) | {', '.join(f'{k} {v}' for k, v in errors.items()) or '0'} |")
    for label in rs[0]["cpu"]["per_pid"]:
        L.append(f"| CPU {label} % of a core | {mmm(rs, f'cpu.per_pid.{label}.pct')} |")
    L.append(f"| Parley CPU µs per page | {mmm(rs, 'cpu.parley_us_per_page')} |")
    L += redis_rows(rs, "page", "page")
    L.append("")
    return L


def above_idle_ratio(r):
    """A run's CPU-per-delivery ratio with the stack's idle CPU (what every process burns with no
    traffic: mostly librdkafka's fetch loops) taken out of both sides: the group's CPU over the send
    window minus idle for that window, per delivery, over the dm reference's CPU per message minus
    idle at its rate. None when the run lacks a figure."""
    c, dm, idle = r.get("cpu") or {}, r.get("dm") or {}, r.get("idle_cpu") or {}
    if not (c.get("parley_cpu_s") and c.get("parley_us_per_delivery") and dm.get("parley_us_per_msg") and dm.get("rate")
            and idle.get("parley_pct") is not None):
        return None
    share = idle["parley_pct"] / 100
    group = c["parley_us_per_delivery"] * (1 - share * c["window_s"] / c["parley_cpu_s"])
    direct = dm["parley_us_per_msg"] - share * 1e6 / dm["rate"]
    return group / direct if direct > 0 else None


def fanout_section(recs):
    """Groups of N members, one message a second per group; the issue's targets as ratios to the dm
    reference (a v2 pairs run) measured first on the same stack."""
    if not recs:
        return []
    rs = [r for r in recs if "deliveries" in r]
    R = recs[0]
    L = ["### fanout: groups of N members, one message a second per group", ""]
    L.append("Every member a fresh v2 device, online, a group's members alternating between the two edges; member 0 "
             "creates the group (`group_create`) and the run waits until every member's stream has the `created` "
             "entry. Then each group gets one message a second from a rotating member "
             f"({R.get('body_size', 100)}-byte bodies); members ack the highest `seq` every "
             f"{R.get('ack_interval_ms', 5):g} ms. A delivery is a message reaching another member's session (the "
             "sender's own copy is checked, not counted); each must arrive exactly once (by message and by `seq`, "
             "every member with the same `msg` and `cseq`) within the drain. Latency from `send()` to each delivery, "
             "and to the last member of each message (messages that reached all). CPU over the send window, divided "
             "by the deliveries sent in it. **dm reference**: first, on the same stack, a v2 `pairs` run at the "
             "fan-out's delivery rate (at most 2,000 msg/s): its CPU per message and its p99 are what the targets are "
             "ratios of.")
    L.append("")
    if not rs:
        L.append("No run completed: " + "; ".join(f"N={r['members']}: {r.get('error')}" for r in recs) + ".")
        L.append("")
        return L
    sizes = sorted({r["members"] for r in rs})
    of = lambda n: [r for r in rs if r["members"] == n]
    total = lambda runs, key: sum(vals(runs, key))
    L.append("| members | groups × members online | msgs/s | deliveries/s | deliveries (lost / dups) | every delivery p50 / p99 ms "
             "| to the last member p50 / p99 ms | dm p99 ms | **Parley CPU µs per delivery** | dm: Parley CPU µs per msg |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        x = of(n)
        L.append(f"| {n:,} | {x[0]['groups']} × {n:,} | {mmm(x, 'msgs_per_s')} | {mmm(x, 'deliveries_per_s', 0)} | "
                 f"{total(x, 'deliveries'):,} ({total(x, 'lost'):,} / {total(x, 'dups'):,}) | "
                 f"{mmm(x, 'latency_ms.p50', 2)} / {mmm(x, 'latency_ms.p99', 2)} | "
                 f"{mmm(x, 'last_member_ms.p50', 2)} / {mmm(x, 'last_member_ms.p99', 2)} | {mmm(x, 'dm.latency_ms.p99', 2)} | "
                 f"{mmm(x, 'cpu.parley_us_per_delivery')} | {mmm(x, 'dm.parley_us_per_msg')} |")
    L.append("")
    L.append(f"Sums over the {len(rs)} runs: own copies missing {total(rs, 'own_copies_missing')}, `seq` repeats "
             f"{total(rs, 'seq_repeats')}, `seq` gaps {total(rs, 'seq_gaps')}, members disagreeing on `msg`/`cseq` "
             f"{total(rs, 'order_mismatches')}, misrouted {total(rs, 'misrouted')}, disconnected "
             f"{total(rs, 'disconnected')}, dm reference lost {total(rs, 'dm.lost')}.")
    L.append("")
    L.append("Targets (issue 13), each run's ratio to its own dm reference, median [min–max]:")
    L.append("")
    L.append("| target | members | measured | verdict |")
    L.append("|---|---|---|---|")
    for n in sizes:
        ratio = med(of(n), "targets.cpu_ratio")
        if ratio is not None:
            L.append(f"| CPU per delivered group message ≤ 1/5 of a dm message's | {n:,} | "
                     f"{mmm(of(n), 'targets.cpu_ratio', 3)} | {verdict(ratio <= 0.2)} |")
    for n in sizes:
        ratios = [x for x in (above_idle_ratio(r) for r in of(n)) if x is not None]
        if ratios:
            ratios.sort()
            mid = ratios[len(ratios) // 2] if len(ratios) % 2 else (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
            L.append(f"| the same, both above the stack's idle CPU (measured with every member online) | {n:,} | "
                     f"{mid:.3f} [{ratios[0]:.3f}–{ratios[-1]:.3f}] | {verdict(mid <= 0.2)} |")
    for n in sizes:
        ratio = med(of(n), "targets.last_p99_ratio")
        if ratio is not None:
            L.append(f"| p99 to the last member < 2× the dm p99{'' if n == 1000 else ' (the issue asks it of 1,000)'} | "
                     f"{n:,} | {mmm(of(n), 'targets.last_p99_ratio', 2)} | {verdict(ratio < 2) if n == 1000 else ''} |")
    L.append("")
    labels = list(rs[0]["cpu"]["us_per_delivery"])
    L.append("CPU µs per delivery by process (and the group creation):")
    L.append("")
    L.append("| members | " + " | ".join(labels) + " | generator | Redis commands per delivery | "
             "create s (to every member's `created`) |")
    L.append("|---|" + "---|" * len(labels) + "---|---|---|")
    for n in sizes:
        x = of(n)
        L.append(f"| {n:,} | " + " | ".join(mmm(x, f"cpu.us_per_delivery.{label}") for label in labels) +
                 f" | {mmm(x, 'cpu.generator_us_per_delivery')} | {mmm(x, 'redis.commands_per_delivery', 2)} | "
                 f"{mmm(x, 'create_s', 2)} |")
    L.append("")
    failed = [r for r in recs if r.get("error")]
    if failed:
        L.append("Runs that did not complete: " + "; ".join(f"N={r['members']}: {r['error']}" for r in failed) + ".")
        L.append("")
    return L


def build(results, peer, commands, elapsed, reps, ramp_reps, baseline=None):
    by = lambda recs, scen, label=None: [r for r in recs if r.get("scenario") == scen and (label is None or r.get("label") == label)]
    floor, floor1 = floors(results)
    linger = linger_of(floor[0]) if floor else 1
    pairs = [r for r in by(results, "pairs") if r.get("mode", "v1") == "v1"]
    pairs_v2 = [r for r in by(results, "pairs") if r.get("mode") == "v2"]
    ramps = by(results, "ramp", "ramp") or [r for r in by(results, "ramp") if r.get("label") != "ramp-capacity"]
    caps = by(results, "ramp", "ramp-capacity")
    conns = by(results, "conns")
    ns = sorted({r["n"] for r in conns})
    m = machine()
    L = []
    date = min((r.get("time", "") for r in results), default="")[:16].replace("T", " ")
    L.append(f"Measured {date} (local time of the machine) by `make bench`"
             f"{f' in {elapsed // 60} min' if elapsed else ''}; {reps} run(s) per scenario, ramp {ramp_reps}, "
             "each on a freshly started stack. Figures are medians with [min–max] over runs.")
    L.append("")
    L.append(f"Machine: {m['cpu']}, {m['mem']} RAM, Linux {m['kernel']}; {m['swift']}; {m['redis']}; "
             f"Tansu 0.6 (memory engine); librdkafka 2.16 (confluent-kafka wheel); generator on Python {m['python']} "
             "with uvloop + picows. **Everything shares the same 2 cores**: the broker, Redis, the five Parley "
             "processes and the load generator.")
    L.append("")
    if baseline and baseline["recs"]:
        L += baseline_table(baseline, results)

    # ---------------------------------------------------------------- headline / targets
    f50 = med(floor, "path_floor_ms.p50")
    p50 = med(pairs, "latency_ms.p50")
    p99 = med(pairs, "latency_ms.p99")
    us = med(pairs, "cpu.parley_us_per_msg")
    lost = sum(vals(pairs, "lost"))
    big = [r for r in conns if r["n"] == max(ns)] if ns else []
    kb_edge_big = statistics.median([edge_kb(r) for r in big if edge_kb(r) is not None]) if big else None
    per_edge_big = statistics.median([min(e["sessions"] for e in r["edges"].values()) for r in big if r.get("edges")]) if big else None
    ramp_rate = med(ramps, "max_sustainable_rate")
    L.append("### Targets (issue 6)")
    L.append("")
    L.append("| target | measured (median) | verdict |")
    L.append("|---|---|---|")
    if kb_edge_big is not None:
        held = per_edge_big is not None and per_edge_big >= 19000
        L.append(f"| one ws-edge holds 19,000 idle sessions at ≤ 12 KB RSS each | {num(per_edge_big, 0)} sessions per edge, "
                 f"{num(kb_edge_big)} KB each | {verdict(held and kb_edge_big <= TARGETS['kb_per_conn'])}"
                 f"{over(kb_edge_big, TARGETS['kb_per_conn'])} |")
    if us is not None:
        L.append(f"| ≤ 100 µs CPU of all Parley processes per delivered message at 1,000 msg/s | {num(us)} µs | "
                 f"{verdict(us <= TARGETS['us_per_msg'])}{over(us, TARGETS['us_per_msg'])} |")
    if p50 is not None and f50:
        r = p50 / f50
        f50_1 = med(floor1, "path_floor_ms.p50")
        own = (f"; {p50 / f50_1:.1f}× the broker's own floor at linger 1 ms ({num(f50_1, 2)} ms)"
               if f50_1 and linger != 1 else "")
        L.append(f"| p50 ≤ 2× floor at 1,000 msg/s | p50 {num(p50, 2)} ms = {r:.1f}× the path floor with Parley's "
                 f"client settings, linger {num(float(linger), 0)} ms ({num(f50, 2)} ms){own} | "
                 f"{verdict(r <= TARGETS['p50_floor_ratio'])}{over(r, TARGETS['p50_floor_ratio'])} |")
    if p99 is not None:
        L.append(f"| p99 ≤ 30 ms at 1,000 msg/s across two edges, nothing lost | p99 {num(p99, 1)} ms, lost {lost} | "
                 f"{verdict(p99 <= TARGETS['p99_ms'] and lost == 0)}{over(p99, TARGETS['p99_ms'])}"
                 f"{'' if lost == 0 else f' ({lost} lost)'} |")
    if ramps:
        lowest = min((s["rate"] for r in ramps for s in r["steps"]), default=None)
        L.append(f"| ramp ≥ 10,000 msg/s with p99 ≤ 50 ms | "
                 f"{held_rates(ramps) if ramp_rate else f'no passing step (down to {num(float(lowest), 0)} msg/s)'} | "
                 f"{verdict((ramp_rate or 0) >= TARGETS['ramp_rate'])}"
                 f"{under(ramp_rate, TARGETS['ramp_rate']) if ramp_rate else ' (no rate held)'} |")
    L.append("")

    # ---------------------------------------------------------------- peer comparison
    if peer:
        pc = by(peer, "conns")
        pp = by(peer, "pairs")
        pr = by(peer, "ramp", "ramp")
        peer_date = min((r.get("time", "") for r in peer), default="")[:16].replace("T", " ")
        L.append("### Parley vs the Socket.IO + Redis peer (same tool, same settings)")
        L.append("")
        L.append(f"The peer (python-socketio + aiohttp + `AsyncRedisManager`, 2 nodes + Redis) was driven by the same "
                 f"`parley_bench.py --protocol socketio` runs on this machine, measured {peer_date} "
                 f"({len(pc)} conns, {len(pp)} pairs, {len(pr)} ramp runs; `bench/peer_suite.sh`); Parley's column is "
                 f"this run ({date}). Medians; peer figures count its 2 nodes + Redis.")
        L.append("")
        L.append("| metric | Parley | peer | ratio | issue asks |")
        L.append("|---|---|---|---|---|")
        for n in sorted({r["n"] for r in pc} & set(ns)):
            a = med([r for r in conns if r["n"] == n], "kb_per_conn_all")
            b = med([r for r in pc if r["n"] == n], "kb_per_conn_all")
            if a and b:
                L.append(f"| server RSS per idle connection, N={n:,} (all server pids incl. Redis{', broker' if True else ''}) | "
                         f"{num(a)} KB | {num(b)} KB | peer/Parley {b / a:.2f}× | ≥ 2.5× less |")
            a = med([r for r in conns if r["n"] == n], "kb_per_conn_parley")
            if a and b:
                L.append(f"| … Parley's own processes only, N={n:,} | {num(a)} KB | {num(b)} KB | peer/Parley {b / a:.2f}× | |")
        if pairs and pp:
            a = med(pairs, "cpu.server_us_per_msg")
            b = med(pp, "cpu.server_us_per_msg")
            a2 = med(pairs, "cpu.parley_us_per_msg")
            if a and b:
                L.append(f"| server CPU per message at 1,000 msg/s (all server pids) | {num(a)} µs | {num(b)} µs | "
                         f"Parley/peer {a / b:.2f}× | |")
            if a2 and b:
                L.append(f"| … Parley's own processes (no broker, no Redis) | {num(a2)} µs | {num(b)} µs | Parley/peer {a2 / b:.2f}× | |")
            a, b = med(pairs, "latency_ms.p50"), med(pp, "latency_ms.p50")
            if a and b:
                L.append(f"| latency p50 at 1,000 msg/s | {num(a, 2)} ms | {num(b, 2)} ms | {a / b:.1f}× | |")
            a, b = med(pairs, "latency_ms.p99"), med(pp, "latency_ms.p99")
            if a and b:
                L.append(f"| latency p99 at 1,000 msg/s | {num(a, 2)} ms | {num(b, 2)} ms | {a / b:.1f}× | |")
        if ramps and pr:
            a, b = med(ramps, "max_sustainable_rate"), med(pr, "max_sustainable_rate")
            if b:
                lowest = min((s["rate"] for r in ramps for s in r["steps"]), default=None)
                a_s = held_rates(ramps) if a else f"none (failed down to {num(float(lowest), 0)} msg/s)"
                L.append(f"| max sustainable rate (p99 ≤ 50 ms, no loss) | {a_s} | {num(b, 0)} msg/s | "
                         f"Parley/peer {(a or 0) / b:.2f}× | ≥ 3× |")
        pcap = by(peer, "ramp", "ramp-capacity")
        if caps and pcap:
            a, b = med(caps, "max_sustainable_rate"), med(pcap, "max_sustainable_rate")
            if a and b:
                L.append(f"| max rate without loss, p99 ≤ 1 s | {num(a, 0)} msg/s | {num(b, 0)} msg/s | Parley/peer {a / b:.2f}× | |")
        L.append("")
        L.append("The peer gives a weaker promise: it has no `sent` acknowledgement, no durable hand-off, no acks, "
                 "no offline inbox, no history and no receipts; Parley's numbers include all of that (each delivered "
                 "message costs 3 broker hops, a conversation-log append, a stream entry per member, an ack record and "
                 "a receipt).")
        L.append("")

    # ---------------------------------------------------------------- floor
    if floor:
        L.append("### Floor: the broker and Redis alone")
        L.append("")
        L.append("One message at a time on the same Tansu the stack uses, with Parley's client settings "
                 f"(`socket.nagle.disable=true`, `fetch.wait.max.ms=10`, `linger.ms={num(float(linger), 0)}` as the "
                 "services' `--kafka-linger`, `acks=all`, idempotent producer)"
                 + (" and, below it, with `linger.ms=1` (the broker's own floor). A lone record waits out the linger; "
                    "under load a batch fills meanwhile." if linger != 1 else "."))
        L.append("")
        L.append("| what | p50 ms | p90 ms | p99 ms |")
        L.append("|---|---|---|---|")
        sets = [(floor, "")] + ([(floor1, ", linger 1 ms")] if floor1 and floor1 != floor else [])
        for recs, suffix in sets:
            for name, key in (("produce, until acknowledged (flushed at once: no linger)", "produce_ack_ms"), ("one broker hop, produce → consume", "broker_hop_ms"),
                              ("one Redis round trip (PING)", "redis_rtt_ms"),
                              (f"**path floor** = {path_of(recs)}", "path_floor_ms")):
                if suffix and key in ("redis_rtt_ms", "produce_ack_ms"):
                    continue
                L.append(f"| {name}{suffix} | {mmm(recs, key + '.p50', 2)} | {mmm(recs, key + '.p90', 2)} | {mmm(recs, key + '.p99', 2)} |")
        L.append("")

    # ---------------------------------------------------------------- conns
    if conns:
        L.append("### conns: idle authenticated sessions")
        L.append("")
        L.append("Sessions split evenly over the two edges (login + WebSocket + `welcome`), generator split over "
                 "several processes and 127.0.0.x source addresses; RSS read from /proc/PID/status before connecting "
                 "and 5 s after the last connect.")
        L.append("")
        L.append("| N | connected | alive after hold | KB/session per edge | KB/session, all Parley pids | KB/session, all pids (+Tansu, Redis) | connects/s | connect p99 ms |")
        L.append("|---|---|---|---|---|---|---|---|")
        for n in ns:
            rs = [r for r in conns if r["n"] == n]
            ek = [edge_kb(r) for r in rs if edge_kb(r) is not None]
            ek_s = "-" if not ek else (num(statistics.median(ek)) + (f" [{num(min(ek))}–{num(max(ek))}]" if len(ek) > 1 else ""))
            L.append(f"| {n:,} | {mmm(rs, 'connected', 0)} | {mmm(rs, 'alive_end', 0)} | {ek_s} | "
                     f"{mmm(rs, 'kb_per_conn_parley')} | {mmm(rs, 'kb_per_conn_all')} | {mmm(rs, 'connect_rate', 0)} | "
                     f"{mmm(rs, 'connect_ms.p99', 0)} |")
        L.append("")
        rs = big
        if rs:
            L.append(f"RSS per process at N={max(ns):,} (median before → after, KB):")
            L.append("")
            for label in rs[0]["rss_per_pid"]:
                b = med(rs, f"rss_per_pid.{label}.before_kb")
                a = med(rs, f"rss_per_pid.{label}.after_kb")
                L.append(f"- {label}: {num(b, 0)} → {num(a, 0)}")
            L.append("")

    # ---------------------------------------------------------------- pairs
    if pairs:
        P = pairs[0]
        L.append(f"### pairs: {P['pairs']} cross-edge pairs, {num(P['rate'], 0)} msg/s, {num(P['duration_s'], 0)} s")
        L.append("")
        L.append(f"Senders on one edge, receivers on the other; open-loop schedule; {P['body_size']}-byte bodies; receivers "
                 f"ack every message, batched per receiver every {P['ack_interval_ms']:g} ms (at 10 msg/s per receiver that "
                 "is nearly always one message per ack). Latency is from the sender's `send()` to the receiver parsing "
                 "the frame (one process, one clock); a message counts as delivered when it arrives within the drain "
                 f"({P['drain_s']:g} s after the last send). CPU is user+system from /proc/PID/stat over the send window.")
        L.append("")
        L.append("| metric | median [min–max] |")
        L.append("|---|---|")
        rows = [("sent", "sent", 0), ("`sent`-acknowledged", "sent_acked", 0), ("delivered", "delivered", 0),
                ("lost (after drain)", "lost", 0), ("duplicates", "dups", 0), ("misrouted", "misrouted", 0),
                ("latency p50 ms", "latency_ms.p50", 2), ("latency p90 ms", "latency_ms.p90", 2),
                ("latency p99 ms", "latency_ms.p99", 2), ("latency p99.9 ms", "latency_ms.p999", 2),
                ("latency max ms", "latency_ms.max", 1), ("`sent` ack p50 ms", "sent_ack_ms.p50", 2),
                ("`sent` ack p99 ms", "sent_ack_ms.p99", 2)]
        for name, key, nd in rows:
            L.append(f"| {name} | {mmm(pairs, key, nd)} |")
        if f50 and p50:
            L.append(f"| p50 / path floor p50 | {p50 / f50:.1f}× |")
        for label in P["cpu"]["per_pid"]:
            L.append(f"| CPU {label} % of a core | {mmm(pairs, f'cpu.per_pid.{label}.pct')} |")
        L.append(f"| CPU all Parley processes % | {mmm(pairs, 'cpu.parley_pct')} |")
        L.append(f"| CPU all server processes (+Tansu, Redis) % | {mmm(pairs, 'cpu.server_pct')} |")
        L.append(f"| CPU generator % | {mmm(pairs, 'cpu.generator.pct')} |")
        L.append(f"| machine busy % (100 = both cores) | {mmm(pairs, 'cpu.machine_busy_pct')} |")
        L.append(f"| **Parley CPU µs per delivered message** | {mmm(pairs, 'cpu.parley_us_per_msg')} |")
        L.append(f"| all servers (+Tansu, Redis) CPU µs per message | {mmm(pairs, 'cpu.server_us_per_msg')} |")
        L.append(f"| idle CPU before the run, all Parley processes % | {mmm(pairs, 'idle_cpu.parley_pct')} |")
        L.append(f"| idle CPU before the run, Tansu % | {mmm(pairs, 'idle_cpu.per_pid_pct.tansu')} |")
        L += redis_rows(pairs, "msg", "message")
        L.append("")
    if pairs and pairs_v2:
        L += pairs_modes(pairs, pairs_v2)

    # ---------------------------------------------------------------- ramp
    if ramps:
        L.append("### ramp: highest rate that held (p99 ≤ 50 ms, nothing lost)")
        L.append("")
        start = ramps[0]["steps"][0]["rate"] if ramps[0].get("steps") else None
        L.append(f"100 pairs, steps ×1.25 from {num(float(start), 0) if start else '?'} msg/s, "
                 f"{num(ramps[0]['step_s'], 0)} s per step after a short warm-up, "
                 "then 2 bisection steps between the last pass and the first failure.")
        L.append("")
        L.append(f"Max sustainable rate: **{held_rates(ramps)}**; "
                 f"stop reasons: {', '.join(sorted({str(r.get('stop_reason')) for r in ramps}))}.")
        L.append("")
        L.append("Steps of each run (CPU in % of one core):")
        L.append("")
        labels = list(ramps[0]["steps"][0]["per_pid_pct"]) if ramps[0]["steps"] else []
        L.append("| run | msg/s | result | p50 ms | p99 ms | lost | " + " | ".join(labels) + " | generator | Parley µs/msg |")
        L.append("|---|---|---|---|---|---|" + "---|" * len(labels) + "---|---|")
        for i, r in enumerate(ramps, 1):
            for s in sorted(r["steps"], key=lambda s: s["rate"]):
                L.append(f"| {i} | {num(float(s['rate']), 0)} | {'pass' if s['pass'] else 'FAIL: ' + s['why']} | {num(s['p50'], 2)} | "
                         f"{num(s['p99'], 1)} | {s['lost']} | " + " | ".join(num(s['per_pid_pct'].get(l)) for l in labels) +
                         f" | {num(s['generator_pct'])} | {num(s['parley_us_per_msg'])} |")
        L.append("")

    if caps:
        L.append("### ramp-capacity: highest rate carried without loss (p99 ≤ 1 s)")
        L.append("")
        L.append("The same ramp with a loose latency limit, steps ×1.5: how much the stack carries at all on this machine.")
        L.append("")
        L.append(f"Max rate without loss and p99 ≤ 1 s: **{mmm(caps, 'max_sustainable_rate', 0)} msg/s**; "
                 f"stop reasons: {', '.join(sorted({str(r.get('stop_reason')) for r in caps}))}.")
        L.append("")
        labels = list(caps[0]["steps"][0]["per_pid_pct"]) if caps[0]["steps"] else []
        L.append("| run | msg/s | result | p50 ms | p99 ms | lost | " + " | ".join(labels) + " | generator | Parley µs/msg |")
        L.append("|---|---|---|---|---|---|" + "---|" * len(labels) + "---|---|")
        for i, r in enumerate(caps, 1):
            for s in sorted(r["steps"], key=lambda s: s["rate"]):
                L.append(f"| {i} | {num(float(s['rate']), 0)} | {'pass' if s['pass'] else 'FAIL: ' + s['why']} | {num(s['p50'], 2)} | "
                         f"{num(s['p99'], 1)} | {s['lost']} | " + " | ".join(num(s['per_pid_pct'].get(l)) for l in labels) +
                         f" | {num(s['generator_pct'])} | {num(s['parley_us_per_msg'])} |")
        L.append("")
        passing = [s for r in caps for s in r["steps"] if s["pass"] and s.get("parley_us_per_msg")]
        if passing:
            top = max(passing, key=lambda s: s["rate"])
            L.append(f"At the highest passing step ({num(float(top['rate']), 0)} msg/s) Parley's five processes used "
                     f"{num(top['parley_us_per_msg'])} µs of CPU per message and Tansu {num(top['per_pid_pct'].get('tansu'))} % "
                     f"of a core. With the broker, Redis and the generator elsewhere, two cores for Parley alone "
                     f"would carry about 2,000,000 / {num(top['parley_us_per_msg'])} ≈ **{num(2e6 / top['parley_us_per_msg'], 0)} msg/s** "
                     "at that per-message cost (a CPU bound, before any latency limit).")
            L.append("")

    L += sync_section(by(results, "sync"))
    L += history_section(by(results, "history"))
    L += fanout_section(by(results, "fanout"))

    # ---------------------------------------------------------------- commands
    L.append("### Exact commands")
    L.append("")
    L.append("```sh")
    L.append("make bench            # = scripts/bench.sh: release build, fresh stack per run, the set below, this file")
    L.append("make microbench       # = scripts/microbench.sh: ordo-one/benchmark micro-benchmarks (Benchmarks/)")
    if commands and os.path.exists(commands):
        seen = []
        with open(commands) as f:
            for line in f:
                line = normalise(line.strip())
                if line and line not in seen:
                    seen.append(line)
        L.append("# each run below (ports and pids are those of the fresh stack of that run):")
        L += [f".venv/bin/python bench/{c}" for c in seen]
    L.append("```")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--peer")
    ap.add_argument("--doc", default="docs/benchmarks.md")
    ap.add_argument("--commands")
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--ramp-reps", type=int, default=0)
    ap.add_argument("--baseline", help="JSON lines of an earlier run on this machine: adds a before → after table")
    a = ap.parse_args()
    baseline = {"path": a.baseline, "recs": load(a.baseline)} if a.baseline else None
    body = build(load(a.results), load(a.peer), a.commands, a.elapsed, a.reps, a.ramp_reps, baseline)
    block = f"{BEGIN}\n{body}\n{END}"
    if os.path.exists(a.doc):
        doc = open(a.doc).read()
        if BEGIN in doc and END in doc:
            doc = doc[:doc.index(BEGIN)] + block + doc[doc.index(END) + len(END):]
        else:
            doc = doc.rstrip() + "\n\n" + block + "\n"
    else:
        doc = ("# Parley benchmarks\n\n`make bench` regenerates the measured section below; the rest is written by hand.\n\n"
               "## Results\n\n" + block + "\n")
    with open(a.doc, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
