#!/usr/bin/env bash
# CPU profile of every Parley process under `pairs` load (SCENARIO=fanout: one group of
# MEMBERS, default 1,000, one message a second, all online): starts the measurement stack
# (scripts/bench.sh stack, release binaries), runs parley_bench.py pairs at RATE msg/s and samples
# all five Parley processes at once with `perf record -g` (software clock: this VM has no hardware
# counters). Writes OUT/summary.md (bench/perf_summary.py: per process, cost centres, inclusive
# and self symbols, Swift names demangled) and keeps OUT/perf.data for `perf report -i`.
#
#   RATE=1000 SECS=20 OUT=.parley/bench/profile bench/profile.sh
#   SCENARIO=fanout SECS=20 OUT=.parley/bench/profile-fanout bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-1000}; SECS=${SECS:-20}; FREQ=${FREQ:-499}
SCENARIO=${SCENARIO:-pairs}; MEMBERS=${MEMBERS:-1000}
OUT=${OUT:-.parley/bench/profile}
CALLGRAPH=${CALLGRAPH:-fp}   # fp (frame pointers) or dwarf
PY=.venv/bin/python
command -v perf >/dev/null || { echo "profile: perf not found (apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$OUT"; rm -f "$OUT"/*.txt "$OUT"/*.md "$OUT"/perf.data*
ENV=.parley/bench/stack.env; rm -f "$ENV"

SKIP_BUILD=${SKIP_BUILD:-0} scripts/bench.sh stack >"$OUT/stack.log" 2>&1 &
STACK=$!
cleanup() { kill "$STACK" 2>/dev/null || true; wait "$STACK" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 900); do [ -f "$ENV" ] && break; kill -0 "$STACK" || { cat "$OUT/stack.log"; exit 1; }; sleep 1; done
# shellcheck disable=SC1090
source "$ENV"
pid() { echo "$PIDFLAGS" | grep -o "$1=[0-9]*" | cut -d= -f2; }
PIDS="$(pid ws-edge-1),$(pid ws-edge-2),$(pid relay-svc),$(pid presence-svc),$(pid offline-svc)"

# shellcheck disable=SC2086
if [ "$SCENARIO" = fanout ]; then
  # the members connect and the group is made first (a 1 s dm reference only)
  $PY bench/parley_bench.py fanout $URLFLAGS $PIDFLAGS --members "$MEMBERS" --groups 1 --rate 1 --dm-duration 1 \
    -D $((SECS + 30)) --label "profile-fanout-$MEMBERS" --out "$OUT/load.jsonl" >/dev/null 2>"$OUT/load.txt" &
  WARM=25
else
  $PY bench/parley_bench.py pairs $URLFLAGS $PIDFLAGS -P 100 -R "$RATE" -D $((SECS + 12)) --drain 5 --idle 0 \
    --label "profile-$RATE" --out "$OUT/load.jsonl" >/dev/null 2>"$OUT/load.txt" &
  WARM=8
fi
LOAD=$!
sleep "$WARM"   # connect, warm-up, steady state
perf record -F "$FREQ" -e cpu-clock --call-graph "$CALLGRAPH" -p "$PIDS" -o "$OUT/perf.data" -- sleep "$SECS" \
  2>"$OUT/perf-record.log"
wait "$LOAD" || true

LABELS=$(echo "$PIDFLAGS" | grep -o "[a-z0-9-]\+=[0-9]\+" | grep -v "^tansu=\|^redis=" | tr '\n' ' ')
# shellcheck disable=SC2086
perf script -i "$OUT/perf.data" -F comm,pid,tid,ip,sym,dso 2>/dev/null | $PY bench/perf_summary.py $LABELS >"$OUT/summary.md"
perf report -i "$OUT/perf.data" --sort pid --stdio -g none 2>/dev/null >"$OUT/by-thread.txt"
echo "profile: reports in $OUT (load: $OUT/load.txt)"
