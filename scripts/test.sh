#!/usr/bin/env bash
# `make test`: set up, start a private redis-server and Tansu broker on free loopback ports, run
# the whole suite against them, and stop everything, also on failure or Ctrl-C.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
scripts/setup.sh test

STATE="$ROOT/.parley/test"
rm -rf "$STATE"; mkdir -p "$STATE"
trap stop_all EXIT
trap 'exit 130' INT TERM

redis_port=$(free_port); start_redis "$redis_port" "$STATE"
kafka_port=$(free_port); start_tansu "$kafka_port" "$STATE"
export PARLEY_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
export PARLEY_TEST_KAFKA_BROKERS="127.0.0.1:$kafka_port"
echo "test: redis-server on $redis_port, tansu on $kafka_port, logs in $STATE"

swift_build --build-tests
swift test --skip-build "$@"

# The wire readers under libFuzzer + AddressSanitizer for a bounded time (`make fuzz` runs longer).
FUZZ_SECONDS=${TEST_FUZZ_SECONDS:-30} scripts/fuzz.sh >"$STATE/fuzz.log" 2>&1 || { tail -40 "$STATE/fuzz.log"; exit 1; }
echo "test: fuzz $(grep -E '^Done [0-9]+ runs' "$STATE/fuzz.log")"

# End to end: the executables as real processes (and the web client in headless Chromium).
PARLEY_BIN_DIR=$(swift_build --show-bin-path)  # assigned apart from export, so a failure stops the script
export PARLEY_BIN_DIR
export PARLEY_E2E_STATE="$STATE"
export PARLEY_E2E_ARTIFACTS="$ROOT/test-artifacts"
.venv/bin/python -m pytest -q -p no:cacheprovider tests
