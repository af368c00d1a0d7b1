# Quick start: `make demo` (run the main job on the bundled samples) and `make test`.
# Every target sets up first (scripts/setup.sh: Debian packages, .venv from requirements.lock, editable install);
# that step is idempotent and takes well under a second once done.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
BENCH ?= tools/bench.py

.PHONY: help setup demo test test-fast lint fixtures bench lock clean

help:
	@echo "make demo      set up, then run the main job on the bundled samples (.venv/bin/nianbao run)"
	@echo "make test      set up, then run the test suite (scripts/test.sh; ARGS='...' goes to pytest)"
	@echo "make test-fast the core and the readers only (no Prefect server, no slow tests; under a minute)"
	@echo "make lint      ruff check + mypy --strict nianbao"
	@echo "make fixtures  regenerate test fixtures (tools/generate_fixtures.py)"
	@echo "make bench     run the benchmark ($(BENCH))"
	@echo "make lock      recompile requirements.lock from pyproject.toml"
	@echo "make setup     only the setup step"

setup:
	@bash scripts/setup.sh

demo:
	@bash scripts/demo.sh $(ARGS)

test:
	@bash scripts/test.sh $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict nianbao

fixtures: setup
	$(PY) tools/generate_fixtures.py $(ARGS)

bench: setup
	$(PY) $(BENCH) $(ARGS)

# Exact pins (with hashes) for Python 3.11 on linux x86_64, runtime + dev. The override works around prefect 3.9.1's
# certifi>=2026.10.19 requirement (not on the index); see constraints/overrides.txt.
lock: setup
	UV_SYSTEM_CERTS=1 $(UV) pip compile pyproject.toml --extra dev \
		--override constraints/overrides.txt \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--generate-hashes --custom-compile-command "make lock" \
		--quiet --output-file requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The core and every reader without Prefect or slow tests: the loop to run while editing (< 60 s on 2 cores).
# Left out (run by `make test`): tests marked `prefect` (need a Prefect API, run a flow or the command; marked by
# tests/conftest.py) and `slow` (whole-corpus comparisons, long fuzz runs, huge or spinning PDFs, end-to-end).
# README "Development" lists what it covers.
# --dist loadfile: a module's tests on one worker, so its fixtures (a published batch, a moto server) and its caches
# of parsed PDFs are made once (the full suite keeps xdist's default: its long end-to-end modules are split).
test-fast:
	@NIANBAO_TEST_PREFECT_SERVER=0 bash scripts/test.sh -m "not slow and not prefect" --dist loadfile $(ARGS)
