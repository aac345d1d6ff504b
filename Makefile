# JitGrad: `make run` sets up and launches the app; `make test` sets up and runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup warmup lint bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,dev]"
	touch $(STAMP)

setup: $(STAMP)

warmup: setup
	$(BIN)/python -m engine.warmup

run: warmup
	$(BIN)/python main.py

test: warmup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

bench: warmup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
