# forum: `make run` serves the demo, `make test` runs every test. Only Python 3.11+ is needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: translations-extract translations-update translations-compile translations-init install run worker beat migrate seed test test-fast test-postgresql bench bench-scale lint format clean icalcheck

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# The compiled catalogues (.mo) are built here from the committed .po files, never committed.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard forum/translations/*/LC_MESSAGES/messages.po))

install: $(VENV)/.installed $(CATALOGUES)

forum/translations/%/LC_MESSAGES/messages.mo: forum/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@ -l $*

# Translations: extract the marked strings into messages.pot, merge them into every
# language's messages.po, compile. A new language: `make translations-init LOCALE=de`.
BABEL_KEYWORDS := -k _l -k lazy_gettext -k lazy_ngettext:1,2
translations-extract: $(VENV)/.installed
	mkdir -p forum/translations
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --add-location=file --sort-by-file \
	  --project=forum --copyright-holder=forum --msgid-bugs-address=forum@forum.example.org \
	  -o forum/translations/messages.pot .

translations-update: translations-extract
	$(BIN)/pybabel update -i forum/translations/messages.pot -d forum/translations \
	  --no-fuzzy-matching --ignore-obsolete

translations-compile: $(CATALOGUES)

translations-init: translations-extract
	@test -n "$(LOCALE)" || { echo "usage: make translations-init LOCALE=<locale, e.g. de or pt_BR>"; exit 2; }
	$(BIN)/pybabel init -i forum/translations/messages.pot -d forum/translations -l $(LOCALE)

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) forum seed-demo

run: seed
	$(FLASK) run --host $(HOST) --port $(PORT)

# Runs queued jobs. Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) for this and for
# `make run` alike; without it the web process runs each job inline and needs no worker.
worker: migrate
	$(BIN)/celery -A wsgi:celery_app worker --loglevel=INFO --concurrency=2 -Q $${FORUM_JOBS_QUEUE:-forum}

# Periodic jobs (provider health checks every hour, deferred meetings every 15 minutes).
beat: migrate
	$(BIN)/celery -A wsgi:celery_app beat --loglevel=INFO --schedule instance/celerybeat-schedule

# The multi-parser calendar checker the tests run (tests/tools/icalcheck); without its
# prerequisites the calendar tests skip locally (and fail in CI, which installs them).
icalcheck:
	@if ! pkg-config --exists libical 2>/dev/null; then \
	  echo "icalcheck not built: pkg-config does not find libical (apt-get install libical-dev pkg-config)"; \
	elif ! command -v npm >/dev/null 2>&1; then \
	  echo "icalcheck not built: npm is missing (apt-get install nodejs npm)"; \
	else tests/tools/icalcheck/build.sh; fi

# The tests run in PYTEST_WORKERS processes (pytest-xdist): `auto` for one per core, 0 for
# a single process (as --pdb needs).
PYTEST_WORKERS ?= 2

test: install icalcheck
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

test-fast: install icalcheck
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not slow"

test-postgresql: install icalcheck
	FORUM_TEST_DB=postgresql $(BIN)/python -m pytest -n $(PYTEST_WORKERS)

# Each benchmark prints its figures beside a baseline measured in the same run (the slot
# search's through HTTP on SQLite and PostgreSQL, beside the plain per-person reference).
bench: install
	$(BIN)/python -m benchmarks.bench_slots && $(BIN)/python -m benchmarks.bench_booking_preview && $(BIN)/python -m benchmarks.bench_search && $(BIN)/python -m benchmarks.bench_import && $(BIN)/python -m benchmarks.bench_feed && $(BIN)/python -m benchmarks.bench_planner && $(BIN)/python -m benchmarks.bench_login && $(BIN)/python -m benchmarks.bench_booking && $(BIN)/python -m benchmarks.bench_languages && $(BIN)/python -m benchmarks.webhook_load

# A term at full scale (4,437 courses, 40,000 students) on the production stack of this
# machine: seed-semester timed, two app processes, two workers and beat on PostgreSQL and
# Redis, feeds cold, 304 and warm, a class-start burst of Zoom deliveries, one course moved.
# About 15 minutes; not part of `make test` or `make bench`. BENCH_SCALE_ARGS=--quick: a
# tiny term.
bench-scale: install
	$(BIN)/python -m benchmarks.bench_scale $(BENCH_SCALE_ARGS)

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format forum tests config.py wsgi.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
