# Two commands do all the set-up: `make run` starts the app, `make test` runs every test.
# Both create .venv on first use and reinstall only when a requirements file changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.installed-app
TEST_STAMP := $(VENV)/.installed-test
PORT ?= 8501

.PHONY: run test bench venv clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(APP_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(TEST_STAMP): $(APP_STAMP) requirements-test.txt
	$(BIN)/python -m pip install -q -r requirements-test.txt
	touch $@

venv: $(APP_STAMP)

run: $(APP_STAMP)
	$(BIN)/streamlit run app.py --server.port $(PORT)

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(APP_STAMP) requirements-bench.txt
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	touch $@

bench: $(BENCH_STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
