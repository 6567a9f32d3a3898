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

# The whole suite, as two pytest processes side by side: the tests that spend their time in
# subprocesses of their own (Prefect servers and workers, a fresh virtualenv, the benchmarks,
# Chromium against the Prefect UI) beside all the others, which keeps CI under 20 minutes on
# 2 cores. Both must pass; the isolated group's report is printed after the main one.
ISOLATED := tests/deployments/test_e2e.py tests/deployments/test_campaign_control.py \
	tests/deployments/test_public_flows_deploy.py tests/packaging/test_wheel.py \
	tests/test_bench_smoke.py tests/ui
test: $(STAMP)
	@$(BIN)/python -m pytest -p no:cacheprovider $(ISOLATED) > .test-isolated.log 2>&1 & isolated=$$!; \
	$(BIN)/python -m pytest $(addprefix --ignore=,$(ISOLATED)); main=$$?; \
	wait $$isolated; other=$$?; \
	echo "--- $(ISOLATED) (run beside the rest) ---"; cat .test-isolated.log; \
	exit $$(( main || other ))

# mypy --strict with pydantic's plugin on the library (settings and why: pyproject.toml [tool.mypy]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy casey_flows

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
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
