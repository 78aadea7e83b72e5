#!/usr/bin/env bash
# `make fuzz`: builds ProtocolFuzz (Fuzz/ProtocolFuzz) with libFuzzer and AddressSanitizer and
# runs it for FUZZ_SECONDS (default 60) over the readers of every wire type, from the checked-in
# seeds and the corpus earlier runs grew (.build-fuzz/corpus). A crash stops the run and is left
# in .build-fuzz/artifacts/; `swift run ProtocolFuzz <file>` replays it in a plain build.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

# `--sanitize fuzzer` makes SwiftPM link libFuzzer's main. The code is instrumented by the one
# combined flag: with `--sanitize fuzzer --sanitize address`, Swift 6.3 compiles without the
# coverage instrumentation libFuzzer needs.
swift build -c release --product ProtocolFuzz --build-path .build-fuzz --sanitize fuzzer \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DPARLEY_FUZZ

mkdir -p .build-fuzz/corpus .build-fuzz/artifacts
# A crash must end the process at once: Swift's backtracer would wait on it.
SWIFT_BACKTRACE=enable=no exec .build-fuzz/release/ProtocolFuzz \
  -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
  -dict=Fuzz/ProtocolFuzz/wire.dict -artifact_prefix=.build-fuzz/artifacts/ \
  .build-fuzz/corpus Fuzz/ProtocolFuzz/corpus
