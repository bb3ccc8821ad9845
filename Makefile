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

# An editable install gets no bytecode (and PYTHONDONTWRITEBYTECODE may forbid writing it at run time):
# compile it once, as `pip install` of a wheel does, so every CLI call does not recompile ~40 modules.
$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PIP) install -e .
	$(PY) -m compileall -q src >/dev/null
	touch $@

$(DEV_STAMP): $(STAMP)
	$(PIP) install -e '.[dev]'
	$(PY) -m compileall -q src >/dev/null
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

BIN := $(VENV)/bin
DEMO := demo-out

demo: $(STAMP)
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== 1. scan a package that hides a malicious pickle (exit 1 expected)"
	$(PY) -m modelcert.demo build $(DEMO)/package
	-$(BIN)/modelcert scan $(DEMO)/package
	@echo; echo "== 2. a certifier makes a key, certifies the clean package, a consumer verifies offline"
	$(PY) -m modelcert.demo build-clean $(DEMO)/clean
	$(BIN)/modelcert keys generate --out $(DEMO)/keys --name "Demo Lab" --jurisdiction US --id https://demo-lab.example
	$(BIN)/modelcert certify $(DEMO)/clean --key $(DEMO)/keys/private.pem --issuer $(DEMO)/keys/issuer.json \
		--policy baseline --line pkg:generic/demo/tiny-linear --version 1.0.0 --output $(DEMO)/clean.cert.json
	$(BIN)/modelcert keys trust --certifier $(DEMO)/keys/certifier.json --policy baseline --output $(DEMO)/TRUST.json
	$(BIN)/modelcert verify $(DEMO)/clean --cert $(DEMO)/clean.cert.json --trust $(DEMO)/TRUST.json
	@echo; echo "== 3. one changed byte breaks verification (exit 1 expected)"
	@printf 'x' >> $(DEMO)/clean/config.json
	-$(BIN)/modelcert verify $(DEMO)/clean --cert $(DEMO)/clean.cert.json --trust $(DEMO)/TRUST.json
	@echo; echo "== 4. certifying the malicious package is refused (exit 1 expected)"
	-$(BIN)/modelcert certify $(DEMO)/package --key $(DEMO)/keys/private.pem --issuer $(DEMO)/keys/issuer.json \
		--policy baseline --output $(DEMO)/package.cert.json
	@echo; echo "demo done: outputs in $(DEMO)/"

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
	rm -rf $(VENV) $(DEMO) .mypy_cache .ruff_cache
