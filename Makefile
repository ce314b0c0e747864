# The README's two commands. Both create .venv on first use (Python 3.11 is all they need).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint schemas clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(PY) -m deploy.stack

test: $(VENV)/.installed
	$(PY) -m pytest -ra

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy schemas services deploy demo

schemas: $(VENV)/.installed
	$(PY) -m schemas.generate

clean:
	rm -rf $(VENV) .data
