#!/usr/bin/env bash
# `make run`: set up, build, start redis-server, the Tansu broker and every Parley service (two
# ws-edge instances), print where to connect, and stop everything on Ctrl-C.
# Ports: EDGE1_PORT (8080), EDGE2_PORT (8081), REDIS_PORT (6379), KAFKA_PORT (9092).
# CONFIG=release builds optimised binaries.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
scripts/setup.sh

EDGE1_PORT=${EDGE1_PORT:-8080}; EDGE2_PORT=${EDGE2_PORT:-8081}
REDIS_PORT=${REDIS_PORT:-6379}; KAFKA_PORT=${KAFKA_PORT:-9092}
CONFIG=${CONFIG:-debug}
STATE="$ROOT/.parley/run"
rm -rf "$STATE"; mkdir -p "$STATE"
trap 'echo; echo "stopping..."; stop_all; echo "stopped"' EXIT
trap 'exit 0' INT TERM

echo "building ($CONFIG)..."
build_services "$CONFIG"

start_redis "$REDIS_PORT" "$STATE"
start_tansu "$KAFKA_PORT" "$STATE"

export PARLEY_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export PARLEY_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export PARLEY_KAFKA_SESSION_TIMEOUT=${PARLEY_KAFKA_SESSION_TIMEOUT:-3s}
export PARLEY_TOPIC_PARTITIONS=${PARLEY_TOPIC_PARTITIONS:-4}
export PARLEY_DEV_LOGIN=${PARLEY_DEV_LOGIN:-true}
export PARLEY_JWT_SECRET=${PARLEY_JWT_SECRET:-local-development-secret-0123456789}

start_service "$STATE" presence-svc presence-svc --http-port 9102
start_service "$STATE" offline-svc offline-svc --http-port 9103
start_service "$STATE" relay-svc relay-svc --http-port 9101
start_service "$STATE" ws-edge-1 ws-edge --edge-id edge-1 --http-port "$EDGE1_PORT"
start_service "$STATE" ws-edge-2 ws-edge --edge-id edge-2 --http-port "$EDGE2_PORT"
for svc in "presence-svc 9102" "offline-svc 9103" "relay-svc 9101" "ws-edge-1 $EDGE1_PORT" "ws-edge-2 $EDGE2_PORT"; do
  set -- $svc; wait_ready "$2" 60 "$1"
done

cat <<MSG

Parley is running (logs: .parley/run/*.log). Ctrl-C stops everything.
  web client:  http://127.0.0.1:$EDGE1_PORT/   and   http://127.0.0.1:$EDGE2_PORT/
  WebSocket:   ws://127.0.0.1:$EDGE1_PORT/ws?token=...  (token: curl -s -XPOST 127.0.0.1:$EDGE1_PORT/api/login -d '{"user":"alice"}')
  seed mode:   ws://127.0.0.1:$EDGE1_PORT/read?user=alice
  services:    relay-svc :9101, presence-svc :9102, offline-svc :9103 (/healthz /readyz /metrics)
  broker:      127.0.0.1:$KAFKA_PORT (Tansu)   redis: 127.0.0.1:$REDIS_PORT
MSG
wait -n "${PIDS[@]}" || true
echo "a process exited; see .parley/run/*.log" >&2
exit 1
