# objstore: two commands on a fresh machine, `make demo` and `make test`; each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LINTED := $(wildcard src tests bench examples)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: storage-push storage-pull bench help demo test lint typecheck unit conformance integration e2e reliability venv clean

help:
	@echo "make demo   - a round trip on the embedded default store (a local folder), end to end"
	@echo "make test   - lint, format check, type check and the whole test suite"
	@echo "make storage-push / storage-pull - mirror ./storage with the configured store (STORE=url to choose)"
	@echo "make unit | conformance | integration | e2e | reliability - one layer of the test suite"
	@echo "make bench  - objstore against aws s3, s5cmd, rclone, boto3 on a local S3 server (BENCH_ARGS=--quick)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# The test servers need a JDK (the Altastata test gateway) and Node.js (Azurite): installed when missing.
$(SYSTEM_STAMP): | $(STAMP)
	@if ! command -v javac >/dev/null || ! command -v npm >/dev/null; then \
		echo "installing a JDK and Node.js for the test servers"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq default-jdk-headless nodejs npm >/dev/null; \
	fi
	@touch $@

venv: $(STAMP)

demo: $(STAMP)
	@$(PY) examples/demo.py
	@bash examples/sync_demo.sh

# Mirror ./storage (STORAGE=folder for another) with the configured store (OBJSTORE_URL, else the Naas settings,
# else the local default), or STORE=url / STORE=remote:path; ARGS=... passes options (--dry-run, --exclude ...).
# STORE and STORAGE reach objstore from the environment, quoted, so '&', '?', spaces and quotes arrive intact;
# ARGS is split on spaces, with no globbing. Credentials come from the environment only: never a command line.
STORAGE ?= storage
export STORE STORAGE ARGS
storage-push: $(STAMP)
	@mkdir -p -- "$$STORAGE"
	@set -f; exec $(BIN)/objstore push $$ARGS -- "$$STORAGE" $${STORE:+"$$STORE"}

storage-pull: $(STAMP)
	@set -f; exec $(BIN)/objstore pull $$ARGS -- $${STORE:+"$$STORE"} "$$STORAGE"

# Installs the peers into .cache/, starts SeaweedFS, writes bench/results/ and (a full run) docs/benchmarks.md and
# docs/img/benchmarks.png. BENCH_ARGS="--quick" for a small pass, or e.g. "--scenarios 1,2 --rounds 3".
bench: $(STAMP)
	$(PY) bench/compare.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(SYSTEM_STAMP)
	$(BIN)/pytest -q

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

conformance: $(STAMP) $(SYSTEM_STAMP)
	$(BIN)/pytest -q tests/conformance

integration: $(STAMP) $(SYSTEM_STAMP)
	$(BIN)/pytest -q tests/integration

e2e: $(STAMP) $(SYSTEM_STAMP)
	$(BIN)/pytest -q tests/e2e

reliability: $(STAMP) $(SYSTEM_STAMP)
	$(BIN)/pytest -q tests/reliability

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
