# palmvein developer commands. `make demo` and `make test` are the README's quick start.
#
# The virtualenv is (re)installed only when pyproject.toml or the C extension's source changes:
# a stamp file per extra records the hash of both it was installed from.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HASH   := $(shell cat pyproject.toml matcher/_hamming.c | (sha256sum 2>/dev/null || shasum -a 256) | cut -c1-16)
STAMP_RUNTIME := $(VENV)/.installed-runtime-$(HASH)
STAMP_DEV     := $(VENV)/.installed-dev-$(HASH)
# Domain and root packages checked by mypy and shipped in the distribution.
PACKAGES := biometric capture matcher payroll payments devices enrollment_ui palmvein
PYTEST_ARGS ?=

.PHONY: help venv venv-dev demo test serve lint bench clean

help:
	@echo "make demo   - set up .venv, migrate the SQLite database, run the demo"
	@echo "make test   - set up .venv with dev tools, run the test suite (SQLite and PostgreSQL)"
	@echo "make serve  - run the API on http://127.0.0.1:8000 (docs at /docs)"
	@echo "make lint   - ruff, mypy (strict on domain packages), import-linter layer contracts"
	@echo "make bench  - run the benchmarks (pytest-benchmark)"

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUNTIME): | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	rm -f $(VENV)/.installed-runtime-*
	touch $@

$(STAMP_DEV): | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@ $(STAMP_RUNTIME)

venv: $(if $(wildcard $(STAMP_DEV)),$(STAMP_DEV),$(STAMP_RUNTIME))

venv-dev: $(STAMP_DEV)

demo: venv
	$(BIN)/palmvein db upgrade
	$(BIN)/palmvein demo

test: venv-dev
	$(BIN)/pytest $(PYTEST_ARGS)

serve: venv
	$(BIN)/palmvein db upgrade
	$(BIN)/palmvein serve

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/mypy $(PACKAGES)
	$(BIN)/lint-imports

bench: venv-dev
	$(BIN)/pytest tests/benchmarks --benchmark-enable --benchmark-only --benchmark-columns=min,median,mean,ops,rounds -q

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .benchmarks
