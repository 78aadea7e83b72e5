#!/usr/bin/env bash
# `make bench`: release build, a measurement stack of its own (free ports, state in .parley/bench),
# the standard set of scenarios, then docs/benchmarks.md. Stops everything it started, also on
# failure or Ctrl-C. Every target is on 127.0.0.1; every run is bounded in count and time.
#
#   REPS=3          repetitions of each scenario (ramp: RAMP_REPS, default 2)
#   QUICK=1         one repetition each, shorter steps (a smoke run, ~6 min)
#   CONNS_MAX=38000 the largest conns run (19,000 per edge; one process may hold 20,000 fds)
#   ONLY="floor conns pairs ramp capacity sync history fanout"   run a subset (the report uses what the
#                   results file has); pairs runs twice per repetition: v1 sessions, then v2 devices
#   SYNC_SIZES="1000 10000 100000"   stream sizes of the sync scenario (QUICK: "1000 10000"); the
#                   stack's offline-svc keeps twice the largest (PARLEY_STREAM_MAX_ENTRIES; no byte bound)
#   SYNC_REPS=REPS  repetitions of each sync size
#   HISTORY_D=30    seconds of history paging (QUICK: 10)
#   FANOUT_SIZES="10 100 1000"   group sizes of the fanout scenario, one run per size and repetition
#   FANOUT_SESSIONS=1000  members online in each fanout run (groups = FANOUT_SESSIONS / size, at least 1)
#   FANOUT_D=60     seconds of one message a second per group (QUICK: 20); FANOUT_DM_D=15 seconds of the
#                   dm reference (v2 pairs at the same delivery rate, first, on the same stack; QUICK: 8)
#   APPEND=1        add to RESULTS instead of replacing it (e.g. ONLY=capacity APPEND=1)
#   RESULTS=FILE    where the JSON lines go (default bench/results/parley-latest.jsonl, replaced);
#                   the commands run go to FILE's name with .commands.txt
#   DOC=FILE        the document to (re)write (default docs/benchmarks.md; DOC= writes none)
#   SCRATCH=DIR     build folder (default .build-bench, so it never waits on a debug build's lock)
#   SKIP_BUILD=1    reuse the last release build
#   REDIS_MODE=cluster  the stack's Redis is a 6-node Redis Cluster (3 primaries, 3 replicas; the
#                   services WAIT for a replica per batch) instead of one redis-server
#   LINGER_MS=10    the services' --kafka-linger in ms (default: theirs), also used by the floor
#   RAMP_START=250  the first rate (msg/s) of the latency ramp
#   EDGE_WRAPPER=CMD   run each ws-edge through CMD (see start_edge)
#   PEER_RESULTS=FILE  JSON lines of the same tool against a peer, for the comparison table
#                      (default bench/results/peer-socketio.jsonl if it exists)
#   BASELINE=FILE      JSON lines of an earlier run on this machine, for a before → after table
#                      (default bench/results/parley-before.jsonl if it exists; BASELINE= for none)
#
# `scripts/bench.sh stack` only starts the measurement stack, prints the parley_bench.py flags for
# it (.parley/bench/stack.env too) and waits for Ctrl-C: for profiling and ad-hoc runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

REPS=${REPS:-3}; RAMP_REPS=${RAMP_REPS:-2}
CONNS_MAX=${CONNS_MAX:-38000}
ONLY=${ONLY:-floor conns pairs ramp capacity sync history fanout}
SCRATCH=${SCRATCH:-.build-bench}
RESULTS=${RESULTS:-bench/results/parley-latest.jsonl}
COMMANDS="${RESULTS%.jsonl}.commands.txt"
DOC=${DOC-docs/benchmarks.md}
PEER_RESULTS=${PEER_RESULTS:-bench/results/peer-socketio.jsonl}
BASELINE=${BASELINE-bench/results/parley-before.jsonl}
PAIRS_D=30; RAMP_D=8; HOLD=10
# The latency ramp rises from a low rate: Tansu slows down as it holds more batches, so a ramp
# that starts high and halves after a failure measures its low rates on the most worn broker.
RAMP_START=${RAMP_START:-250}
LINGER_MS=${LINGER_MS:-10}  # the services' --kafka-linger (their default), also the floor's
REDIS_MODE=${REDIS_MODE:-single}
HISTORY_D=${HISTORY_D:-30}; SYNC_SIZES=${SYNC_SIZES:-1000 10000 100000}
FANOUT_SIZES=${FANOUT_SIZES:-10 100 1000}; FANOUT_SESSIONS=${FANOUT_SESSIONS:-1000}
FANOUT_D=${FANOUT_D:-60}; FANOUT_DM_D=${FANOUT_DM_D:-15}
if [ "${QUICK:-0}" = 1 ]; then
  REPS=1; RAMP_REPS=1; PAIRS_D=15; RAMP_D=5; HOLD=5; HISTORY_D=10; SYNC_SIZES="1000 10000"; FANOUT_D=20; FANOUT_DM_D=8
