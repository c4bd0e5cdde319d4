# Every target sets itself up on a fresh machine: the virtualenv, the Python packages and, for the
# tests that need real servers, Debian's postgresql and pgbouncer (apt-get, as root) and a PgBouncer >= 1.21
# built from Debian 13's source package (scripts/build-pgbouncer.sh, as root, cached).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint docs demo bench servers node-drivers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages for the real-server tests: installed only when missing.
servers:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v pgbouncer >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql pgbouncer openssl >/dev/null; \
		else \
			echo "postgresql/pgbouncer missing and not root: the real-server tests will fail: run \`sudo make servers\`" >&2; \
		fi; \
	fi
	@# The Debian package starts a system pgbouncer/postgresql; the tests use their own on free ports.
	@# A second PgBouncer, >= 1.21 (prepared statements in transaction mode), built from Debian 13's source
	@# package into ~/.cache/do-pgpool once (about a minute), then found at once: the pool probe's tests use both.
	@# Its deb-src line and index stay in that cache folder: /etc/apt is not changed (docs/development.md).
	@if [ "$$(id -u)" = 0 ]; then \
		sh scripts/build-pgbouncer.sh >/dev/null; \
	elif ! sh scripts/build-pgbouncer.sh >/dev/null; then \
		echo "PgBouncer >= 1.21 not built and not root: the tests needing it will fail: run \`sudo make servers\`" >&2; \
	fi

# The Node drivers for tests/test_drivers.py (node-postgres, postgres.js, Prisma 7): `npm ci` from the committed
# lock file, then `prisma generate` (wasm from npm; the schema engine it would download is never needed, see
# prisma/no-schema-engine.sh). Skipped while the stamp is newer than the lock file; without npm the tests say so.
NODE_DRIVERS := tests/drivers/node
NODE_READY   := $(NODE_DRIVERS)/node_modules/.do-pgpool-installed
$(NODE_READY): $(NODE_DRIVERS)/package.json $(NODE_DRIVERS)/package-lock.json $(NODE_DRIVERS)/prisma/schema.prisma
	@if command -v npm >/dev/null 2>&1; then \
		cd $(NODE_DRIVERS) && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error \
		&& CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1 PRISMA_SCHEMA_ENGINE_BINARY=prisma/no-schema-engine.sh \
			./node_modules/.bin/prisma generate >/dev/null && touch node_modules/.do-pgpool-installed; \
	else \
		echo "npm not found: tests/test_drivers.py's Node driver tests will fail (install Node.js >= 20.19)" >&2; \
	fi

node-drivers: $(NODE_READY)

test: $(STAMP) servers $(NODE_READY)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check do_pgpool tests demo benchmarks
	$(BIN)/mypy --strict do_pgpool demo

# The manual (docs/, MkDocs) into site/; --strict turns every warning, a broken link included, into a failure.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --clean --site-dir site

demo: $(STAMP) servers
	$(BIN)/python demo/demo.py

# The start-up benchmark times do-pgpool as a user installs it: `pip install .` in a virtualenv of its own, runtime
# dependencies only. The dev one also holds pygments (from the docs extras), which httpx imports whenever it is
# there: ~4 ms that no user pays. Rebuilt when the package's sources change.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml $(shell find do_pgpool -name '*.py')
	rm -rf $(BENCH_VENV)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet .
	touch $@

bench: $(STAMP) servers $(BENCH_VENV)/.installed
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.fleet
	$(BENCH_VENV)/bin/python -m benchmarks.startup

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache site $(NODE_DRIVERS)/node_modules
