# segmint — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat requirements/lock.txt requirements/constraints.txt pyproject.toml | md5sum | cut -c1-12)

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install bench-install demo test test-fast lint format deploy benchmarks dvc.yaml clean

$(STAMP): requirements/lock.txt requirements/constraints.txt pyproject.toml scripts/install_venv.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) with uv (torch first, then the pinned rest)…"
	@bash scripts/install_venv.sh $(PY) $(UV_VERSION)
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/segmint demo

# The tests start about a hundred Python processes (`segmint`, `dvc repro`, servers). Where
# PYTHONDONTWRITEBYTECODE is set, as it is on this machine, each of them compiled torch, MLflow and Prefect
# from source again. Their bytecode is cached in the venv instead, outside the source tree because
# dvc.yaml hashes code folders. --durations shows in the CI log where the time goes.
PYTEST := PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(abspath $(VENV))/pycache $(PY) -m pytest --durations=30
# Most tests wait on a `segmint` subprocess of one core: TEST_WORKERS pytest workers (pytest-xdist) run
# test files side by side, each file whole on one worker (its module fixtures built once).
TEST_WORKERS ?= 2

test: install
	$(PYTEST) -q -ra -n $(TEST_WORKERS) --dist loadfile

test-fast: install
	$(PYTEST) -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check segmint tasks flows tests benchmarks scripts
	$(VENV)/bin/ruff format --check segmint tasks flows tests benchmarks scripts
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format segmint tasks flows tests benchmarks scripts
	$(VENV)/bin/ruff check --fix segmint tasks flows tests benchmarks scripts

dvc.yaml: install
	$(PY) scripts/write_dvc_yaml.py

# Peers that only the benchmarks use (BG/NBD + Gamma-Gamma for benchmarks/clv.py), over the locked set.
bench-install: install
	@$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -r requirements/bench.txt 2>/dev/null \
		|| $(PY) -m pip install -q --no-deps -r requirements/bench.txt

benchmarks: bench-install
	$(PY) -m benchmarks.run_all

# Register infra/prefect.yaml's deployments with the Prefect server at $(PREFECT_API_URL) (e.g.
# http://127.0.0.1:4200/api); SEGMINT_PROJECT_DIR picks the project folder (default: this checkout).
deploy: install
	PREFECT=$(VENV)/bin/prefect bash infra/deploy.sh

clean:
	rm -rf data/validated data/quarantine data/features data/segments data/anomaly models outputs reports plots \
		mlflow.db mlartifacts .prefect shop
