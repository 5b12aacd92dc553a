# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
PIPENV := $(PYTHON) -m pipenv
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
export FLASK_APP := wsgi:app

.PHONY: run test lint install install-dev migrate bench

.venv/.synced-dev: Pipfile.lock
	@$(PYTHON) -m pipenv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet pipenv
	$(PIPENV) sync --dev
	@touch $@

install-dev: .venv/.synced-dev

install: install-dev

migrate: install
	$(PIPENV) run flask db upgrade

run: migrate ## serve on HOST:PORT (default 127.0.0.1:8000) with Gunicorn
	$(PIPENV) run gunicorn -c gunicorn.conf.py wsgi:app

test: install-dev ## the whole suite; on TEST_DATABASE_URL when set, else SQLite
	$(PIPENV) run pytest $(PYTEST_ARGS)

lint: install-dev
	$(PIPENV) run ruff check app tests bench
	$(PIPENV) run ruff format --check app tests bench
