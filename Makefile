# Parley: `make run` starts the whole local stack, `make test` runs the whole suite.
.PHONY: run run-without restart test test-image build setup clean

run:
	@scripts/run.sh

# Working on one service (SVC: relay-svc, presence-svc, offline-svc, ws-edge-1, ws-edge-2):
# `make run-without SVC=relay-svc` starts all but that one and prints the command that starts it
# by hand; `make restart SVC=relay-svc` restarts it in the stack `make run` runs in another terminal.
run-without:
	@scripts/run.sh --without "$(SVC)"

restart:
	@scripts/run.sh restart "$(SVC)"

test:
	@scripts/test.sh

# The container image's runtime stage, proven without Docker (slow, not part of `make test`):
# compose/Dockerfile's runtime instructions in a Debian 12 chroot, each executable started there
# (docs/operations.md, "Container image").
test-image:
	@scripts/test-image.sh

build:
	@scripts/setup.sh run
	@bash -c 'source scripts/lib.sh && swift_build'

setup:
	@scripts/setup.sh test

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
