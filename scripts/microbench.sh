#!/usr/bin/env bash
# `make microbench`: the micro-benchmarks of Parley's hot pure code (Benchmarks/, ordo-one/benchmark),
# release build. Extra arguments go to `swift package benchmark` (e.g. `--filter 'Envelope.*'`,
# `baseline update main`, `baseline compare main`). Timings are reported, never asserted.
set -euo pipefail
cd "$(dirname "$0")/../Benchmarks"
exec swift package --disable-sandbox benchmark "$@"
