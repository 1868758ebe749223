# The two commands of the README: `make run` and `make test`. Each installs what it needs first.
SHELL := /bin/bash
PYTHON := .venv/bin/python
# Models that PyPI packages ship, used when the French production models are not in models/ (see README).
DEMO_MODELS := $(if $(wildcard models/vosk-model-small-fr-0.22/am/final.mdl),,--config config/demo-models.yaml)

.PHONY: run test setup-run setup-test models lint

run: setup-run
	$(PYTHON) -m callbot run $(DEMO_MODELS)

test: setup-test lint
	$(PYTHON) -m pytest -q -ra $(PYTEST_ARGS)

setup-run:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

models: setup-run
	$(PYTHON) -m callbot models pull

lint: setup-test
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy .
