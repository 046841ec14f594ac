# Two commands for a newcomer: `make up` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: up test test-year-ahead unit integration schemas bench-identity clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/safeguard up --demo

test: $(STAMP)
	./deploy/install-browser.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The whole suite with every integration instance's clock (and the tests' own) 52 weeks ahead.
test-year-ahead: $(STAMP)
	./deploy/install-browser.sh
	SAFEGUARD_TEST_WEEKS_AHEAD=52 $(BIN)/python -m pytest -q -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not integration"

integration: $(STAMP)
	./deploy/install-browser.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider -m integration

bench-identity: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,benchmark]'
	$(BIN)/python -m benchmarks.identity
	$(BIN)/python -m benchmarks.identity_ceiling

schemas: $(STAMP)
	$(BIN)/python -m schemas.generate

clean:
	rm -rf $(VENV) var .pytest_cache
