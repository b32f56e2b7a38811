# Two commands for a fresh machine: `make up` and `make test` (see README.md).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test lint env

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

env: $(STAMP)

up: $(STAMP)
	$(VENV)/bin/skserve db upgrade
	$(VENV)/bin/skserve demo-data
	$(VENV)/bin/skserve train --spec specs/adult.toml --promote-if-better

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
