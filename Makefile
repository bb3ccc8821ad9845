# The two commands: `make demo` and `make test`. Everything else is a step they call.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck layers install install-dev docs bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PIP) install -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(PIP) install -e '.[dev]'
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

demo: $(STAMP)
	$(PY) -m modelcert.demo build demo-package
	-$(VENV)/bin/modelcert scan demo-package
	@echo
	@echo "(exit code 1 above is expected: the demo package holds one malicious pickle)"

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

docs: $(STAMP)
	$(PY) -m modelcert.docgen docs/checks

test: $(DEV_STAMP) lint
	$(PY) -m modelcert.docgen --check docs/checks
	$(PY) -m pytest -q -n 2

bench: $(DEV_STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-package .mypy_cache .ruff_cache
