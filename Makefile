# Lodge developer commands. `make dev` and `make test` install what they need on a fresh machine
# (Python 3.11 and Node are the only prerequisites).
SHELL := /bin/bash
# The interpreter for both venvs: python3.11, else python3 when that is 3.11 (Lambda's runtime is python3.11).
PYTHON ?= $(shell for p in python3.11 python3; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
	    echo $$p; break; fi; done)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
# SAM CLI: no telemetry, no version check (see ../shared/toolchain.md).
SAM_ENV := SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR=$(CURDIR)/.sam-cli AWS_EC2_METADATA_DISABLED=true

.PHONY: help python-check install install-sam install-node install-browser dev invoke test lint typecheck validate cfn-lint build \
	build-check unit bench clean

help:
	@echo "make dev        run Lodge locally on 127.0.0.1:3000 (embedded AWS emulation), with a demo project"
	@echo "make test       install everything and run every check (ruff, mypy, sam validate --lint, cfn-lint,"
	@echo "                build-check, pytest); .ci/run runs exactly this"
	@echo "make bench      cost, cold start, CPU and round-trip figures (bench/results.json)"
	@echo "make build      sam build (no container, cached, parallel)"
	@echo "make build-check  sam build, then assert the layer holds python/lodge/ and every function its app.py"
	@echo "make invoke FN=rollbar_item EVENT=events/rollbar_item.json   Docker-less twin of sam local invoke"

python-check:
	@if [ -z "$(PYTHON)" ]; then echo "error: Python 3.11 is required (python3.11, or python3 being 3.11)" >&2; exit 1; fi

$(VENV)/.installed: requirements-dev.txt layers/lodge/python/requirements.txt | python-check
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

.sam-cli/metadata.json:
	mkdir -p .sam-cli
	echo '{"telemetryEnabled": false, "lastVersionCheck": 4102444800}' > $@

$(SAM_VENV)/.installed: requirements-sam.txt | python-check
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

install-sam: $(SAM_VENV)/.installed .sam-cli/metadata.json

node_modules/.installed: package.json $(wildcard package-lock.json)
	@command -v npm >/dev/null || { echo "error: Node.js and npm are required (integration tests run rollbar.js)" >&2; exit 1; }
	if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
	else npm install --no-audit --no-fund --loglevel=error; fi
	touch $@

install-node: node_modules/.installed

# Browser tests drive Debian's Chromium through npm playwright-core (never a browser download).
CHROMIUM ?= /usr/bin/chromium
install-browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "error: browser tests need Debian's chromium at $(CHROMIUM) (apt-get install chromium)" >&2; exit 1; fi; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy layers/lodge/python/lodge devtools/lodge_devtools functions bench

validate: install-sam
	$(SAM_ENV) $(SAM) validate --lint

# Informational checks too (I...): the template is clean of them; suppressions would go in .cfnlintrc.yaml.
cfn-lint: install-sam
	$(SAM_VENV)/bin/cfn-lint --include-checks I -- template.yaml

build: install-sam
	$(SAM_ENV) $(SAM) build --cached --parallel

build-check: build install
	$(PY) .ci/build_check.py

unit: install
	$(PY) -m pytest -q

# pytest's exit status is kept as is: 5 ("no tests collected") fails the target like any other failure.
test: install install-sam install-node install-browser lint typecheck validate cfn-lint build-check
	$(PY) -m pytest -q

# The dev tools import the layer package and lodge_devtools straight from the tree.
DEV_PATH := PYTHONPATH=$(CURDIR)/devtools:$(CURDIR)/layers/lodge/python

dev: install
	$(DEV_PATH) $(PY) -m lodge_devtools.runner --demo $(ARGS)

invoke: install
	$(DEV_PATH) $(PY) -m lodge_devtools.invoke $(FN) -e $(EVENT) $(ARGS)

bench: install
	$(DEV_PATH) $(PY) -m bench

clean:
	rm -rf .aws-sam .lodge .pytest_cache .mypy_cache .ruff_cache

# ---- fuzzing (issue 15) -------------------------------------------------------------------------
# `make fuzz` sends 10,000 generated cases per endpoint through the handlers in-process (moto) and
# FUZZ_HTTP per endpoint over HTTP through the local runner; prints a status histogram per endpoint
# and every traceback class. FUZZ_ARGS="-n 500 -e rollbar_item --seed 7" narrows a run.
FUZZ_HTTP ?= 200
.PHONY: fuzz
fuzz: install
	$(DEV_PATH) $(PY) -m tests.fuzz --http $(FUZZ_HTTP) $(FUZZ_ARGS)
