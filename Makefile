# oxbridge: `make run` and `make test` are all a newcomer needs; `make help` lists the rest.
# Everything is installed here, into .venv and target/: nothing by hand, nothing first.

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
# Every cargo call builds against the venv's interpreter, as maturin does.
export PYO3_PYTHON := $(abspath $(PY))
export CARGO_TERM_COLOR ?= never
# The cargo profile of `make build`: `fast` (release code without the
# whole-program pass, see Cargo.toml) for the tests; `make bench` builds
# `release`, what users get.
PROFILE ?= fast

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMPS):
	@mkdir -p $@

$(STAMPS)/venv: | $(STAMPS)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "oxbridge needs Python 3.11+, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "maturin>=1.9,<2" "setuptools>=77" "setuptools-rust>=1.11"
	@touch $@

.PHONY: venv
venv: $(STAMPS)/venv ## Create the virtual environment at .venv

.PHONY: build
build: $(STAMPS)/venv ## Build (cargo profile `fast`, or PROFILE=release) and install into .venv (with dev tools)
	@# The extensions are abi3 (one build for CPython 3.11+): an older
	@# version-tagged build would be imported before them, so it goes.
	rm -f python/oxbridge/_native.cpython-*.so
	$(VENV)/bin/maturin develop --profile $(PROFILE) --extras dev --quiet
	@# The example library outside the core, built the way its README says
	@# (setuptools-rust), in the same cargo target and profile.
	SETUPTOOLS_RUST_CARGO_PROFILE=$(PROFILE) $(PY) -m pip install --quiet --no-build-isolation --no-deps -e examples/pystd
	@# A library as `oxbridge new` makes one: a crate of its own (its own
	@# target and profiles), built by the command its README gives.
	$(PY) -m pip install --quiet --no-build-isolation --no-deps -e examples/b64
	cargo build --profile $(PROFILE) --quiet -p oxbridge-c -p oxbridge-server

.PHONY: run
run: build ## The article's example through every bridge, with its cost per call
	$(VENV)/bin/oxbridge demo

.PHONY: test
test: build lint test-rust test-c test-fuzz test-python ## Every test and lint

# Python extensions: linked by the interpreter that loads them, so their tests
# run from Python, not as Rust test binaries. oxbridge-py's own unit tests
# (those that need no interpreter, such as the gRPC client's status mapping)
# run as a library's.
PYO3_CRATES := oxbridge-py oxbridge-native

SDIST_DIR := target/sdist-check

.PHONY: test-sdist
test-sdist: $(STAMPS)/venv ## Build the sdist, install it in a fresh venv from scratch, and call it
	rm -rf $(SDIST_DIR) && mkdir -p $(SDIST_DIR)
	$(VENV)/bin/maturin sdist --out $(SDIST_DIR)
	$(PYTHON) -m venv $(SDIST_DIR)/venv
	@# As a user would: pip builds it (maturin from the index). In the test
	@# build's profile and cargo target, whose dependencies are built already:
	@# the crates themselves compile from the sdist's sources (another path),
	@# and the product's whole-program build is `make wheel`'s to check.
	env -u PYO3_PYTHON MATURIN_PEP517_ARGS="--profile $(PROFILE)" CARGO_TARGET_DIR=$(abspath target) \
		$(SDIST_DIR)/venv/bin/pip install --quiet $(SDIST_DIR)/oxbridge-*.tar.gz
	cd $(SDIST_DIR) && venv/bin/python -c 'import oxbridge; \
		got = [oxbridge.connect(b).add(1 + 3j, -5j) for b in ("pyo3", "ctypes", "cffi")]; \
		assert got == [1 - 2j] * 3, got; print("sdist install: ok", got)'
	cd $(SDIST_DIR) && venv/bin/oxbridge --add --arg1 1+3j --arg2 -5j --via ipc

WHEEL_DIR := target/wheels
# The wheel's cargo profile: `release`, what users get. CI checks the wheel
# built in `fast`: the same files, tags and ABI, without the whole-program pass.
WHEEL_PROFILE ?= release

$(STAMPS)/wheel-tools: $(STAMPS)/venv
	@# zig links against an old glibc for maturin --zig; the others inspect the wheel.
	$(VENV)/bin/pip install --quiet "ziglang>=0.13" "auditwheel>=6" "abi3audit>=0.0.20"
	@touch $@

