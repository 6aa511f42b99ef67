# ailab: `make run` serves the lab on this machine; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export AILAB_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test check lint format typecheck contracts pytest demo bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

## run: the lab on this machine (SQLite, local executor, demo data, http://127.0.0.1:8000)
# A secret key is generated once into the data directory (mode 0600) unless one is set; every
# `ailab` server-side command reads it from there too. Mail goes to files in $(AILAB_DATA_DIR)/mail
# unless AILAB_EMAIL_BACKEND says otherwise (smtp with AILAB_EMAIL_HOST for a real lab).
run: $(STAMP)
	@mkdir -p "$(AILAB_DATA_DIR)"
	@[ -n "$$AILAB_SECRET_KEY" ] || [ -s "$(AILAB_DATA_DIR)/secret_key" ] || \
	  (umask 077; $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))' > "$(AILAB_DATA_DIR)/secret_key")
	AILAB_SECRET_KEY="$${AILAB_SECRET_KEY:-$$(cat "$(AILAB_DATA_DIR)/secret_key")}" \
	  AILAB_EMAIL_BACKEND="$${AILAB_EMAIL_BACKEND:-file}" $(BIN)/ailab run --demo

demo: $(STAMP)
	AILAB_DEBUG=1 $(BIN)/ailab demo

## test: lint, format check, types, layer contracts, tests
test: $(DEV_STAMP)
	$(MAKE) --no-print-directory check

check: lint typecheck contracts pytest

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format:
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck:
	AILAB_TESTING=1 $(BIN)/mypy src

contracts:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest -n 2 -q $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b --check || exit 1; done

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
