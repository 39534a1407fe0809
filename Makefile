# The two commands: `make run` (serve the app on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
PORT ?= 8000

.PHONY: run test lint format install migrate clean postman bench bench-quick chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(DEV): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(RUNTIME)

install: $(RUNTIME)

migrate: $(RUNTIME)
	$(BIN)/python manage.py migrate --noinput

# Embedded default: SQLite, in-process jobs, local media. With REDIS_URL set, the worker runs beside;
# either way the server answers this machine only (the Procfile's 0.0.0.0 is for containers), and the
# worker does not recycle (WORKER_MAX_JOBS=0): honcho would stop the web server with it, not restart it.
run: migrate
ifdef REDIS_URL
	BIND_HOST=127.0.0.1 WORKER_MAX_JOBS=0 PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(BIN)/honcho start --procfile Procfile --port $(PORT)
else
	$(BIN)/uvicorn hopla.asgi:application --host 127.0.0.1 --port $(PORT)
endif

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The browser tests drive Debian's chromium, never a browser that Playwright downloads. When it is
# missing, root (as in CI) installs it with apt; anyone else is told the command. Present: no work.
CHROMIUM := /usr/bin/chromium

chromium: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "The browser tests need $(CHROMIUM). Install it as root: apt-get install -y chromium" >&2; exit 1; \
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# Runs against the real PostgreSQL and Redis (see conftest.py for the defaults and how to start them)
# and a headless chromium, then the Postman collection with newman against a live server and worker.
# PYTEST_WORKERS processes (pytest-xdist), each on a database, Redis db and channel prefix of its own
# (hopla/settings/test.py); a file's tests stay on one worker, which starts its servers once. Much of a
# test's time is spent waiting on servers, browsers and the database, so there are more than cores.
PYTEST_WORKERS ?= 3

test: lint $(CHROMIUM)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)
	scripts/run_postman.sh

postman: $(DEV)
	$(BIN)/python scripts/build_postman_collection.py
	scripts/run_postman.sh

# Ratios against a floor measured in the same run (see BENCHMARKS.md); needs PostgreSQL, Redis and wrk.
bench: $(DEV)
	$(BIN)/python -m bench --servers

# Every workload briefly on small data (CI).
bench-quick: $(DEV)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .newman

# A bounded soak: 50 virtual users for 60 s with WebSocket listeners and a webhook per project, on its
# own database, Redis, fake Cloudinary and webhook receiver; prints 5xx, lost tickets, events
# expected/received per listener and per webhook (signatures checked) and server RSS.
.PHONY: soak
soak: $(DEV)
	$(BIN)/python -m bench.soak
