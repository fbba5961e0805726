# gutbrain: the two commands a user needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
#: runtime install (what `make run` needs) and test tools on top (what `make test` needs)
RUNTIME_STAMP := $(VENV)/.gutbrain-runtime-installed
STAMP := $(VENV)/.gutbrain-installed
OUT ?= gutbrain-demo
#: the shared third-party data and benchmark folder; tests that need it skip without it
GUTBRAIN_SHARED_DIR_FOR_TESTS ?= $(abspath ../shared)
export GUTBRAIN_SHARED_DIR_FOR_TESTS

.PHONY: run test install lint typecheck layers unit browser-deps db-deps bench clean

$(RUNTIME_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[cohort,web]'
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet -e '.[cohort,web]' --group test
	touch $(STAMP)

install: $(STAMP)

## run: install the runtime only (no test tools), then run the main job on the bundled example
run: $(RUNTIME_STAMP)
	$(VENV)/bin/gutbrain demo --out $(OUT)

## test: install test dependencies (Chromium for browser tests, PostgreSQL for the portal's
## database tests), then lint, type-check and test
test: $(STAMP) browser-deps db-deps lint typecheck layers unit

browser-deps:
	bash scripts/ensure-chromium.sh

db-deps:
	bash scripts/ensure-postgresql.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy

layers: $(STAMP)
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(VENV)/bin/pytest -q --doctest-modules src/gutbrain
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache $(OUT)