.PHONY: wheel
wheel: $(STAMPS)/wheel-tools ## The portable wheel into target/wheels: abi3 (CPython 3.11+), manylinux_2_17, stripped
	rm -rf $(WHEEL_DIR)
	@# Its own cargo target: zig's linker would otherwise rebuild the dev build's every crate.
	@# maturin finds zig as `python -m ziglang` with the python on PATH: the venv's.
	PATH="$(abspath $(VENV))/bin:$$PATH" CARGO_TARGET_DIR=target/zig \
		$(VENV)/bin/maturin build --profile $(WHEEL_PROFILE) --strip \
		--zig --compatibility manylinux_2_17 --out $(WHEEL_DIR)

.PHONY: test-wheel
test-wheel: wheel ## auditwheel and abi3audit on the wheel, then fresh venvs of CPython 3.11-3.13: plain install, bench, vectors
	$(PY) tools/check_wheel.py $(WHEEL_DIR)/oxbridge-*.whl

.PHONY: test-rust
test-rust: $(STAMPS)/venv ## Rust unit tests (core, C ABI, header drift, server handlers, the gRPC client's mapping)
	@# In the build's profile: its dependencies are compiled already.
	cargo test --profile $(PROFILE) --workspace $(PYO3_CRATES:%=--exclude %) --quiet
	cargo test --profile $(PROFILE) -p oxbridge-py --lib --quiet
	@# What a library's crate depends on is ready to publish: packaged and
	@# built from its package alone (cargo resolves the three among themselves).
	cargo package --quiet --allow-dirty -p oxbridge-simd -p oxbridge-core -p oxbridge-ffi

FUZZ_SECONDS ?= 300

$(STAMPS)/cargo-fuzz: | $(STAMPS)
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	@touch $@

.PHONY: test-fuzz
test-fuzz: $(STAMPS)/venv $(STAMPS)/cargo-fuzz ## A short coverage-guided pass (cargo fuzz, ASan, unoptimized) over every target, from the committed corpus (5 s each)
	$(PY) tools/fuzz.py --seconds 5 --dev

.PHONY: fuzz
fuzz: $(STAMPS)/venv $(STAMPS)/cargo-fuzz ## Fuzz every target for FUZZ_SECONDS each (default 300), adding what it finds to fuzz/corpus
	$(PY) tools/fuzz.py --seconds $(FUZZ_SECONDS) --grow

