# The two commands: `make run` (the whole stack) and `make test` (the test suite).
# Both install what they need first: a virtualenv with pinned packages, nginx when missing (and for the
# tests Node.js, with the mini-program client's pinned dev packages).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_GET := $(shell command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo) apt-get
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help run test test-fast venv venv-dev nginx chromium node schema schema-check schema-diff schema-pull \
        superuser demo backup restore restore-replica storage logs bench bench-scale wrk clean docs docs-check \
        nginx-production

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

# swagger-ui-bundle-v2 replaced swagger_ui_bundle and installs the same module folder: on a venv that still
# has the old one, both are removed first, so the install puts back a complete new one.
$(VENV)/.runtime: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@! $(VENV)/bin/pip show -q swagger_ui_bundle >/dev/null 2>&1 || $(VENV)/bin/pip uninstall -y -q \
	  --disable-pip-version-check swagger_ui_bundle swagger-ui-bundle-v2 2>/dev/null
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.runtime ## create .venv with the pinned runtime packages
venv-dev: $(VENV)/.dev ## create .venv with the pinned runtime and test packages

nginx: ## install nginx from the system packages when it is missing
	@command -v nginx >/dev/null 2>&1 || { echo "make: installing nginx (Debian package nginx-light)"; \
	  $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq nginx-light >/dev/null; }

chromium: ## install headless Chromium (the docs-page test) when it is missing
	@command -v chromium >/dev/null 2>&1 || { echo "make: installing chromium (Debian package)"; \
	  $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq chromium >/dev/null; }

# Node.js 18 is the oldest whose built-in test runner (node --test) the client's tests use.
node: ## install Node.js and npm from the system packages when missing (the mini-program client's tests)
	@command -v node >/dev/null 2>&1 || { echo "make: installing nodejs (Debian package)"; \
	  $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq nodejs >/dev/null; }
	@command -v npm >/dev/null 2>&1 || { echo "make: installing npm (Debian package)"; \
	  $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq npm >/dev/null; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' || \
	  { echo "make: Node.js $$(node --version) is too old: the tests need 18 or newer"; exit 1; }

# The client's dev packages (acorn, for the ES2017 check) exactly as package-lock.json pins them.
miniprogram/node_modules/.installed: miniprogram/package.json miniprogram/package-lock.json | node
	@cd miniprogram && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The client's unit tests; its end-to-end file runs under pytest (tests/test_miniprogram.py), which starts the stack.
MINIPROGRAM_TESTS := $(filter-out %/e2e.test.js,$(wildcard miniprogram/test/*.test.js))

test: venv-dev nginx chromium node wrk miniprogram/node_modules/.installed schema-check ## run the whole test suite (node's for the mini-program client, then pytest: real PocketBase, gunicorn, nginx, and each bench path once with wrk)
	node --test --test-reporter=spec $(MINIPROGRAM_TESTS)
	$(PY) -m pytest

test-fast: venv-dev node miniprogram/node_modules/.installed ## the edit-test loop (under 2 min): the client's unit tests, and pytest's unit and in-process tests with one shared PocketBase (pytest --fast: no stack, no process of a test's own)
	node --test $(MINIPROGRAM_TESTS)
	$(PY) -m pytest --fast -q -rfE

schema: venv ## regenerate pb_migrations/ (schema.yaml), sidecar/domain.py and pb_hooks/lib/domain.js (vocabulary.yaml), pb_hooks/lib/settings.js (ops/settings.py)
	$(PY) -m ops.schema generate

schema-check: venv ## fail when a generated file (make schema) is stale or a spec field is missing from schema.yaml
	$(PY) -m ops.schema check

schema-diff: venv ## compare schema.yaml with the running PocketBase (PB_URL, superuser from .env or pb_data)
	$(PY) -m ops.schema diff

schema-pull: venv ## write the running PocketBase's collections into schema.yaml
	$(PY) -m ops.schema pull

docs: venv ## regenerate deploy/env.example and the settings table of docs/operations.md from ops/settings.py, the dev stub's code table and README summary from ops/wechat_stub/codes.py
	$(PY) -m ops.settings_docs write

docs-check: venv ## fail when deploy/env.example, the settings table or the dev stub's codes (docs/operations.md, README.md) differ from their sources
	$(PY) -m ops.settings_docs check

nginx-production: venv ## regenerate deploy/nginx-production.conf from its template and the shared API server block
	$(PY) -m ops.nginx_conf production

clean: ## remove the virtualenv and runtime files (keeps pb_data/)
	rm -rf $(VENV) .run .pytest_cache

run: venv nginx ## run the whole stack in the foreground (PocketBase, sidecar, nginx; WeChat dev stub without WECHAT_APPID)
	$(PY) -m ops.stack

superuser: venv ## create or update the PocketBase superuser (prints the email and the password file, never the password)
	$(PY) -m ops.stack superuser

demo: venv ## dev mode: add the demo records (company, attachment, documents) to the running PocketBase; refused with WECHAT_APPID
	$(PY) -m ops.demo

backup: venv ## back up the running PocketBase into pb_data/backups/ (prints the zip's path)
	$(PY) -m ops.stack backup

restore: venv ## restore a backup into the running PocketBase: make restore NAME=<file.zip>
	@test -n "$(NAME)" || { echo "usage: make restore NAME=<file.zip> (a file in pb_data/backups/)"; exit 2; }
	$(PY) -m ops.stack restore "$(NAME)"

restore-replica: venv ## restore data.db from the Litestream replica (REPLICA_URL) into an empty PB_DATA_DIR, PocketBase stopped; AT=<RFC 3339 time> for a point in time
	$(PY) -m ops.stack restore-replica $(if $(AT),--at "$(AT)")

storage: venv ## apply the S3_* and BACKUP_* settings to the running PocketBase (servers; make run does it at start)
	$(PY) -m ops.stack storage

logs: ## follow the logs of the running stack (RUN_DIR, default .run/<HTTP_PORT>)
	$(PY) -m ops.stack logs

# Other benches run from `make bench` get a line of their own after bench.run's.
bench: venv-dev nginx wrk ## load-test the whole stack with wrk (seeded temp data, free ports); writes bench/results.md and bench/sender.md
	$(PY) -m bench.run $(ARGS)
	$(PY) -m bench.sender

bench-scale: venv-dev nginx wrk ## the same at 10k, 100k and 1M users (~20 min); writes bench/scale.md
	$(PY) -m bench.run --scale $(ARGS)

.PHONY: profile
profile: venv-dev wrk ## AB="A=HEAD~1 B=.": an A/B of two refs by CPU per request (bench/ab.py; ARGS="--route profile")
	$(PY) -m bench.ab $(or $(AB),A=HEAD B=.) $(ARGS)

wrk:
	@command -v wrk >/dev/null 2>&1 || { echo "make: installing wrk (Debian package)"; \
	  $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq wrk >/dev/null; }
