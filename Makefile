# One entry point for people and CI. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
SCALE ?= 1

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/advocacy --workspace $(DEMO_DIR) demo --scale $(SCALE)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy src

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/advocacy bench import --scale $(or $(BENCH_SCALE),1)
	$(BIN)/advocacy bench metrics --scale $(or $(BENCH_SCALE),1)
	$(BIN)/advocacy bench analyses --scale $(or $(BENCH_SCALE),1)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
