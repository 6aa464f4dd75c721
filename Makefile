# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8080
BIN := $(VENV)/bin
export PORT

.PHONY: run test lint bench build install clean browser wrk virtuoso

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(VENV)/.installed $(VENV)/.installed-test $@

install: $(VENV)/.installed

build: $(VENV)/.installed
	$(BIN)/treatygraph build

run: $(VENV)/.installed
	$(BIN)/treatygraph build
	$(BIN)/treatygraph serve --port $(PORT)

# The browser tests drive Debian's headless Chromium; install it (as root) only when it is missing.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	fi

# The Virtuoso tests run a private virtuoso-t: Debian's server binaries alone (no system service, no
# questions asked). Without it, say so and carry on: the tests then report why they are skipped.
virtuoso:
	@if ! command -v virtuoso-t >/dev/null || ! command -v isql-vt >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  { $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends virtuoso-opensource-7-bin; } \
	  || echo "virtuoso-opensource-7-bin could not be installed: the Virtuoso tests will be skipped"; \
	fi

# The benchmarks load the servers with wrk, also from Debian.
wrk:
	@if ! command -v wrk >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends wrk; \
	fi

test: $(VENV)/.installed-test browser virtuoso
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The synthetic builds are kept in BENCH_WORK, so bench.serving serves the 1M build bench made.
BENCH_WORK ?= build/bench

bench: $(VENV)/.installed-bench browser wrk virtuoso
	$(BIN)/python -m pytest -m 'slow or bench' -p no:cacheprovider
	$(BIN)/python -m bench --work $(BENCH_WORK)
	$(BIN)/python -m bench.serving --work $(BENCH_WORK) --reuse
	$(BIN)/python -m bench.remote_store
	$(BIN)/python -m bench.pages
	$(BIN)/python -m bench.validation
	$(BIN)/python -m bench.slow_clients --work $(BENCH_WORK)

clean:
	rm -rf build
