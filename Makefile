# Parley: `make run` starts the whole local stack, `make test` runs the whole suite.
.PHONY: run test build setup clean

run:
	@scripts/run.sh

test:
	@scripts/test.sh

build: setup
	swift build

setup:
	@scripts/setup.sh

clean:
	rm -rf .build .parley

# Measurement (docs/benchmarks.md): `make bench` runs the load generator against a release stack;
# `make microbench` runs the micro-benchmarks of the hot pure code (Benchmarks/).
.PHONY: bench microbench
bench:
	@scripts/bench.sh

microbench:
	@scripts/microbench.sh

# `make fuzz` fuzzes the wire readers with libFuzzer + AddressSanitizer for FUZZ_SECONDS (60).
.PHONY: fuzz
fuzz:
	@scripts/fuzz.sh
