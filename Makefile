# Funnel Rocket (Rust) — common tasks. Every target works on a fresh clone.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= /var/tmp/frocket-target
CARGO ?= cargo

.PHONY: test lint fmt build bench clean demo setup-test

DEMO_DIR ?= $(CURDIR)/.demo
FROCKET = $(CARGO_TARGET_DIR)/debug/frocket

## demo: build, generate a sample dataset, register it and run a funnel query (embedded mode)
demo:
	$(CARGO) build -p frocket-cli --no-default-features
	FROCKET_HOME=$(DEMO_DIR)/home $(FROCKET) --output table dataprep generate --out $(DEMO_DIR)/data --users 100000 --parts 4
	FROCKET_HOME=$(DEMO_DIR)/home $(FROCKET) --output table register demo $(DEMO_DIR)/data userid timestamp
	FROCKET_HOME=$(DEMO_DIR)/home $(FROCKET) --output table run demo --file docs/queries/demo-funnel.json

## setup-test: install what the integration tests start (redis-server, moto_server), if missing
setup-test:
	@command -v redis-server >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y redis-server; }
	@command -v moto_server >/dev/null || python3 -m pip install --quiet 'moto[server]'
	@command -v cargo-lambda >/dev/null || python3 -m pip install --quiet cargo-lambda

## test: run every test of the workspace (unit, golden, differential, CLI, HTTP API, Redis, S3 and Lambda end to end)
test: setup-test
	$(CARGO) build -p frocket-cli
	$(CARGO) build --bin worker --bin query-invoker --bin register-dataset
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

## lint: formatting and clippy
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

build:
	$(CARGO) build --workspace

clean:
	$(CARGO) clean

## bench: engine vs. Parquet decode floor vs. DuckDB on generated data (release build)
bench:
	python3 -c "import duckdb" 2>/dev/null || pip install duckdb
	$(CARGO) run --release -p frocket-bench -- $(BENCH_ARGS)
