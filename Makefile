# Two commands for a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi

.PHONY: run test lint bench install install-dev clean translations axe

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

## make run: install, migrate, load demo data on first start, serve site and worker on :5000
run: $(VENV)/.runtime
	$(FLASK) db upgrade
	$(FLASK) facility seed-demo
	$(FLASK) facility serve --host 127.0.0.1 --port 5000

## make test: install, lint (ruff, bandit), type-check, run the whole suite
# Most of the suite runs in parallel (pytest-xdist): each worker builds its own databases and its own
# embedded Redis (tests/conftest.py), and on a shared Redis its own key prefixes. Tests marked `serial`
# (the fault runs, whose worker processes are killed on a clock; the browser walks; `serve`) then run alone.
# `make test TEST_WORKERS=0` runs everything in one process.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -q -p no:cacheprovider
# Security linter: medium and high findings fail (config and reviewed exceptions: pyproject.toml [tool.bandit]).
BANDIT := $(BIN)/bandit -c pyproject.toml -q -r facility -ll

## make axe: axe-core from the npm registry for the browser accessibility test (tests/reach/test_browser_reach.py)
AXE_VERSION := 4.10.3
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
$(AXE): | $(BIN)/python
	npm install --silent --no-audit --no-fund --prefix $(VENV)/axe axe-core@$(AXE_VERSION) \
	  || echo "npm could not install axe-core; the browser test falls back to the older bundled axe"
axe: $(AXE)

test: $(VENV)/.dev $(AXE)
	$(BIN)/ruff check .
	$(BANDIT)
	$(BIN)/mypy
	$(PYTEST) -n $(TEST_WORKERS) -m "not serial" --durations=10
	$(PYTEST) -m "serial" --durations=10

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BANDIT)

## make bench: benchmarks against a baseline measured in the same run (needs PostgreSQL and Redis)
# benchmarks/pages.py drives its pages with wrk (Debian's package), installed here when missing.
bench: $(VENV)/.dev
	@command -v wrk >/dev/null || apt-get install -y -q wrk || sudo -n apt-get install -y -q wrk
	@for b in benchmarks/*.py; do case $$b in benchmarks/hello.py|benchmarks/_*) continue;; esac; echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache

## make translations: re-extract strings, update the catalogues, compile them
# Only compiled catalogues are offered (facility/__init__.py _offer_translated_languages); a language is
# compiled (and so offered) once its catalogue is complete (tests/reach/test_catalogues.py checks both).
COMPILED_LANGUAGES ?= fr es ar zh ru
translations: $(VENV)/.runtime
	$(BIN)/pybabel extract -F babel.cfg -k _l -o translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i translations/messages.pot -d translations
	for l in $(COMPILED_LANGUAGES); do $(BIN)/pybabel compile -d translations -l $$l || exit 1; done
