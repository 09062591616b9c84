# The two commands: `make run` and `make test`. Both set up everything on a fresh machine.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
HOST   ?= 127.0.0.1
export FLASK_APP := wsgi
# The demo serves with two web workers; production takes its count from the CPUs (gunicorn.conf.py).
WEB_CONCURRENCY ?= 2

.PHONY: run test test-fast lint ci browser-deps migrate demo clean help

help:
	@echo "make run   — set up and serve on http://$(HOST):$(PORT) with demo data"
	@echo "make test  — set up and run the whole test suite (SQLite)"
	@echo "make test-fast — the suite without browser and slow tests, on every core"
	@echo "make ci    — what CI runs: the suite on SQLite, then on PostgreSQL"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

migrate: $(VENV)/.installed
	$(BIN)/flask db upgrade
	$(BIN)/flask regions load

demo: migrate
	$(BIN)/flask seed-demo --if-empty

# The web server (gunicorn) and the job worker together, from the Procfile; Ctrl+C stops both.
run: demo
	@echo
	@$(BIN)/flask demo-accounts
	@echo
	@echo "银晖 is serving on http://$(HOST):$(PORT) with its job worker  (Ctrl+C stops both)"
	@PATH="$(CURDIR)/$(BIN):$$PATH" HOST=$(HOST) WEB_CONCURRENCY=$(WEB_CONCURRENCY) \
	  $(BIN)/honcho start --port $(PORT) --procfile Procfile

# Browser tests drive Debian's Chromium (never a downloaded browser), with real CJK fonts so that
# layout checks measure Chinese text as users see it. Installed when missing.
BROWSER_PACKAGES := chromium fonts-noto-cjk
browser-deps:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	  [ -d /usr/share/fonts/opentype/noto ] || missing="$$missing fonts-noto-cjk"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	    else echo "cannot install $$missing: browser tests may be skipped"; exit 0; fi; \
	    echo "installing $$missing"; \
	    $$SUDO apt-get install -y -q $$missing >/dev/null 2>&1 || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q $$missing >/dev/null; }; \
	  fi

# pytest-xdist workers for `make test` and `make test-fast`; TEST_WORKERS=4 sets the number.
TEST_WORKERS ?= auto

# The whole suite: everything but the browser tests on every core (each pytest-xdist worker on
# databases of its own, see tests/conftest.py), then the browser tests, which share one live server.
test: $(VENV)/.installed-test browser-deps lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not browser" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# The fast lane: everything but the browser and slow tests, one pytest-xdist worker per core, each
# worker on databases of its own (see tests/conftest.py).
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not browser and not slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check app tests scripts wsgi.py $(wildcard bench)
	$(BIN)/mypy

ci:
	.ci/run

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