.PHONY: test-c
test-c: build ## The C ABI from C, against include/oxbridge.h, also under valgrind
	cc -std=c11 -Wall -Wextra -Werror -Iinclude tests/c/test_abi.c \
	   -Ltarget/$(PROFILE) -loxbridge -lm -o target/test_abi
	LD_LIBRARY_PATH=target/$(PROFILE) target/test_abi
	@# The same program under valgrind: no invalid access, no leak.
	@command -v valgrind >/dev/null || { echo "installing valgrind (Debian package)"; \
	  apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
	LD_LIBRARY_PATH=target/$(PROFILE) valgrind -q --error-exitcode=1 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect target/test_abi

.PHONY: nginx
nginx: ## nginx for deploy/ and its tests: the Debian package, installed only when missing
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { echo "installing nginx (Debian package)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }

.PHONY: loadgen
loadgen: ## wrk and h2load, the bench's load generators for server throughput: Debian packages, installed only when missing
	@command -v wrk >/dev/null && command -v h2load >/dev/null || { echo "installing wrk and h2load (Debian packages)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nghttp2-client >/dev/null; }

.PHONY: deploy
deploy: build nginx ## Three replicas behind nginx on loopback (HTTP :8080, gRPC :8081) until Ctrl-C
	$(PY) deploy/cluster.py

MDBOOK = $$(command -v mdbook || echo $$HOME/.cargo/bin/mdbook)

$(STAMPS)/mdbook: | $(STAMPS)
	@command -v mdbook >/dev/null || test -x $$HOME/.cargo/bin/mdbook || cargo install mdbook --version '^0.5' --locked
	@touch $@

.PHONY: docs
docs: $(STAMPS)/mdbook ## Build the guide (mdBook, docs/) into target/book
	$(MDBOOK) build docs

.PHONY: reference
reference: build ## Regenerate the guide's reference (error kinds, server options) from their definitions
	$(PY) tools/gen_reference.py

.PHONY: test-python
test-python: build nginx loadgen $(STAMPS)/mdbook ## pytest: shared vectors on all six bridges, servers, articles' clients, CLI
	$(PY) -m pytest -q -p no:randomly

.PHONY: test-random
test-random: build nginx loadgen $(STAMPS)/mdbook ## pytest in a random order (SEED=N repeats an order; the seed is printed)
	@seed=$${SEED:-$$RANDOM}; echo "random order, seed $$seed (make test-random SEED=$$seed repeats it)"; \
	  $(PY) -m pytest -q -p randomly --randomly-seed=$$seed

.PHONY: test-memory-full
test-memory-full: build ## The memory tests at full scale: 300 x 16 MiB requests and 300 silent clients, 64 x 10,000 calls a bridge
	OXBRIDGE_TEST_SCALE=full $(PY) -m pytest -q -s -p no:randomly tests/test_memory.py tests/test_load.py

.PHONY: test-loaded
test-loaded: build nginx loadgen $(STAMPS)/mdbook ## pytest in a random order while a busy loop runs on every core
	@pids=(); for _ in $$(seq "$$(nproc)"); do sh -c 'while :; do :; done' & pids+=($$!); done; \
	  trap 'kill "$${pids[@]}"' EXIT; \
	  seed=$${SEED:-$$RANDOM}; echo "every core busy, random order, seed $$seed"; \
	  $(PY) -m pytest -q -p randomly --randomly-seed=$$seed

.PHONY: lint
lint: build ## cargo fmt/clippy, ruff, mypy, stubtest
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	@# The fuzz targets: a crate of their own, outside the workspace (see fuzz/Cargo.toml).
	cargo fmt --manifest-path fuzz/Cargo.toml --check
	cargo clippy --manifest-path fuzz/Cargo.toml --target-dir target --all-targets --quiet -- -D warnings
	@# The example library made by `oxbridge new`: a crate of its own.
	cargo fmt --manifest-path examples/b64/Cargo.toml --check
	cargo clippy --manifest-path examples/b64/Cargo.toml --all-targets --quiet -- -D warnings
	$(VENV)/bin/ruff check python examples tests tools deploy
	$(VENV)/bin/ruff format --check python examples tests tools deploy
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest oxbridge._native pystd._native b64._native

.PHONY: bench
bench: PROFILE = release
bench: build loadgen ## Speed targets, measured side by side, of the release build (and server throughput with wrk, h2load)
	$(VENV)/bin/oxbridge bench

.PHONY: header
header: ## Regenerate include/oxbridge.h (cbindgen and the exported functions' definitions)
	OXBRIDGE_BLESS=1 cargo test --quiet -p oxbridge-c header_matches_fresh_generation

.PHONY: protos
protos: $(STAMPS)/venv ## Regenerate proto/calculator/v1/functions.proto from the definitions, and the Python gRPC stubs
	OXBRIDGE_BLESS=1 cargo test --quiet -p oxbridge-server the_checked_in_proto_is_the_generated_one
	$(PY) tools/gen_protos.py

.PHONY: stubs
stubs: build ## Regenerate the stubs and typed clients: oxbridge's (generated parts), and each example library's (its own `oxbridge stubs`)
	$(PY) tools/gen_stubs.py
	$(VENV)/bin/oxbridge stubs pystd
	$(VENV)/bin/oxbridge stubs b64

.PHONY: cffi
cffi: build ## Regenerate cffi's API-mode source of the C ABI (crates/oxbridge-native/cffi), then rebuild
	$(PY) tools/gen_cffi.py
	$(MAKE) build

.PHONY: serve
serve: build ## Run the server on its default addresses (Ctrl-C stops it)
	$(VENV)/bin/oxbridge serve

.PHONY: fmt
fmt: $(STAMPS)/venv ## Format Rust and Python sources
	cargo fmt --all
	cargo fmt --manifest-path fuzz/Cargo.toml
	$(VENV)/bin/ruff format python examples tests tools deploy
	$(VENV)/bin/ruff check --fix python examples tests tools deploy

.PHONY: clean
clean: ## Remove build output and the virtual environment
	cargo clean
	rm -rf $(VENV) $(STAMPS) python/oxbridge/*.so
