#!/usr/bin/env bash
# The standard set of parley_bench.py runs against another chat server that speaks Socket.IO
# (Engine.IO v4, `send` {to, body} -> `message` {from, to, body}), with the same settings as
# `make bench` uses for Parley, so docs/benchmarks.md can quote ratios measured back to back.
# Nothing here is needed by Parley itself; the peer is whatever PEER_START starts.
#
#   PEER_START='cmd that starts the peer fresh and prints --pid LABEL=PID flags'
#   PEER_STOP='cmd that stops it'
#   PEER_URLS='--url http://127.0.0.1:7001 --url http://127.0.0.1:7002'
#   PEER_EDGES='--edge-label node1 --edge-label node2'   (pid labels of the nodes behind the URLs)
#   REPS=3 RAMP_REPS=2 CONNS_MAX=38000 ONLY="conns pairs ramp" OUT=bench/results/peer-socketio.jsonl
#   bench/peer_suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PEER_START:?set PEER_START}" "${PEER_STOP:?set PEER_STOP}" "${PEER_URLS:?set PEER_URLS}"
PEER_EDGES=${PEER_EDGES:-}
REPS=${REPS:-3}; RAMP_REPS=${RAMP_REPS:-2}; CONNS_MAX=${CONNS_MAX:-38000}
ONLY=${ONLY:-conns pairs ramp}
OUT=${OUT:-bench/results/peer-socketio.jsonl}
BENCH=".venv/bin/python bench/parley_bench.py"
mkdir -p "$(dirname "$OUT")"; : >"$OUT"
trap 'eval "$PEER_STOP" >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
wants() { [[ " $ONLY " == *" $1 "* ]]; }
fresh() { eval "$PEER_STOP" >/dev/null 2>&1 || true; eval "$PEER_START"; }
run() {
  echo "peer: $*" >&2
  timeout 900 $BENCH "$@" --protocol socketio --infra "" --out "$OUT" >/dev/null || echo "peer: !! $1 failed rc=$?" >&2
}
# shellcheck disable=SC2086
if wants conns; then
  for n in 10000 "$CONNS_MAX"; do
    for i in $(seq "$REPS"); do P=$(fresh); sleep 2; run conns $PEER_URLS $P $PEER_EDGES -n "$n" --hold 10 --settle 5 --label "conns-$n"; done
  done
fi
if wants pairs; then
  for i in $(seq "$REPS"); do P=$(fresh); sleep 2; run pairs $PEER_URLS $P -P 100 -R 1000 -D 30 --drain 5 --label pairs-1000; done
fi
if wants ramp; then
  for i in $(seq "$RAMP_REPS"); do
    P=$(fresh); sleep 2
    run ramp $PEER_URLS $P -P 100 --start-rate 1000 --factor 1.25 -D 8 --drain 3 --quiet-max 10 --refine 2 \
      --p99-limit-ms 50 --max-time 480 --label ramp
  done
  for i in $(seq "$RAMP_REPS"); do
    P=$(fresh); sleep 2
    run ramp $PEER_URLS $P -P 100 --start-rate 1000 --factor 1.5 -D 8 --drain 3 --quiet-max 10 --refine 2 \
      --p99-limit-ms 1000 --max-time 480 --label ramp-capacity
  done
fi
echo "peer: results in $OUT"
