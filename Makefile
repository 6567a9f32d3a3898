# Every target creates .venv and installs into it first, so a fresh machine needs only `make`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo down bench sandbox clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The demo: sandbox + Prefect server in the background (state in .casey-flows/), one campaign.
demo: $(STAMP)
	$(BIN)/python -m deployments.demo

# Stops what `make demo` started (needs no virtualenv).
down:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -m deployments.down

# Campaign benchmark: casey-flows vs naive Prefect vs bare asyncio (~4 min at N=2,000).
# Pass options with BENCH_ARGS, e.g. make bench BENCH_ARGS='--n 10000 --contenders casey-flows'
bench: $(STAMP)
	$(BIN)/python benchmarks/campaign.py $(BENCH_ARGS)

sandbox: $(STAMP)
	$(BIN)/casey-flows sandbox

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
