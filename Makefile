# keyfit — the two set-up commands: `make run` and `make test`.
SHELL := /bin/bash
PORT ?= 8000
# The local demo runs without a SECRET_KEY; production sets one (docs/deployment.md).
export KEYFIT_DEMO := $(if $(SECRET_KEY),,1)
VENV := .venv
PY := $(VENV)/bin/python
# Django 6 needs Python >= 3.12; take the first suitable interpreter on this machine.
PYTHON ?= $(shell for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3 \
	$$HOME/.pyenv/versions/3.13*/bin/python3 /usr/local/bin/python3.1[23] python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; \
	then command -v $$p; break; fi; done)

.PHONY: run test setup deps assets migrate lint check-migrations messages worker bench clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "keyfit needs Python >= 3.12 (set PYTHON=/path/to/python3.12)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

deps: $(VENV)/.installed

static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/
	cp node_modules/echarts/dist/echarts.min.js static/vendor/
	cp node_modules/sortablejs/Sortable.min.js static/vendor/
	@touch $@

assets: static/vendor/.installed

messages: deps
	mkdir -p var
	$(PY) manage.py compile_translations

setup: deps assets messages
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py collectstatic --noinput --verbosity 0

run: setup
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py demo_logins
	@echo "keyfit serves http://127.0.0.1:$(PORT)  (background worker started beside it)"
	@trap 'kill 0' EXIT; \
	$(PY) manage.py db_worker --queue-name '*' >var/worker.log 2>&1 & \
	$(VENV)/bin/gunicorn config.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 --access-logfile -

worker: deps
	$(PY) manage.py db_worker --queue-name '*'

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check-migrations: deps
	DJANGO_SETTINGS_MODULE=config.settings_test $(PY) manage.py makemigrations --check --dry-run

test: deps assets messages lint check-migrations
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)
	@if [ -n "$$KEYFIT_TEST_DATABASE_URL" ]; then \
		echo "== again on $$KEYFIT_TEST_DATABASE_URL"; \
		DATABASE_URL="$$KEYFIT_TEST_DATABASE_URL" $(VENV)/bin/pytest -q $(PYTEST_ARGS); \
	fi

bench: deps
	$(PY) -m bench $(BENCH)

clean:
	rm -rf $(VENV) node_modules static/vendor staticfiles var
