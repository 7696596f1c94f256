# Support portal — see README.md. `make run` serves the demo; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint check-django test-unit test-browser test-stack install messages screenshots bench stack clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: export DEBUG ?= true
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo
	$(PY) manage.py rebuild_index --noinput --verbosity 0
	@echo "Serving http://$(HOST):$(PORT)/ — demo password: demo1234"
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) support_portal.asgi:application

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check-django: export DEBUG ?= true
check-django: $(STAMP)
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

test-unit: $(STAMP)
	$(VENV)/bin/pytest

test-browser: $(STAMP)
	$(VENV)/bin/pytest -m browser -p no:asyncio

# Browser scenarios save docs/screenshots/*.png (shown in the README): rerun them to refresh.
screenshots: $(STAMP)
	$(VENV)/bin/pytest -m browser -p no:asyncio -q tests/browser

test-stack: $(STAMP)
	$(VENV)/bin/pytest -m stack

test: lint check-django test-unit test-browser test-stack

messages: $(STAMP)
	DEBUG=true $(PY) manage.py makemessages -l en --no-obsolete --no-location -i .venv -i staticfiles -i var -i tests -i benchmarks
	DEBUG=true $(PY) manage.py compilemessages -i .venv

# Scale-out stack without Docker: nginx + 2 Daphne + Celery worker + beat on local PostgreSQL
# and Redis (docs/SCALE_OUT.md). Installs Debian's nginx when it is missing. FRESH=1 recreates the database.
stack: $(STAMP)
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update && apt-get install -y nginx)
	$(PY) deploy/stack.py $(if $(FRESH),--fresh-db,)

# Every benchmark in short mode; `make bench FULL=1` for the full runs. Regenerates docs/PERFORMANCE.md.
bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(if $(FULL),--full,)

clean:
	rm -rf var staticfiles
