# Two commands for a fresh machine: `make up` and `make test` (see README.md).
# `make up` installs the runtime lock only; `make test`/`lint` add requirements-dev.lock.
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: up test lint env compose-config wheelhouse compose-check

$(RUNTIME): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME) requirements-dev.lock
	$(PY) -m pip install --quiet -r requirements-dev.lock
	touch $(DEV)

# The development environment: runtime and dev locks plus the editable install.
env: $(DEV)

# Migrates, loads the demo data, trains if no model is in production, then serves until Ctrl-C.
up: $(RUNTIME)
	$(VENV)/bin/skserve up $(ARGS)

test: $(DEV)
	$(PY) -m pytest

lint: $(DEV)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Checks docker-compose.yml without a Docker engine (Debian: apt-get install docker-compose).
compose-config:
	docker-compose config --quiet

# Wheels for the offline image builds (Dockerfile.* install from wheelhouse/ with --no-index).
# WHEELHOUSE=DIR downloads elsewhere (the compose check keeps one per content of the locks).
WHEELHOUSE := wheelhouse
wheelhouse: $(RUNTIME)
	$(PY) -m pip download --quiet --only-binary=:all: -d $(WHEELHOUSE) \
		-r requirements-dev.lock -r deploy/build.lock

# Builds the images, runs the compose stack for real, drives and breaks it, tears it down.
compose-check: $(DEV)
	bash deploy/compose-check.sh
