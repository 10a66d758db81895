# huey priority benchmark. `make help` lists the targets.
PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
SCENARIO ?= scenarios
RESULTS  ?= results
STAMP    := $(VENV)/.installed-$(shell cat requirements.lock requirements-test.lock | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help bench test validate analyze clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: SCENARIO=path (file or directory, default scenarios/), RESULTS=dir"

$(STAMP): requirements.lock requirements-test.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock -r requirements-test.lock
	rm -f $(VENV)/.installed-* && touch $@

bench: $(STAMP) ## run every scenario (or SCENARIO=path) and write results/
	$(PY) -m bench run $(SCENARIO) --results $(RESULTS)

test: $(STAMP) ## run the test suite (real Redis, real huey consumers)
	$(PY) -m pytest

validate: $(STAMP) ## check scenario files (SCENARIO=path) without running them
	$(PY) -m bench validate $(SCENARIO)

analyze: $(STAMP) ## recompute metrics of a result: make analyze RESULT=results/smoke/<stamp>
	$(PY) -m bench analyze $(RESULT)

clean: ## remove the virtualenv (results are kept)
	rm -rf $(VENV)