fi
SYNC_REPS=${SYNC_REPS:-$REPS}
# offline-svc keeps this many entries per stream: twice the largest sync size (at least its default,
# 10,000), so no sync run is trimmed
STREAM_MAX_ENTRIES=$(( $(tr ' ' '\n' <<<"$SYNC_SIZES 5000" | sort -n | tail -n1) * 2 ))
STATE="$ROOT/.parley/bench"
PY="$ROOT/.venv/bin/python"
BENCH=("$PY" "$ROOT/bench/parley_bench.py")

scripts/setup.sh run
stamp=".venv/.bench-$(md5sum bench/requirements.txt | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "bench: installing bench/requirements.txt into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
  rm -f .venv/.bench-*; touch "$stamp"
fi

mkdir -p "$STATE" "$(dirname "$RESULTS")"
trap 'stop_all' EXIT
trap 'echo; echo "bench: interrupted, stopping..." >&2; exit 130' INT TERM

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "bench: swift build -c release --scratch-path $SCRATCH ..."
  swift build -c release --scratch-path "$SCRATCH" >"$STATE/build.log" 2>&1 || { tail -30 "$STATE/build.log"; exit 1; }
fi
BIN_DIR=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)

PIDFLAGS=(); URLFLAGS=(); KAFKA_PORT=""; REDIS_PORT=""
# EDGE_WRAPPER runs each ws-edge through a command, e.g. EDGE_WRAPPER="env MALLOC_ARENA_MAX=2"
# (an experiment) or "heaptrack -o FILE" (a memory profile; the pid is then the wrapper's).
start_edge() { # run dir, number, public port, admin port
  local name="ws-edge-$2"
  # shellcheck disable=SC2086
  ${EDGE_WRAPPER:-} "$BIN_DIR/ws-edge" --edge-id "bench-edge-$2" --http-port "$3" --admin-port "$4" >"$1/$name.log" 2>&1 &
  PIDS+=($!); echo "$!" >"$1/$name.pid"
}
start_stack() {
  stop_all; PIDS=()
  STACK_NO=$((${STACK_NO:-0} + 1))
  local run="$STATE/run-$STACK_NO"; mkdir -p "$run"
  REDIS_PORT=$(free_port); KAFKA_PORT=$(free_port)
  local e1 e2 a1 a2 pr pp po; e1=$(free_port); e2=$(free_port); a1=$(free_port); a2=$(free_port)
  pr=$(free_port); pp=$(free_port); po=$(free_port)
  local redis_flags=() redis_url="redis://127.0.0.1:$REDIS_PORT" n=0 pid
  if [ "$REDIS_MODE" = cluster ]; then
    start_redis_cluster "$run"
    # Every node's CPU is counted (infra, like Redis); Redis command counts come from the first node.
    for pid in "${PIDS[@]: -6}"; do n=$((n + 1)); redis_flags+=(--pid "redis-$n=$pid"); done
    REDIS_PORT=${REDIS_CLUSTER_PORTS[0]}; redis_url=$REDIS_CLUSTER_URL
  else
    start_redis "$REDIS_PORT" "$run"; redis_flags=(--pid "redis=${PIDS[-1]}")
  fi
  start_tansu "$KAFKA_PORT" "$run"; local tansu_pid=${PIDS[-1]}
  export PARLEY_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" PARLEY_REDIS_URL="$redis_url"
  export PARLEY_KAFKA_SESSION_TIMEOUT=3s PARLEY_TOPIC_PARTITIONS=4 PARLEY_DEV_LOGIN=true
  export PARLEY_JWT_SECRET=bench-secret-0123456789abcdef-0123456789 PARLEY_LOG_LEVEL=${BENCH_LOG_LEVEL:-warning}
  export PARLEY_SEND_RATE=100000 PARLEY_SEND_BURST=100000 PARLEY_KAFKA_LINGER="${LINGER_MS}ms"
  export PARLEY_STREAM_MAX_ENTRIES=$STREAM_MAX_ENTRIES PARLEY_STREAM_MAX_BYTES=1073741824  # the count bounds the sync runs
  # The load generators are the abusers the admission limits stop: lift them for measuring.
  export PARLEY_MESSAGE_REQUEST_LIMIT=0 PARLEY_SEND_QUOTA_PER_MINUTE=0 PARLEY_SEND_QUOTA_PER_DAY=0
  export PARLEY_QUERY_RATE=1000000 PARLEY_QUERY_BURST=1000000
  start_service "$run" presence-svc presence-svc --admin-port "$pp"
  start_service "$run" offline-svc offline-svc --admin-port "$po"
  start_service "$run" relay-svc relay-svc --admin-port "$pr"
  start_edge "$run" 1 "$e1" "$a1"; start_edge "$run" 2 "$e2" "$a2"
  local s name port; for s in "presence-svc $pp" "offline-svc $po" "relay-svc $pr" "ws-edge-1 $a1" "ws-edge-2 $a2"; do
    read -r name port <<<"$s"; wait_ready "$port" 90 "$name"
  done
  PIDFLAGS=(--pid "ws-edge-1=$(cat "$run/ws-edge-1.pid")" --pid "ws-edge-2=$(cat "$run/ws-edge-2.pid")"
            --pid "relay-svc=$(cat "$run/relay-svc.pid")" --pid "presence-svc=$(cat "$run/presence-svc.pid")"
            --pid "offline-svc=$(cat "$run/offline-svc.pid")" --pid "tansu=$tansu_pid" "${redis_flags[@]}")
  URLFLAGS=(--url "http://127.0.0.1:$e1" --url "http://127.0.0.1:$e2")
  sleep 2  # let the first heartbeats and group joins settle before measuring
}

