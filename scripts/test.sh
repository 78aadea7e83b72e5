#!/usr/bin/env bash
# `make test`: set up, start a private redis-server and Tansu broker on free loopback ports, run
# the whole suite against them, and stop everything, also on failure or Ctrl-C. Then the cluster
# pass: a 6-node Redis Cluster, and against it the Redis client suite (cluster tests included)
# and the end-to-end suite (failover tests included). PARLEY_TEST_REDIS=single or =cluster runs
# one pass only; extra args go to swift test (in the cluster pass they replace its filter).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
scripts/setup.sh test

MODE=${PARLEY_TEST_REDIS:-both}
case "$MODE" in single | cluster | both) ;; *) echo "PARLEY_TEST_REDIS must be single or cluster, not '$MODE'" >&2; exit 2 ;; esac

STATE="$ROOT/.parley/test"
rm -rf "$STATE"; mkdir -p "$STATE"
trap stop_all EXIT
trap 'exit 130' INT TERM

kafka_port=$(free_port); start_tansu "$kafka_port" "$STATE"
export PARLEY_TEST_KAFKA_BROKERS="127.0.0.1:$kafka_port"
swift_build --build-tests
PARLEY_BIN_DIR=$(swift_build --show-bin-path)  # assigned apart from export, so a failure stops the script
export PARLEY_BIN_DIR
export PARLEY_E2E_STATE="$STATE"
export PARLEY_E2E_ARTIFACTS="$ROOT/test-artifacts"

if [ "$MODE" != cluster ]; then
redis_port=$(free_port); start_redis "$redis_port" "$STATE"
export PARLEY_TEST_REDIS=single PARLEY_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
echo "test: redis-server on $redis_port, tansu on $kafka_port, logs in $STATE"

swift test --skip-build "$@"

# The wire readers under libFuzzer + AddressSanitizer for a bounded time (`make fuzz` runs longer).
FUZZ_SECONDS=${TEST_FUZZ_SECONDS:-30} scripts/fuzz.sh >"$STATE/fuzz.log" 2>&1 || { tail -40 "$STATE/fuzz.log"; exit 1; }
echo "test: fuzz $(grep -E '^Done [0-9]+ runs' "$STATE/fuzz.log")"

# End to end: the executables as real processes (and the web client in headless Chromium).
.venv/bin/python -m pytest -q -p no:cacheprovider tests
fi

if [ "$MODE" != single ]; then
# The cluster pass runs what talks to Redis through ParleyRedis's routing, not every Swift suite
# again: the Redis client suite with the cluster tests, and the end-to-end suite (the services as
# real processes on the cluster, the failover tests included).
start_redis_cluster "$STATE"
export PARLEY_TEST_REDIS=cluster PARLEY_TEST_REDIS_URL="$REDIS_CLUSTER_URL"
echo "test: redis cluster on ${REDIS_CLUSTER_PORTS[*]}, logs in $STATE/redis-cluster"
if [ $# -gt 0 ]; then swift test --skip-build "$@"; else swift test --skip-build --filter ParleyRedisTests; fi
.venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e
fi
