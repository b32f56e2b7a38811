# Two commands for a fresh machine: `make up` and `make test` (see README.md).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test lint env compose-config

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

env: $(STAMP)

# Migrates, loads the demo data, trains if no model is in production, then serves until Ctrl-C.
up: $(STAMP)
	$(VENV)/bin/skserve up $(ARGS)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Checks docker-compose.yml without a Docker engine (Debian: apt-get install docker-compose).
compose-config:
	docker-compose config --quiet
