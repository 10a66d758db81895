# huey priority benchmark. `make help` lists the targets.
PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
SCENARIO ?= scenarios
RESULTS  ?= results
STAMP    := $(VENV)/.installed-$(shell cat requirements.lock requirements-test.lock | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help
BENCH_MODE ?= auto
PYTHON_IMAGE ?= python:3.12-slim

.PHONY: help bench bench-local bench-docker test validate analyze compare down wheels clean \
        overhead enqueue-rate scale fixed-cost benchmarks

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  variables: SCENARIO=path (file or directory, default scenarios/), RESULTS=dir"

$(STAMP): requirements.lock requirements-test.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock -r requirements-test.lock
	rm -f $(VENV)/.installed-* && touch $@

bench: ## run every scenario (or SCENARIO=path) and write results/; BENCH_MODE=auto|docker|local
	@mode=$(BENCH_MODE); \
	if [ $$mode = auto ]; then \
	  if docker info >/dev/null 2>&1; then mode=docker; else mode=local; \
	    echo "make bench: no Docker engine answered: running in local mode (BENCH_MODE=docker forces containers)" >&2; fi; \
	fi; \
	case $$mode in docker|local) $(MAKE) --no-print-directory bench-$$mode ;; \
	  *) echo "make bench: BENCH_MODE must be auto, docker or local, not '$$mode'" >&2; exit 2 ;; esac

bench-local: $(STAMP) ## run in local mode: private redis-server, consumers as subprocesses
	$(PY) -m bench run $(SCENARIO) --results $(RESULTS) --mode local

bench-docker: ## run in containers: redis + consumer agents + runner (docker compose)
	scripts/docker-bench.sh $(SCENARIO) $(RESULTS)

test: $(STAMP) ## run the test suite (real Redis, real huey consumers)
	$(PY) -m pytest

validate: $(STAMP) ## check scenario files (SCENARIO=path) without running them
	$(PY) -m bench validate $(SCENARIO)

analyze: $(STAMP) ## recompute metrics of a result: make analyze RESULT=results/smoke/<stamp>
	$(PY) -m bench analyze $(RESULT)

compare: $(STAMP) ## compare two results: make compare A=results/x/<stamp> B=results/x/<stamp> [FORMAT=md]
	$(PY) -m bench compare $(A) $(B) --format $(or $(FORMAT),table) $(if $(FORCE),--force)

down: ## stop and remove the benchmark's containers
	@if docker compose version >/dev/null 2>&1; then docker compose down --remove-orphans; \
	else docker-compose down --remove-orphans; fi

wheels: ## download wheels/ for an offline image build (for PYTHON_IMAGE's Python)
	mkdir -p wheels
	docker run --rm -v "$(CURDIR):/src" -w /src -u "$$(id -u):$$(id -g)" -e HOME=/tmp $(PYTHON_IMAGE) \
	  python3 -m pip download --only-binary=:all: -d wheels -r requirements.lock

overhead: $(STAMP) ## instrumentation cost: plain huey vs bench's workload drain rate [TASKS=5000]
	$(PY) benchmarks/overhead.py $(if $(TASKS),--tasks $(TASKS))

enqueue-rate: $(STAMP) ## enqueue rate per backend: app.enqueue vs bench's batched path; open loop
	$(PY) benchmarks/enqueue_rate.py

scale: $(STAMP) ## a 100,000-task run and analysis of 1M events: wall time, peak RSS
	$(PY) benchmarks/scale.py

fixed-cost: $(STAMP) ## time from `bench run` to its first task in Redis (local mode)
	$(PY) benchmarks/fixed_cost.py

benchmarks: overhead enqueue-rate fixed-cost scale ## all four benchmarks (about 6 minutes)

clean: ## remove the virtualenv (results are kept)
	rm -rf $(VENV)
