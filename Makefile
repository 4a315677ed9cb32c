# forum: `make run` serves the demo, `make test` runs every test. Only Python 3.11+ is needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run migrate seed test test-fast test-postgresql bench lint format clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) forum seed-demo

run: seed
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

test-postgresql: install
	FORUM_TEST_DB=postgresql $(BIN)/python -m pytest

bench: install
	$(BIN)/python -m benchmarks.bench_slots

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format forum tests config.py wsgi.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