if [ "${1:-}" = stack ]; then
  rm -rf "$STATE"/run-*
  start_stack
  {
    echo "URLFLAGS='${URLFLAGS[*]}'"; echo "PIDFLAGS='${PIDFLAGS[*]}'"
    echo "KAFKA=127.0.0.1:$KAFKA_PORT"; echo "REDIS=127.0.0.1:$REDIS_PORT"; echo "REDISFLAG='--redis 127.0.0.1:$REDIS_PORT'"
  } >"$STATE/stack.env"
  cat "$STATE/stack.env"
  echo "bench: stack running (logs: .parley/bench/run-1/*.log); Ctrl-C stops it"
  wait -n "${PIDS[@]}" || true
  echo "bench: a process exited; see .parley/bench/run-1/*.log" >&2
  exit 1
fi

run() { # scenario args...: one bounded run, failures reported but the set goes on
  echo "bench: $*" >&2
  echo "parley_bench.py $*" >>"$COMMANDS"
  timeout 900 "${BENCH[@]}" "$@" --out "$RESULTS" >/dev/null || echo "bench: !! '$1' failed (rc=$?)" >&2
}

wants() { [[ " $ONLY " == *" $1 "* ]]; }

if [ "${APPEND:-0}" != 1 ]; then : >"$RESULTS"; : >"$COMMANDS"; fi
rm -rf "$STATE"/run-*
T0=$SECONDS
echo "bench: machine load before start: $(cut -d' ' -f1-3 /proc/loadavg)"

if wants floor; then
  start_stack
  # With the stack's linger (its floor) and with linger 1 ms (the broker's own floor).
  for _ in 1 2; do
    run floor --kafka "127.0.0.1:$KAFKA_PORT" --redis "127.0.0.1:$REDIS_PORT" -n 500 --linger-ms "$LINGER_MS" --label floor
    run floor --kafka "127.0.0.1:$KAFKA_PORT" --redis "127.0.0.1:$REDIS_PORT" -n 500 --linger-ms 1 --label floor-linger1
  done
