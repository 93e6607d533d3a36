# Lodge developer commands. `make dev` and `make test` install what they need on a fresh machine
# (Python 3.11 and Node are the only prerequisites).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
# SAM CLI: no telemetry, no version check (see ../shared/toolchain.md).
SAM_ENV := SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR=$(CURDIR)/.sam-cli AWS_EC2_METADATA_DISABLED=true

.PHONY: help install install-sam install-node dev invoke test lint typecheck validate build unit bench clean

help:
	@echo "make dev        run Lodge locally on 127.0.0.1:3000 (embedded AWS emulation), with a demo project"
	@echo "make test       install everything and run every check (ruff, mypy, sam validate --lint, pytest)"
	@echo "make bench      cost, cold start, CPU and round-trip figures (bench/results.json)"
	@echo "make build      sam build (no container)"
	@echo "make invoke FN=rollbar_item EVENT=events/rollbar_item.json   Docker-less twin of sam local invoke"

$(VENV)/.installed: requirements-dev.txt layers/lodge/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

.sam-cli/metadata.json:
	mkdir -p .sam-cli
	echo '{"telemetryEnabled": false, "lastVersionCheck": 4102444800}' > $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

install-sam: $(SAM_VENV)/.installed .sam-cli/metadata.json

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install-node: node_modules/.installed

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy layers/lodge/python/lodge devtools/lodge_devtools functions bench

validate: install-sam
	$(SAM_ENV) $(SAM) validate --lint

build: install-sam
	$(SAM_ENV) $(SAM) build --cached --parallel

unit: install
	$(PY) -m pytest -q

test: install install-sam install-node lint typecheck validate
	$(PY) -m pytest -q

dev: install
	$(PY) -m lodge_devtools.runner --demo

invoke: install
	$(PY) -m lodge_devtools.invoke $(FN) -e $(EVENT)

bench: install
	$(PY) -m bench

clean:
	rm -rf .aws-sam .lodge .pytest_cache .mypy_cache .ruff_cache
