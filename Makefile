# The two set-up commands of the README: `make demo` and `make test`.
# Each creates the virtual environment .venv on first use and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test test-nojit lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,plot,progress,notebook]"
	touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/python -m tracegraph demo

test: $(VENV)/.test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the kernels as plain Python (as stumpy does): same tests, coverable, no compiler involved
test-nojit: $(VENV)/.test
	NUMBA_DISABLE_JIT=1 HYPOTHESIS_PROFILE=dev $(BIN)/python -m pytest -p no:cacheprovider \
		tests/test_rules.py tests/test_index.py tests/test_trace_api.py tests/test_oracle_props.py \
		tests/test_build.py

lint: $(VENV)/.test
	$(BIN)/ruff check tracegraph tests benchmarks
	$(BIN)/python -m mypy

bench: $(VENV)/.test
	$(BIN)/python -m benchmarks.compare_duckdb

clean:
	rm -rf $(VENV) demo_city .pytest_cache .hypothesis .benchmarks
