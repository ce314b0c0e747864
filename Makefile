# The README's two commands. Both create .venv on first use (Python 3.11 is all they need).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test lint schemas clean chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(PY) -m deploy.stack

test: $(VENV)/.installed chromium
	$(PY) -m pytest -ra

# Debian's Chromium and a CJK font, for the tests that render the evaluation page headless
chromium:
	@{ command -v chromium && fc-list | grep -qi wqy; } >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		$(SUDO) apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; }

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy schemas services deploy demo

schemas: $(VENV)/.installed
	$(PY) -m schemas.generate

clean:
	rm -rf $(VENV) .data
