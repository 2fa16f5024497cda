# Clarion: `make run` starts a demo, `make test` runs every test on SQLite and PostgreSQL.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# PostgreSQL used by `make test` (the test run creates and drops its own test_ database).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/clarion
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup demo-env run test test-sqlite test-postgres browser lint bench-import bench-segments bench-faults \
	bench-api-paging bench-blast bench-blast-crash bench-scaleout bench-events-near bench-qa-live bench-qa-screen \
	bench-signups bench-engagement bench-journeys bench-portal clean

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

# Benchmarks (docs/benchmarks.md): one target per script in bench/, extra arguments in
# BENCH_ARGS (make bench-api-paging BENCH_ARGS="--people 200000"). A bench that needs a
# tool checks for it first: as root it installs Debian's package (as `make browser`
# does), otherwise it stops with one line saying what to install. None falls back to a
# different baseline.
BENCH_ARGS ?=
BENCH_PG ?= postgres://postgres@127.0.0.1:5432

# $(call bench_tool,command or absolute path,Debian package)
define bench_tool
	@if ! command -v $(1) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's $(2) for $@"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null) \
	      || { echo "$@ needs $(1): could not install Debian's $(2)"; exit 1; }; \
	  else \
	    echo "$@ needs $(1): sudo apt-get install $(2)"; exit 1; \
	  fi; \
	fi
endef

# pg_isready (Debian's postgresql-client) when present, else a connection from the venv.
define bench_pg
	@if command -v pg_isready >/dev/null 2>&1; then pg_isready -q -t 3 -d '$(BENCH_PG)/postgres'; \
	  else $(BIN)/python -c "import psycopg; psycopg.connect('$(BENCH_PG)/postgres', connect_timeout=3).close()" 2>/dev/null; fi \
	  || { echo "$@ needs PostgreSQL answering at $(BENCH_PG): apt-get install postgresql, then start it"; exit 1; }
endef

define bench_redis
	$(call bench_tool,redis-server,redis-server)
	@$(BIN)/python -c "import redis; redis.Redis(host='127.0.0.1', port=6379, socket_connect_timeout=2).ping()" 2>/dev/null \
	  || { echo "$@ needs Redis answering on 127.0.0.1:6379: redis-server --daemonize yes"; exit 1; }
endef

bench-import: setup
	$(bench_pg)
	$(BIN)/python bench/import_people.py $(BENCH_ARGS)

bench-segments: setup
	$(bench_pg)
	$(BIN)/python bench/segments.py $(BENCH_ARGS)

# Fault drills: PostgreSQL and Redis (private instances on free ports) stopped under load.
bench-faults: setup
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's postgresql (server binaries) for $@"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || { echo "$@ needs the PostgreSQL server binaries: could not install Debian's postgresql"; exit 1; }; \
	  else \
	    echo "$@ needs the PostgreSQL server binaries: sudo apt-get install postgresql"; exit 1; \
	  fi; \
	fi
	$(call bench_tool,redis-server,redis-server)
	$(BIN)/python bench/fault_pg_restart.py
	$(BIN)/python bench/fault_pg_restart.py --redis

bench-api-paging: setup
	$(bench_pg)
	$(BIN)/python bench/api_paging.py $(BENCH_ARGS)

bench-engagement: setup
	$(bench_pg)
	$(BIN)/python bench/engagement.py $(BENCH_ARGS)

bench-journeys: setup
	$(bench_pg)
	$(BIN)/python bench/journeys.py $(BENCH_ARGS)

bench-events-near: setup
	$(bench_pg)
	$(BIN)/python bench/events_near.py $(BENCH_ARGS)

bench-portal: setup
	$(bench_pg)
	$(BIN)/python bench/portal.py $(BENCH_ARGS)

# SQLite in a temporary folder unless DATABASE_URL is set: needs nothing else.
bench-qa-screen: setup
	$(BIN)/python bench/qa_screen.py $(BENCH_ARGS)

# Redis is used when it answers on 127.0.0.1:6379 (REDIS_URL otherwise), else the database cache.
bench-qa-live: setup
	$(call bench_tool,wrk,wrk)
	$(bench_pg)
	$(BIN)/python bench/qa_live.py $(BENCH_ARGS)

bench-signups: setup
	$(call bench_tool,wrk,wrk)
	$(bench_pg)
	$(bench_redis)
	$(BIN)/python bench/signups.py $(BENCH_ARGS)

# Postfix's smtp-sink, not the slower aiosmtpd fallback of bench/blast.py, so the
# baseline is the machine's. Postfix is installed unconfigured (no mail server started).
bench-blast: setup
	@if [ ! -x /usr/sbin/smtp-sink ] && [ "$$(id -u)" = 0 ]; then \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	fi
	$(call bench_tool,/usr/sbin/smtp-sink,postfix)
	$(bench_pg)
	$(BIN)/python bench/blast.py $(BENCH_ARGS)

# Two web servers on one port, two RQ workers, signatures during a send: correctness.
bench-scaleout: setup
	$(call bench_tool,wrk,wrk)
	$(bench_pg)
	$(bench_redis)
	$(BIN)/python bench/scaleout.py $(BENCH_ARGS)

# The sink here is aiosmtpd on purpose (it logs each recipient, so copies are counted).
bench-blast-crash: setup
	$(bench_pg)
	$(BIN)/python bench/blast_crash.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite3* var/static build *.egg-info
