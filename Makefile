# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
PIPENV := $(PYTHON) -m pipenv
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
export FLASK_APP := wsgi:app

.PHONY: run test lint install install-dev migrate bench faults soak fuzz

.venv/.synced-dev: Pipfile.lock
	@$(PYTHON) -m pipenv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet pipenv
	$(PIPENV) sync --dev
	@touch $@

install-dev: .venv/.synced-dev

install: install-dev

migrate: install
	$(PIPENV) run flask db upgrade

run: migrate ## serve on HOST:PORT (default 127.0.0.1:8000) with Gunicorn, plus the webhook worker
	$(PIPENV) run python scripts/serve.py

test: install-dev ## the whole suite; on TEST_DATABASE_URL when set, else SQLite
	$(PIPENV) run pytest $(PYTEST_ARGS)

lint: install-dev
	$(PIPENV) run ruff check app tests bench ops
	$(PIPENV) run ruff format --check app tests bench ops

bench: install-dev ## benchmark vs same-stack ceilings (README "Benchmarks"); BENCH_ARGS=--quick for a smoke run
	@command -v wrk >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y wrk; }
	$(PIPENV) run python -m bench.run $(BENCH_ARGS)

# Proof under fire (README): TEST_DATABASE_URL / TEST_REDIS_URL pick PostgreSQL and Redis.
faults: install-dev ## kill -9 a worker, SIGTERM the master, cut PostgreSQL and Redis, under load
	$(PIPENV) run python -m ops.faults $(FAULTS_ARGS)

SOAK_MINUTES ?= 10
soak: install-dev ## mixed load for SOAK_MINUTES; fails on any 5xx or worker RSS growth >= 10%
	$(PIPENV) run python -m ops.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

fuzz: install-dev ## Schemathesis, every check, against the served OpenAPI document (FUZZ_ARGS)
	$(PIPENV) run python -m ops.fuzz $(FUZZ_ARGS)
