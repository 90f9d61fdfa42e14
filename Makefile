# bedrock-spend — every target works on a machine with only Python 3.11, pip and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-unit test-functional test-e2e lint cfn-lint named-queries package bench fuzz soak demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The whole suite: unit, functional (moto) and e2e (local stack; the suite starts and stops its emulator).
test: install
	$(BIN)/python -m pytest -q

test-unit: install
	$(BIN)/python -m pytest -q tests/unit

test-functional: install
	$(BIN)/python -m pytest -q tests/functional

test-e2e: install
	$(BIN)/python -m pytest -q tests/e2e

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check transform infra tests bench
	$(BIN)/mypy
	$(BIN)/cfn-lint infra/*.yaml

## CloudFormation/SAM templates only (zero errors expected).
cfn-lint: install
	$(BIN)/cfn-lint infra/*.yaml

## Regenerate the template's Athena named queries from schemas/queries/*.sql.
named-queries: install
	$(BIN)/python -m infra.named_queries

## build/lambda/ for arm64 python3.12 Lambda (no Docker): runtime deps + transform/ only.
package: install
	$(BIN)/python -m infra.package

## Performance figures (ratios measured in one run), printed as one table; never part of `make test`.
bench: install
	$(BIN)/python -m bench

## Long fuzzing of the transform (the default test run has the fast profile of the same tests).
fuzz: install
	BEDROCK_SPEND_FUZZ=long $(BIN)/python -m pytest -q tests/fuzz

## 1,000,000 events through the local pipeline, RSS sampled (out/soak/); never part of `make test`.
SOAK_EVENTS ?= 1000000
soak: install
	$(BIN)/python -m bench.soak --events $(SOAK_EVENTS)

demo: install
	$(BIN)/bedrock-spend demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
