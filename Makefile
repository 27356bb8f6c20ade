# One command each: `make demo` serves a portal, `make test` runs the suite.
# CKAN_VERSION picks the CKAN release; each version gets its own virtual environment.

CKAN_VERSION ?= 2.12.0
PYTHON ?= python3
PORT ?= 5000
VENV ?= .venv/ckan-$(CKAN_VERSION)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv test lint i18n demo browser clean benchmark screenshots

help:
	@echo "make demo       serve a demo CKAN $(CKAN_VERSION) portal with the extension on 127.0.0.1:$(PORT)"
	@echo "make test       run the test suite against CKAN $(CKAN_VERSION) (CKAN_VERSION=2.11.5 for 2.11)"
	@echo "make lint       ruff and pyright"
	@echo "make i18n       extract, update and compile the translations"
	@echo "make benchmark  time the extension against CKAN baselines, refresh BENCHMARKS.md"
	@echo "make screenshots  regenerate docs/*.png (temporary CKAN, demo catalogue and theme, headless chromium)"

# The environment is (re)built when the project's metadata changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "ckan[requirements]==$(CKAN_VERSION)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# axe-core (accessibility audit) and the peers' builds (weight benchmark), from npm.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(NODE_STAMP)

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check ckanext tests dev benchmarks
	$(BIN)/ruff format --check ckanext tests dev benchmarks
	$(BIN)/pyright --pythonpath $(BIN)/python ckanext

i18n: $(STAMP)
	$(BIN)/python setup.py -q extract_messages
	$(BIN)/python setup.py -q update_catalog --no-fuzzy-matching
	$(BIN)/python setup.py -q compile_catalog

demo: $(STAMP)
	$(BIN)/python dev/demo.py --port $(PORT)

# Debian's chromium for the browser tests (Playwright's own download cannot work here).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

benchmark: $(STAMP) $(NODE_STAMP) browser
	$(BIN)/python benchmarks/run.py

# The documentation's pictures (docs/*.png): a temporary PostgreSQL and CKAN with the demo
# catalogue and theme, Debian's chromium; everything is stopped and deleted afterwards.
screenshots: $(STAMP) browser
	$(BIN)/python dev/screenshots.py

clean:
	rm -rf .venv .demo build dist *.egg-info node_modules
