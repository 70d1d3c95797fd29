# Funnel Rocket (Rust) — common tasks. Every target works on a fresh clone.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= /var/tmp/frocket-target
CARGO ?= cargo

.PHONY: test lint fmt build bench clean

## test: run every test of the workspace (unit, golden, differential, validation)
test:
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
