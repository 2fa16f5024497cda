# Clarion: `make run` starts a demo, `make test` runs every test on SQLite and PostgreSQL.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# PostgreSQL used by `make test` (the test run creates and drops its own test_ database).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/clarion
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup demo-env run test test-sqlite test-postgres browser lint bench-import bench-segments bench-faults clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Clarion needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

setup: $(BIN)/.installed

# axe-core (accessibility checks in the browser tests) from the npm registry.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

# Links in emails and share links follow the address the demo runs on.
CLARION_SITE_URL ?= http://$(HOST):$(PORT)

# var/demo.env lets `.venv/bin/clarion <command>` reach this demo without extra settings
# (clarion/cli.py reads it only when no CLARION_SECRET_KEY is set).
DEMO_ENV ?= var/demo.env
demo-env:
	@mkdir -p $(dir $(DEMO_ENV))
	@printf '%s\n' '# clarion demo settings' '# Written by make run; the clarion command reads it when CLARION_SECRET_KEY is unset.' \
	  'CLARION_DEMO=1' 'CLARION_SITE_URL=$(CLARION_SITE_URL)' > $(DEMO_ENV)

run: setup demo-env
	@mkdir -p var
	CLARION_DEMO=1 CLARION_SITE_URL=$(CLARION_SITE_URL) $(BIN)/clarion migrate --noinput
	CLARION_DEMO=1 CLARION_SITE_URL=$(CLARION_SITE_URL) $(BIN)/clarion createcachetable
	CLARION_DEMO=1 CLARION_SITE_URL=$(CLARION_SITE_URL) $(BIN)/clarion load_demo
	@echo "Clarion demo at $(CLARION_SITE_URL)/ (staff: $(CLARION_SITE_URL)/login/). Other commands: .venv/bin/clarion help"
	CLARION_DEMO=1 CLARION_SITE_URL=$(CLARION_SITE_URL) $(BIN)/clarion serve --host $(HOST) --port $(PORT)

# Headless Chromium for the browser tests, from Debian's package.
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || { echo "Could not install chromium"; exit 1; }; \
	  else \
	    echo "The browser tests need Chromium at $(CHROMIUM): sudo apt-get install chromium"; exit 1; \
	  fi; \
	fi

test-sqlite: setup browser node_modules/.installed
	$(BIN)/pytest

test-postgres: setup browser node_modules/.installed
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest

test: test-sqlite test-postgres

lint: setup
	$(BIN)/ruff check clarion bench
	$(BIN)/ruff format --check clarion bench
	$(BIN)/lint-imports

bench-import: setup
	$(BIN)/python bench/import_people.py

bench-segments: setup
	$(BIN)/python bench/segments.py

# Fault drills: PostgreSQL and Redis (private instances on free ports) stopped under load.
bench-faults: setup
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { echo "bench-faults needs the PostgreSQL server binaries: apt-get install postgresql"; exit 1; }
	@command -v redis-server >/dev/null || { echo "bench-faults needs redis-server: apt-get install redis-server"; exit 1; }
	$(BIN)/python bench/fault_pg_restart.py
	$(BIN)/python bench/fault_pg_restart.py --redis

clean:
	rm -rf $(VENV) var/*.sqlite3* var/static build *.egg-info
