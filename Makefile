# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# `make run` installs the runtime packages only ([packages] of Pipfile.lock); the
# targets that test, measure or lint add the dev packages ([dev-packages]).
SHELL := /bin/bash
PYTHON ?= python3
PIPENV := $(PYTHON) -m pipenv
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
export FLASK_APP := wsgi:app
# Pipenv sets PYTHONDONTWRITEBYTECODE=1 for every command it runs (container images often do too),
# so each process compiled from source and pytest re-rewrote the asserts of every test module: a
# pytest worker took 9 s to start, 3 s from bytecode caches. The test targets run with the caches
# (__pycache__, ignored by git), as do the servers and workers their tests start.
TEST_RUN := $(PIPENV) run env PYTHONDONTWRITEBYTECODE=

.PHONY: run test test-browser deploy-check lint install install-dev migrate bench bench-reminders faults soak fuzz

# Install the packages pinned in Pipfile.lock, as `pipenv sync` does (exact versions, hashes
# checked, no resolution), but through pip so that every package shows as it comes.
# $(1): "" for the runtime packages, "--dev" for runtime and dev packages.
define sync
	@$(PYTHON) -m pipenv --version >/dev/null 2>&1 || { echo "== installing pipenv"; $(PYTHON) -m pip install --quiet pipenv; }
	@test -x .venv/bin/python || { echo "== creating .venv (Python 3.11)"; $(PIPENV) --python 3.11 >/dev/null 2>&1 || $(PIPENV) --python 3.11; }
	@$(PIPENV) requirements --hash $(1) >.venv/requirements$(1).txt
	@echo "== installing $$(grep -c '^[a-zA-Z0-9]' .venv/requirements$(1).txt) packages from Pipfile.lock into .venv$(if $(1), (runtime and dev), (runtime only; dev packages come with make test))"
	@PYTHONUNBUFFERED=1 .venv/bin/python -m pip install --disable-pip-version-check --no-deps --require-hashes \
		-r .venv/requirements$(1).txt | grep --line-buffered -E '^(Collecting|Successfully installed|ERROR)' \
		| sed -u -E -e 's/^Collecting ([^ ]+).*/  \1/' -e 's/^Successfully installed (.{80}).*/  installed: \1 .../'; test $${PIPESTATUS[0]} = 0
	@touch $@
endef

# Runtime only. Already satisfied when the dev packages are installed and current.
.venv/.synced: Pipfile.lock
	@if [ .venv/.synced-dev -nt Pipfile.lock ]; then touch $@; else $(MAKE) --no-print-directory .venv/.synced-runtime && touch $@; fi

.venv/.synced-runtime: Pipfile.lock
	$(call sync,)

.venv/.synced-dev: Pipfile.lock
	$(call sync,--dev)

install: .venv/.synced

install-dev: .venv/.synced-dev

migrate: install
	@echo "== flask db upgrade"
	@$(PIPENV) run flask db upgrade

run: migrate ## serve on HOST:PORT (default 127.0.0.1:8000) with Gunicorn, plus the webhook worker
	@echo "== serving on http://$${HOST:-127.0.0.1}:$${PORT:-8000} (API docs at /docs); Ctrl-C stops"
	@$(PIPENV) run python scripts/serve.py

# In parallel (pytest-xdist, two processes per core and one more, up to 8, work-stealing;
# PYTEST_WORKERS=0 for one process): many tests wait on servers and workers they start, so more
# processes than cores finish sooner, while each process pays its own start and collection (on
# 2 cores, whole `make test` runs side by side: 5 workers 112 s and 126 s, 6 workers 120 s and
# 131 s, 4 workers 115 s; the host's speed moved between pairs). Each
# worker has its own database and Redis database (tests/conftest.py). The few tests marked
# `serial` (timings) run after, alone. The end-to-end tests in a real browser (marked `browser`:
# headless Chromium against a live server, about two minutes) are `make test-browser`; .ci/run
# runs both. JUNIT=path/name writes name-parallel.xml, name-serial.xml and name-browser.xml.
# Exit status 5 (the selection holds no such test) counts as success. A collection first writes the
# bytecode caches once (a fresh clone has none), so that the workers start from them.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( 2 * n + 1 > 8 ? 8 : 2 * n + 1 )))
# Both runs happen even when the first fails, so one `make test` reports every failure.
test: install-dev ## the whole suite but the browser tests; on TEST_DATABASE_URL when set, else SQLite
	@status=0; \
	$(TEST_RUN) pytest -p no:xdist --collect-only -q $(PYTEST_ARGS) >/dev/null 2>&1; \
	echo "== pytest, in parallel ($(PYTEST_WORKERS) workers)"; \
	$(TEST_RUN) pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not serial and not browser" $(if $(JUNIT),--junitxml=$(JUNIT)-parallel.xml) $(PYTEST_ARGS) \
		|| [ $$? = 5 ] || status=1; \
	echo "== pytest, the serial tests (timings) one at a time"; \
	$(TEST_RUN) pytest -p no:xdist -m "serial and not browser" $(if $(JUNIT),--junitxml=$(JUNIT)-serial.xml) $(PYTEST_ARGS) \
		|| [ $$? = 5 ] || status=1; \
	[ $$status = 0 ] && echo "== passed; the browser tests are make test-browser"; \
	exit $$status

