# bifrostc developer tasks. `make lint test` is what CI runs.
PYTHON ?= python
COMPILER_PATHS := compiler templates schema tests/compiler tests/golden tests/invalid tests/test_examples.py

.PHONY: install lint format test test-compiler regen schema check

install:
	$(PYTHON) -m pip install -e '.[dev]'

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	bash .ci/typecheck

format:
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

test:
	$(PYTHON) -m pytest -q

test-compiler:
	$(PYTHON) -m pytest -q tests/compiler tests/golden tests/invalid tests/test_examples.py

# The only way golden out/ trees change; review the diff of tests/golden/cases/*/expected afterwards.
regen:
	$(PYTHON) tests/golden/regen.py

# schema/gateway.schema.json is generated from compiler/spec.py.
schema:
	$(PYTHON) -m bifrostc.compiler.cli schema -o schema/gateway.schema.json

# Fails when a generated artefact is stale.
check:
	$(PYTHON) -m bifrostc.compiler.cli schema -o schema/gateway.schema.json --check
	$(PYTHON) -m pytest -q tests/golden
