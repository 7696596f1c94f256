# Support portal — see README.md. `make run` serves the demo; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-runtime
HOST ?= 127.0.0.1
PORT ?= 8000
# Unit-test processes (pytest-xdist): `make test-unit WORKERS=1` runs them in one process.
WORKERS ?= auto
# Bytecode caches on even where the environment turns them off (PYTHONDONTWRITEBYTECODE=1 on this
# kind of machine): every pytest worker, Daphne and Celery process of the suite otherwise compiles
# the project and pytest's rewritten test modules again (measured: `pytest --collect-only` 23 s of
# CPU -> 12.4 s; `manage.py check` 2.8 s -> 2.4 s).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test lint check-django test-unit test-browser test-stack test-stress install a11y-tools messages screenshots bench stack clean

# `make run` needs only the runtime requirements; the test tools come with `make test`.
$(RUN_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) requirements-dev.txt
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# The accessibility checkers of the browser suite (tests/browser/test_browser_a11y.py): axe-core and
# the Nu HTML checker (vnu-jar, run with Java), pinned by tools/a11y/package-lock.json; no CDN.
A11Y_STAMP := tools/a11y/node_modules/.installed
$(A11Y_STAMP): tools/a11y/package.json tools/a11y/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: apt-get install -y npm"; exit 1; }
	@command -v java >/dev/null || { echo "java is missing (Nu HTML checker): apt-get install -y default-jre-headless"; exit 1; }
	cd tools/a11y && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(A11Y_STAMP)

a11y-tools: $(A11Y_STAMP)

install: $(STAMP) $(A11Y_STAMP)

# The development checkout's settings (read by support_portal/settings.py, gitignored): DEBUG on
# and a random SECRET_KEY, so `.venv/bin/python manage.py …` works here by hand. Never overwritten.
.env:
	@$(PYTHON) -c 'import secrets; print("# Written by make run for this development checkout (gitignored).\nDEBUG=true\nSECRET_KEY=" + secrets.token_urlsafe(50))' > .env
	@echo "Wrote .env (DEBUG=true) for this checkout"

run: $(RUN_STAMP) .env
	@LOG_LEVEL=WARNING $(PY) manage.py migrate --noinput --verbosity 0
	@LOG_LEVEL=WARNING $(PY) manage.py collectstatic --noinput --verbosity 0
	@mkdir -p var && LOG_LEVEL=WARNING $(PY) manage.py seed_demo > var/demo-logins.txt
	@LOG_LEVEL=WARNING $(PY) manage.py rebuild_index --noinput --verbosity 0
	@echo "Serving http://$(HOST):$(PORT)/ (another port: make run PORT=8001). Stop with Ctrl+C."
	@cat var/demo-logins.txt
	@LOG_LEVEL=WARNING exec $(VENV)/bin/daphne --verbosity 0 -b $(HOST) -p $(PORT) support_portal.asgi:application

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check-django: export DEBUG ?= true
check-django: $(STAMP)
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

# Unit tests in parallel (pytest-xdist; per-worker database, Redis db, index and media folders:
# tests/settings.py), the 15 slowest printed.
test-unit: $(STAMP)
	$(VENV)/bin/pytest -n $(WORKERS) --dist worksteal --durations=15

# Browser tests in two processes (pytest-xdist; each test has its own live stack on free ports):
# five runs in a row passed under stress-ng --cpu 2 (docs/CONVENTIONS.md); BROWSER_WORKERS=0 for one.
BROWSER_WORKERS ?= 2
test-browser: $(STAMP) $(A11Y_STAMP)
	$(VENV)/bin/pytest -m browser -p no:asyncio -n $(BROWSER_WORKERS) --durations=15

# Browser scenarios save screenshots to a temporary folder; this target saves them to
# docs/screenshots/*.png (shown in the README) instead.
screenshots: $(STAMP) $(A11Y_STAMP)
	SCREENSHOTS_DIR=docs/screenshots $(VENV)/bin/pytest -m browser -p no:asyncio -q tests/browser

test-stack: $(STAMP)
	$(VENV)/bin/pytest -m stack --durations=15

test: lint check-django test-unit test-browser test-stack

# Flakiness check: the browser and stack stages RUNS times in a row with both cores busy
# (stress-ng --cpu 2, stopped at the end); stops at the first failing run.
# `make test-stress RUNS=5 STRESS_TESTS=tests/browser/test_notifications_bell.py`: one browser file;
# `make test-stress BROWSER_WORKERS=2`: the browser stage in two processes, as `make test-browser`.
RUNS ?= 5
STRESS_TESTS ?=
test-stress: $(STAMP)
	@command -v stress-ng >/dev/null || { echo "stress-ng is missing: apt-get install -y stress-ng"; exit 1; }
	@stress-ng --cpu 2 --quiet & load=$$!; trap 'kill $$load' EXIT; \
	for i in $$(seq $(RUNS)); do \
	  echo "== run $$i of $(RUNS) (stress-ng --cpu 2) at $$(date -u +%T)"; \
	  if [ -n "$(STRESS_TESTS)" ]; then $(VENV)/bin/pytest -m browser -p no:asyncio -q $(STRESS_TESTS) || exit 1; \
	  else $(VENV)/bin/pytest -m browser -p no:asyncio -q -n $(BROWSER_WORKERS) && $(VENV)/bin/pytest -m stack -q || exit 1; fi; \
	done

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
