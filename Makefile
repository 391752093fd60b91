# Thin wrapper around CMake + Ninja (+ ccache). See README.md.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# ccache can reuse precompiled-header builds only with these relaxed checks.
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
# Paths relative to the checkout, so a clone in another folder (CI) or a git
# worktree reuses the objects another checkout compiled.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

PACKAGES := $(shell grep -v '^\s*\#' deps/debian-packages.txt | grep -v '^\s*$$')

.PHONY: all deps configure build test test-deploy test-deploy-cuda demo clean format format-check thread-safety fuzz \
  bench-campaign

all: build

# Installs every Debian package the project needs. Idempotent; run as root.
deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "all Debian packages present"; fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# All tests through CTest (hidden [.gpu] tests run only where CUDA is present).
# Installs the Debian packages first, so `make test` works on a fresh machine.
test: deps
	$(MAKE) build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 1800

# The full container image build (compiles everything inside the image, long
# on 2 cores) and a campaign in containers; docs/deploy.md records a run.
test-deploy: deps
	deploy/container-test.sh full $(BUILD_DIR)

# The same with the CUDA variant (VARIANT=cuda): the CUDA bases made from a pip
# CUDA torch and a CUDA toolkit on this machine (deploy/cuda-base.sh;
# CONVRNN_TORCH, CUDA_HOME), the full image compiled against that LibTorch
# 2.x, the worker's CUDA libraries checked, and the campaign with --devices
# all (on the CPU where there is no GPU). About an hour on 2 cores; not in
# `make test` or CI. docs/deploy.md records a run.
test-deploy-cuda: deps
	deploy/container-test.sh cuda $(BUILD_DIR)

demo: deps build
	./examples/demo.sh $(BUILD_DIR)

# Our service against Optuna and HyperOpt on one space, real training, 10
# seeds each (about 80 minutes here; docs/performance.md "Campaigns").
bench-campaign: deps build
	bench/campaign/run.sh $(BUILD_DIR)

# libFuzzer targets (fuzz/) built with clang-14, ASan and UBSan in their own
# build folder, then run one after another, FUZZ_SECONDS each, under nice -n 19.
FUZZ_SECONDS ?= 30
FUZZ_DIR ?= build-fuzz
fuzz:
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCONVRNN_FUZZ=ON -DCONVRNN_WITH_TORCH=OFF -DCONVRNN_BUILD_TESTS=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target convrnn_fuzzers
	./fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

# Fails when any C++ file differs from .clang-format (CI runs it).
format-check:
	@git ls-files '*.h' '*.cc' | xargs clang-format --dry-run --Werror && echo "clang-format: no drift"

# Every library built by clang 14 with -Wthread-safety -Werror=thread-safety
# (its own build dir, ccache, -O0: the analysis is the point, not the code).
TS_BUILD_DIR ?= build-thread-safety
TS_LIBRARIES := convrnn_util convrnn_log convrnn_http convrnn_spec convrnn_proto convrnn_db convrnn_search convrnn_data \
  convrnn_model convrnn_core convrnn_neural convrnn_worker_loop convrnn_worker_service \
  convrnn_server convrnn_http convrnn_client
thread-safety:
	cmake -S . -B $(TS_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=ThreadSafety \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS_THREADSAFETY="-O0 -g0" \
	  -DCONVRNN_THREAD_SAFETY=ON -DCONVRNN_BUILD_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(TS_BUILD_DIR) -j $(JOBS) --target $(TS_LIBRARIES)
	@echo "thread-safety: every library passes clang -Wthread-safety"

clean:
	rm -rf $(BUILD_DIR) $(TS_BUILD_DIR)
