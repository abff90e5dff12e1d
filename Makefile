# `make run`: install into .venv and start the server with its embedded defaults.
# `make test`: install what the tests need, then lint, type-check and run the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest system-packages bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/firebox serve

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check firebox tests bench
	$(BIN)/ruff format --check firebox tests bench

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

# The RabbitMQ tests start Debian's broker themselves (tests/rabbitmq.py); CI is a fresh Debian as root. The install
# starts an epmd on the default port, which is stopped again: the tests run their own.
RABBITMQ_SERVER := /usr/lib/rabbitmq/bin/rabbitmq-server
system-packages:
	@test -x $(RABBITMQ_SERVER) || { \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null && \
	    { epmd -kill >/dev/null 2>&1 || true; }; }

pytest: $(VENV)/.dev-installed system-packages
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/control_plane.py

clean:
	rm -rf $(VENV) .firebox .mypy_cache .ruff_cache .pytest_cache