test-browser: install-dev ## the web app and /docs in headless Chromium (Debian's chromium), one test at a time
	$(TEST_RUN) pytest -p no:xdist -m browser $(if $(JUNIT),--junitxml=$(JUNIT)-browser.xml) $(PYTEST_ARGS) || [ $$? = 5 ]

# The deploy kit (deploy/) run as written: nginx over https in front of two instances,
# the worker and the scheduler, a backup restored. DEPLOY_DATABASE_URL (PostgreSQL, emptied),
# DEPLOY_REDIS_URL and DEPLOY_PORT (first of 8 ports) say where; see deploy/test_deploy.py.
deploy-check: install-dev
	$(TEST_RUN) pytest -p no:cacheprovider deploy/ $(PYTEST_ARGS)

lint: install-dev
	$(PIPENV) run ruff check app tests bench ops deploy
	$(PIPENV) run ruff format --check app tests bench ops deploy

bench: install-dev ## benchmark vs same-stack ceilings (README "Benchmarks"); BENCH_ARGS=--quick for a smoke run
	@command -v wrk >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y wrk; }
	$(PIPENV) run python -m bench.run $(BENCH_ARGS)
	$(PIPENV) run python -m bench.sync $(BENCH_SYNC_ARGS)
	$(PIPENV) run python -m bench.jobs $(BENCH_JOBS_ARGS)
	$(if $(filter 0,$(BENCH_REMINDERS)),,$(PIPENV) run python -m bench.reminders $(filter --quick,$(BENCH_ARGS)) $(BENCH_REMINDERS_ARGS))
	$(if $(filter 0,$(BENCH_FEATURES)),,$(PIPENV) run python -m bench.feature_costs --database-url $(BENCH_DATABASE_URL)_10k $(BENCH_FEATURES_ARGS))

# What each production feature costs (README): a quick run on the 10k data set in make bench (about
# 8 minutes; BENCH_FEATURES=0 leaves it out); the README's table is a full run (about 45 minutes).
BENCH_FEATURES_ARGS ?= --quick --json bench/results/feature_costs-quick.json
# bench.run's default too
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/todos_bench

# Exports and imports (bench/jobs.py): a smoke run with BENCH_ARGS=--quick too.
BENCH_JOBS_ARGS ?= $(filter --quick,$(BENCH_ARGS))

# Also the last step of `make bench` (BENCH_REMINDERS=0 leaves it out), quick when BENCH_ARGS has --quick.
bench-reminders: install-dev ## reminder scheduler under API load: 1M todos, 100k with reminders; tick cost, lag, API p99
	$(PIPENV) run python -m bench.reminders $(BENCH_REMINDERS_ARGS)

# Proof under fire (README): TEST_DATABASE_URL / TEST_REDIS_URL pick PostgreSQL and Redis.
faults: install-dev ## kill -9 a worker, SIGTERM the master, cut PostgreSQL and Redis, under load
	$(PIPENV) run python -m ops.faults $(FAULTS_ARGS)

SOAK_MINUTES ?= 10
soak: install-dev ## mixed load for SOAK_MINUTES; fails on any 5xx or worker RSS growth >= 10%
	$(PIPENV) run python -m ops.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

fuzz: install-dev ## Schemathesis, every check, against the served OpenAPI document (FUZZ_ARGS)
	$(PIPENV) run python -m ops.fuzz $(FUZZ_ARGS)
