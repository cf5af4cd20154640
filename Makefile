# Character Ecosystem — every command a newcomer needs. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WEB_PROCESSES ?= 1
WORKERS ?= 1
SERVICES_ENV := var/services.env
WITH_SERVICES := set -a && . ./$(SERVICES_ENV) && set +a &&

.PHONY: run run-full services services-stop test fuzz backup restore lint format bench eval chaos load migrate clean vendor browser nginx typecheck-js help

help:
	@echo "make run        embedded mode: SQLite, in-process clock, demo data, http://127.0.0.1:$(PORT)/"
	@echo "make run-full   full stack: PostgreSQL, Redis, Neo4j, Celery worker + beat, Daphne"
	@echo "               (WEB_PROCESSES=N WORKERS=M: N Daphne behind nginx on PORT, M workers)"
	@echo "make services   start PostgreSQL, Redis and Neo4j on loopback (idempotent)"
	@echo "make test       the whole suite against the real services"
	@echo "make lint       ruff + mypy (+ tsc on the observatory's JavaScript)"
	@echo "make bench      benchmarks (prints tables)"
	@echo "make eval       believability of the default voice: one table, figures beside targets"
	@echo "make chaos      kill -9 Redis, Neo4j, a worker mid-turn, a web process; restart PostgreSQL: one table"
	@echo "make load       locust load test, 60 s headless (LOAD_USERS, LOAD_URL), prints a table"
	@echo "make fuzz       schemathesis over every API operation, 200 examples each (FUZZ_EXAMPLES)"
	@echo "make backup     a consistent PostgreSQL dump to var/backups/<time>.dump"
	@echo "make restore FILE=var/backups/<time>.dump   restore it, then rebuild the graph"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.base-installed: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/dev.txt requirements/base.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements/dev.txt
	touch $@ $(VENV)/.base-installed

vendor: $(VENV)/.base-installed
	@scripts/vendor.sh

migrate: $(VENV)/.base-installed
	$(BIN)/python manage.py migrate --noinput -v 0

run: $(VENV)/.base-installed vendor migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py run_ecosystem --port $(PORT)

services: $(VENV)/.base-installed
	docker/local/services.sh start

services-stop:
	docker/local/services.sh stop

run-full: $(VENV)/.base-installed vendor services
	$(WITH_SERVICES) $(BIN)/python manage.py migrate --noinput -v 0
	$(WITH_SERVICES) $(BIN)/python manage.py install_graph_constraints
	$(WITH_SERVICES) $(BIN)/python manage.py seed_demo
	$(WITH_SERVICES) WEB_PROCESSES=$(WEB_PROCESSES) WORKERS=$(WORKERS) scripts/run_full.sh $(PORT)

browser:
	@scripts/install_browser.sh

nginx:
	@scripts/install_nginx.sh

typecheck-js:
	@scripts/typecheck_js.sh

# The HTTP and WebSocket modules, run a second time with every fast path off (FAST_PATHS=off:
# Django's ASGIHandler, Channels' send, group_send; docs/operations.md, "Fast paths").
FAST_PATHS_OFF_TESTS := tests/platform/test_asgi_handler.py tests/platform/test_nginx_proxy.py \
	tests/observatory/test_ws_stream.py tests/observatory/test_ws_auth.py \
	tests/observatory/test_ws_fanout.py tests/observatory/test_broadcast.py \
	tests/observatory/test_speaking_frame.py

# The whole suite, against the real services, with the quality gates: coverage over the
# whole suite (fails under 85%) and the observatory's JavaScript type-checked strictly; then
# the HTTP and WebSocket modules with the fast paths off (about 2 minutes more, no coverage).
test: $(VENV)/.dev-installed vendor browser nginx services typecheck-js
	$(WITH_SERVICES) DJANGO_SETTINGS_MODULE=ecosystem_project.settings.test \
		$(BIN)/python -m pytest --cov --cov-report=term:skip-covered --cov-fail-under=85 \
		$(PYTEST_ARGS)
	$(WITH_SERVICES) FAST_PATHS=off DJANGO_SETTINGS_MODULE=ecosystem_project.settings.test \
		$(BIN)/python -m pytest -q $(FAST_PATHS_OFF_TESTS)

lint: $(VENV)/.dev-installed typecheck-js
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The long fuzzing profile: tests/platform/test_fuzz_api.py with FUZZ_EXAMPLES valid and as
# many invalid examples per operation (200; `make test` runs 4), seed FUZZ_SEED (17).
FUZZ_EXAMPLES ?= 200
fuzz: $(VENV)/.dev-installed services
	$(WITH_SERVICES) FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) DJANGO_SETTINGS_MODULE=ecosystem_project.settings.test \
		$(BIN)/python -m pytest -q -s -p no:cacheprovider \
		tests/platform/test_fuzz_api.py::test_every_operation_answers_as_documented

# PostgreSQL is the only state to back up: Neo4j (graph, lore vectors) is rebuilt from it
# (docs/operations.md, "Backups").
backup: services
	$(WITH_SERVICES) scripts/backup.sh

restore: $(VENV)/.base-installed services
	@test -n "$(FILE)" || { echo "usage: make restore FILE=var/backups/<time>.dump"; exit 2; }
	$(WITH_SERVICES) scripts/restore.sh "$(FILE)"

bench: $(VENV)/.dev-installed vendor services
	$(WITH_SERVICES) $(BIN)/python -m bench $(BENCH_ARGS)

# Believability of the default dialogue (issue 15): pure models, no services, ~seconds; the
# cast has memories and lore, and the table counts how often lines draw on them and fit.
# EVAL_ARGS="--backend standin": a shorter run (40 turns) through the OpenAI-compatible
# backend against the stand-in model server (bench/llm_standin.py, started on loopback),
# checking the plumbing, not the model. Also --turns N, --seed N, --examples.
eval: $(VENV)/.dev-installed
	$(BIN)/python -m bench.eval_dialogue $(EVAL_ARGS)

# Faults injected one at a time into a full stack of its own under load (bench/chaos.py; its
# own PostgreSQL 5434, Redis 6380, Neo4j 7697 under var/chaos/, never the shared services):
# about 6-8 minutes, one table row per fault, exit 1 if a zero breaks. CHAOS_ARGS="--faults
# redis,daphne --phase-seconds 5" for a short run.
chaos: $(VENV)/.dev-installed vendor nginx services
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

# Headless locust for LOAD_DURATION (60s) against LOAD_URL, or a run-full stack it starts.
load: $(VENV)/.dev-installed vendor services
	$(WITH_SERVICES) scripts/load.sh

clean:
	rm -rf var/db.sqlite3 var/staticfiles
