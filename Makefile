# `make run`: install into .venv and start the server with its embedded defaults.
# `make test`: install what the tests need, then lint, type-check and run the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest bench clean

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

pytest: $(VENV)/.dev-installed
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/control_plane.py

clean:
	rm -rf $(VENV) .firebox .mypy_cache .ruff_cache .pytest_cache
