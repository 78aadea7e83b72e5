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
