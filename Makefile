# Top-level entry points. CMake does the real work in build/.
BUILD   ?= build
JOBS    ?= $(shell nproc)
CTEST_ARGS ?=
# Tests run two at a time: most wait on processes, sockets and timers, not CPU.
TEST_JOBS ?= 2

.PHONY: all deps build test test-fast bench clean run

# The main job: build, then run PROGRAM under spanvm (process mode).
PROGRAM ?= /usr/bin/sysbench cpu --threads=2 --time=5 run
SPANVM_ARGS ?= --stats

all: build

deps:
	./scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Everything that fits in CI: unit, integration (real KVM), multi-process,
# model checking and short fuzzing. Tests labelled "slow" are included here;
# `make test-fast` leaves them out.
test: deps build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j $(TEST_JOBS) $(CTEST_ARGS)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -LE slow $(CTEST_ARGS)

bench: deps build
	./bench/run-all.sh $(BUILD)

run: deps build
	./$(BUILD)/spanvm run $(SPANVM_ARGS) -- $(PROGRAM)

clean:
	rm -rf $(BUILD)