fi
if wants conns; then
  for n in 10000 "$CONNS_MAX"; do
    for _ in $(seq "$REPS"); do
      start_stack
      run conns "${URLFLAGS[@]}" "${PIDFLAGS[@]}" -n "$n" --hold "$HOLD" --settle 5 --label "conns-$n"
    done
  done
fi
if wants pairs; then
  # v1 sessions and v2 devices alternate, each on a fresh stack, so the report compares them
  for _ in $(seq "$REPS"); do
    start_stack
    run pairs "${URLFLAGS[@]}" "${PIDFLAGS[@]}" --redis "127.0.0.1:$REDIS_PORT" -P 100 -R 1000 -D "$PAIRS_D" --drain 5 \
      --label pairs-1000
    start_stack
    run pairs "${URLFLAGS[@]}" "${PIDFLAGS[@]}" --redis "127.0.0.1:$REDIS_PORT" -P 100 -R 1000 -D "$PAIRS_D" --drain 5 \
      --v2 --label pairs-v2-1000
  done
fi
if wants ramp; then
  for _ in $(seq "$RAMP_REPS"); do
    start_stack
    run ramp "${URLFLAGS[@]}" "${PIDFLAGS[@]}" -P 100 --start-rate "$RAMP_START" --factor 1.25 -D "$RAMP_D" --drain 3 \
      --quiet-max 10 --refine 2 --p99-limit-ms 50 --max-time 480 --label ramp
  done
fi
if wants capacity; then
  # carrying capacity: the same ramp with a loose latency limit (p99 <= 1 s, still no loss)
  for _ in $(seq "$RAMP_REPS"); do
    start_stack
    run ramp "${URLFLAGS[@]}" "${PIDFLAGS[@]}" -P 100 --start-rate 1000 --factor 1.5 -D "$RAMP_D" --drain 3 \
      --quiet-max 10 --refine 2 --p99-limit-ms 1000 --max-time 480 --label ramp-capacity
  done
fi
if wants sync; then
  # one fresh user's stream filled through the front door (sessions at 40 sends/s, under the
  # edge's default --send-rate), then one device replays it from since=0
  for n in $SYNC_SIZES; do
    for _ in $(seq "$SYNC_REPS"); do
      start_stack
      run sync "${URLFLAGS[@]}" "${PIDFLAGS[@]}" --redis "127.0.0.1:$REDIS_PORT" -n "$n" --fill-rate 2000 \
        --sender-rate 40 --max-time 720 --label "sync-$n"
    done
  done
fi
if wants history; then
  for _ in $(seq "$REPS"); do
    start_stack
    run history "${URLFLAGS[@]}" "${PIDFLAGS[@]}" --redis "127.0.0.1:$REDIS_PORT" -M 2000 -C 10 -D "$HISTORY_D" \
      --limit 50 --label history
  done
fi
if wants fanout; then
  # FANOUT_SESSIONS members online in groups of each size, one message a second per group from a
  # rotating member; the run measures its dm reference first on the same stack
  for n in $FANOUT_SIZES; do
    for _ in $(seq "$REPS"); do
      start_stack
      run fanout "${URLFLAGS[@]}" "${PIDFLAGS[@]}" --redis "127.0.0.1:$REDIS_PORT" --members "$n" \
        --groups $(( FANOUT_SESSIONS / n > 1 ? FANOUT_SESSIONS / n : 1 )) -D "$FANOUT_D" --drain 5 \
        --dm-duration "$FANOUT_DM_D" --label "fanout-$n"
    done
  done
fi
stop_all; PIDS=()
echo "bench: standard set done in $((SECONDS - T0)) s"

[ -n "$DOC" ] || { echo "bench: results in $RESULTS (no document written)"; exit 0; }
peer=(); [ -f "$PEER_RESULTS" ] && peer=(--peer "$PEER_RESULTS")
[ -n "$BASELINE" ] && [ -f "$BASELINE" ] && peer+=(--baseline "$BASELINE")
$PY bench/report.py "$RESULTS" "${peer[@]}" --commands "$COMMANDS" --doc "$DOC" \
  --elapsed "$([ "${APPEND:-0}" = 1 ] && echo 0 || echo $((SECONDS - T0)))" --reps "$REPS" --ramp-reps "$RAMP_REPS"
echo "bench: wrote $DOC (raw lines: $RESULTS)"
