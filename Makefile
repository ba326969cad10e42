# The one entry point for humans and CI. `make up` runs Servidesk, `make test` tests it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
SERVICES := accounts tickets notifier reports web
SYNCED := $(VENV)/.synced

.PHONY: help up prepare compose-secrets test test-shared test-cross $(addprefix test-,$(SERVICES)) lint fmt migrations messages bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The virtualenv: bootstrapped with the system Python, then uv installs the locked workspace.
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv==0.13.9"

$(SYNCED): $(UV) uv.lock pyproject.toml shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages --quiet
	@touch $@

venv: $(SYNCED) ## Create or update .venv from uv.lock

up: $(SYNCED) ## Run every service, relay, consumer and the nginx gateway on :8000
	$(BIN)/python scripts/devstack.py up

prepare: $(SYNCED) ## Migrate, seed and render nginx without starting anything
	$(BIN)/python scripts/devstack.py prepare

compose-secrets: ## Generate docker-compose's secrets into deploy/secrets/ (kept on later runs)
	$(PYTHON) scripts/compose_secrets.py

test: $(SYNCED) ## Every test suite: shared, each service, cross-service
	$(BIN)/python scripts/run_tests.py

test-shared: $(SYNCED)
	$(BIN)/python scripts/run_tests.py shared

test-cross: $(SYNCED)
	$(BIN)/python scripts/run_tests.py cross

$(addprefix test-,$(SERVICES)): test-%: $(SYNCED)
	$(BIN)/python scripts/run_tests.py $*

lint: $(SYNCED) ## ruff (lint + format check), mypy (shared and every service), migrations check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=servidesk_testing.settings $(BIN)/mypy shared/servidesk_shared testkit/servidesk_testing
	@for s in accounts:users "tickets:tickets inbound" notifier:notifications reports:reports web:portal; do \
		svc=$${s%%:*}; app=$${s##*:}; \
		(cd services/$$svc && DJANGO_SETTINGS_MODULE=core.settings.test ../../$(BIN)/mypy --config-file ../../pyproject.toml $$app core) \
		|| { echo "mypy: services/$$svc"; exit 1; }; \
	done
	@for s in $(SERVICES); do \
		(cd services/$$s && DJANGO_SETTINGS_MODULE=core.settings.test DATABASE_URL=sqlite://:memory: ../../$(BIN)/python manage.py makemigrations --check --dry-run --verbosity 0) \
		|| { echo "services/$$s has model changes without a migration"; exit 1; }; \
	done

fmt: $(SYNCED) ## Format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

messages: $(SYNCED) ## Extract and compile translations (es, en)
	cd shared/servidesk_shared && DJANGO_SETTINGS_MODULE=servidesk_testing.settings \
		../../$(BIN)/django-admin makemessages -l es -l en && ../../$(BIN)/django-admin compilemessages
	@for s in $(SERVICES); do \
		(cd services/$$s && DJANGO_SETTINGS_MODULE=core.settings.test ../../$(BIN)/python manage.py makemessages -l es -l en \
			--ignore 'tests/*' --ignore 'staticfiles/*' && ../../$(BIN)/python manage.py compilemessages) || exit 1; \
	done

bench: $(SYNCED) ## Benchmarks (on demand); figures go to docs/benchmarks.md
	$(BIN)/python -m bench

clean: ## Remove local state (SQLite files, embedded broker, keys, nginx config)
	rm -rf var
