# Two commands on a fresh machine:
#   make demo   — install into .venv and run the whole pipeline on the embedded database
#   make test   — install, fetch the pinned test tools, lint, type-check and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: install tools lint test demo bench clean

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/.installed

tools: tools/package.json scripts/install-test-tools.sh
	bash scripts/install-test-tools.sh

lint: install
	$(BIN)/ruff check orderflow operator tests benchmarks scripts
	$(BIN)/ruff format --check orderflow operator tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install tools lint
	$(BIN)/pytest -q -n 2 --dist loadgroup --durations=25

demo: install
	$(BIN)/orderflow demo

bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/reputation.py
	$(BIN)/python benchmarks/signal_latency.py

clean:
	rm -rf $(VENV) tools/bin tools/.cache .pytest_cache .mypy_cache .ruff_cache
