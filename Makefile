# JitGrad: `make run` sets up and launches the app; `make test` sets up and runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.installed-app
TEST_STAMP := $(VENV)/.installed-test
# Compile the Numba kernels first (only those not cached yet, in a worker process per CPU,
# with progress per kernel); e.g. `make run WARMUP_FLAGS=--quiet` or `WARMUP_FLAGS=-j1`.
WARMUP_FLAGS ?=

.PHONY: run test setup warmup lint bench fuzz monkey clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The app needs Qt; the suite also needs torch (the test oracle), pytest, ruff,
# import-linter and MKL (the suite runs the matrix products on numpy's BLAS and on MKL's).
$(APP_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[app]"
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,dev,mkl]"
	touch $@ $(APP_STAMP)

setup: $(TEST_STAMP)

run: $(APP_STAMP)
	$(BIN)/python -m engine.warmup $(WARMUP_FLAGS)
	$(BIN)/python main.py

# lint-imports first: an import that points up a layer (docs/architecture.md) fails the run.
test: $(TEST_STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m engine.warmup $(WARMUP_FLAGS)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

warmup: $(APP_STAMP)
	$(BIN)/python -m engine.warmup $(WARMUP_FLAGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(TEST_STAMP)
	$(BIN)/python -m engine.warmup $(WARMUP_FLAGS)
	$(BIN)/python -m benchmarks

fuzz: $(TEST_STAMP)
	$(BIN)/python tools/fuzz.py --seconds 300

# A long random-clicking run of the lab (the suite runs 2,000 actions).
monkey: $(TEST_STAMP)
	JITGRAD_MONKEY_ACTIONS=20000 QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q \
		tests/gui/test_monkey.py

clean:
	rm -rf $(VENV) build *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
