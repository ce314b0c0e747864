# The README's two commands. Both create .venv on first use (Python 3.11 is all they need).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test lint lock schemas clean chromium chaos

# The whole dependency tree is pinned, with hashes, in requirements/*.lock (`make lock`):
# dev.lock = runtime + extras dev and servers (the embedded PostgreSQL and Kafka-protocol
# broker); runtime.lock = what the production image installs (deploy/Dockerfile).
$(VENV)/.installed: pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

run: $(VENV)/.installed
	$(PY) -m deploy.stack

test: $(VENV)/.installed chromium
	$(VENV)/bin/lint-imports && $(PY) -m pytest -ra

# Debian's Chromium, a CJK font (the PDFs need it too) and poppler's pdftoppm, for the tests
# that render the pages headless and turn the PDF into an image
chromium:
	@{ command -v chromium && command -v pdftoppm && fc-list | grep -qi wqy; } >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		$(SUDO) apt-get install -y -qq chromium fonts-wqy-zenhei poppler-utils >/dev/null; }

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy schemas services deploy demo bench
	$(VENV)/bin/lint-imports

# Re-resolve the lock files after a change to pyproject.toml's dependencies. Pins already in
# a lock are kept where they still fit; `make lock UPGRADE=1` moves every pin to the newest.
UV_VERSION := 0.13.9
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
lock:
	[ -x $(VENV)/bin/uv ] || { [ -x $(PY) ] || $(PYTHON) -m venv $(VENV); \
		$(PY) -m pip install --quiet uv==$(UV_VERSION); }
	$(UV_COMPILE) --extra dev --extra servers -o requirements/dev.lock
	$(UV_COMPILE) --constraint requirements/dev.lock -o requirements/runtime.lock

# The chaos run (bench/chaos.py): `make chaos EVENTS=1000000 FAULTS=20 SEED=1`
EVENTS ?= 100000
FAULTS ?= 5
SEED ?= 1
chaos: $(VENV)/.installed
	$(PY) -m bench.chaos --events $(EVENTS) --faults $(FAULTS) --seed $(SEED)

schemas: $(VENV)/.installed
	$(PY) -m schemas.generate

clean:
	rm -rf $(VENV) .data
