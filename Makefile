# Two commands do all the set-up: `make run` starts the app, `make test` runs every test.
# Both create .venv on first use and install the requirements files under the exact pins of
# requirements.lock (reinstalling only when one of them changes). `make lock` regenerates the lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
LOCK := requirements.lock
# The installer and the lock tool are pinned too: a new pip or uv can resolve differently.
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
APP_STAMP := $(VENV)/.installed-app
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
PORT ?= 8501
# Markers of the tiers (pyproject.toml): test-fast leaves out the browser, load and slow tests.
FAST_TIERS := not browser and not load and not slow

.PHONY: run test test-fast lint bench lock venv clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q pip==$(PIP_VERSION)

$(APP_STAMP): requirements.txt $(LOCK) | $(BIN)/python
	$(PIP) install -q -r requirements.txt -c $(LOCK)
	touch $@

$(TEST_STAMP): $(APP_STAMP) requirements-test.txt
	$(PIP) install -q -r requirements.txt -r requirements-test.txt -c $(LOCK)
	touch $@

$(BENCH_STAMP): $(APP_STAMP) requirements-bench.txt
	$(PIP) install -q -r requirements-bench.txt -c $(LOCK)
	touch $@

venv: $(APP_STAMP)

run: $(APP_STAMP)
	$(BIN)/streamlit run app.py --server.port $(PORT)

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m "$(FAST_TIERS)"

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

# bench_browser.py drives Chromium with Playwright (the test requirements; Debian's chromium package).
bench: $(BENCH_STAMP) $(TEST_STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

# Regenerate the lock from the requirements files: versions already pinned stay where the ranges still
# allow them; `make lock UPGRADE=1` moves every package to the newest version the ranges allow.
# Then run `make test` (the whole suite) and commit the requirements files and the lock together.
lock: | $(BIN)/python
	$(PIP) install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --custom-compile-command "make lock" \
		$(if $(UPGRADE),--upgrade) requirements.txt requirements-test.txt requirements-bench.txt -o $(LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
