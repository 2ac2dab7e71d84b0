# Developer entry points. The stack runs on Docker Compose when a Docker engine is reachable,
# otherwise natively from infra/native (state in .run/: tools, data, logs, pids).
.DEFAULT_GOAL := help
.PHONY: help up down logs clean distclean install test fuzz lint audit rebuild redrive bench

UV := infra/native/uv.sh
RUN_DIR := $(or $(RUN_DIR),.run)

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: ## start Kafka, MongoDB and the three services (only what is not running)
	tools/graphiql/build.sh --optional
	infra/up.sh

down: ## stop the stack (data is kept)
	infra/down.sh

logs: ## follow the services' logs
	@mode=$$(infra/mode.sh) && if [ "$$mode" = docker ]; then infra/compose.sh logs; \
	else tail -n 100 -F $(RUN_DIR)/logs/command*.log $(RUN_DIR)/logs/projector*.log $(RUN_DIR)/logs/query*.log; fi

clean: ## stop, then delete the data and logs (keeps the downloaded Kafka and MongoDB)
	@mode=$$(infra/mode.sh) && if [ "$$mode" = docker ]; then infra/compose.sh clean; else infra/down.sh; fi
	rm -rf $(RUN_DIR)/data $(RUN_DIR)/logs $(RUN_DIR)/kafka

distclean: down ## stop, then delete all of .run (downloads included)
	rm -rf $(RUN_DIR)

rebuild: ## replay the event log into fresh read models and swap them in (the stack keeps serving)
	@mode=$$(infra/mode.sh) && if [ "$$mode" = docker ]; then infra/compose.sh rebuild; \
	else $(UV) run --frozen python -m services.projector.rebuild; fi

redrive: ## re-apply dead-lettered records through the projector; ARGS='--dry-run --since T --reason TEXT'
	$(UV) run --frozen python -m services.projector.redrive $(ARGS)

# Byte-compiled at install: every service process (the tests start hundreds) then loads .pyc
# files instead of compiling ~300 modules at start-up, which takes a second of CPU each time
# where Python may not write its own cache (PYTHONDONTWRITEBYTECODE, a read-only tree).
install: ## create .venv from uv.lock (installs uv 0.13.9 with pip if missing), build GraphiQL (npm)
	$(UV) sync --frozen --compile-bytecode
	$(UV) run --frozen python -m compileall -q -j 0 shared services bench
	tools/graphiql/build.sh --optional

test: install lint ## lint, then run the whole test suite against real Kafka and MongoDB
	infra/apt-install.sh chromium chromium
	$(UV) run --frozen pytest

fuzz: install ## fuzz both GraphQL endpoints: thousands of generated cases, a new random seed each run
	FUZZ_PROFILE=thorough $(UV) run --frozen pytest tests/fuzz --timeout 3600 --hypothesis-show-statistics

audit: install ## pip-audit of every locked dependency (AUDIT_REQUIRED=1: fail if it cannot run)
	$(UV) run --frozen python infra/audit.py

lint: ## ruff check, ruff format --check, mypy, import-linter's layer contracts (pyproject.toml)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

bench: ## benchmarks against the running stack (make up first; installs wrk); BENCH_QUICK=1: short run
	infra/apt-install.sh wrk wrk
	cd bench/peers/node-graphql && npm ci --no-audit --no-fund --loglevel=error
	$(UV) sync --frozen --all-groups --quiet --compile-bytecode
	$(UV) run --frozen python -m compileall -q -j 0 shared services bench
	$(UV) run --frozen --all-groups python -m bench
