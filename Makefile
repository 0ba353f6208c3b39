# talkrate routines. `make help` lists them.
SHELL := bash
VENV ?= .venv
PY := $(VENV)/bin/python
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV := .tools/checkov/bin/checkov
# The folder holding python3.13 (Lambda's runtime), which `sam build` and the build's bytecode
# need: PY313 if set; else the python3.13 on PATH that runs (a pyenv shim of a version that is
# not selected does not); else pyenv's newest 3.13. `make py313` says which, or what to install.
ifeq ($(origin PY313),undefined)
PY313 := $(or $(shell python3.13 -c 'import os, sys; print(os.path.dirname(sys.executable))' 2>/dev/null),$(patsubst %/python3.13,%,$(lastword $(sort $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13)))))
endif
export SAM_CLI_TELEMETRY := 0
# The routines that need some AWS region and depend on none (sam validate and cfn-lint, the
# tests' clients of moto and local endpoints, the local runtime) get eu-west-1 unless one is
# set. The routines that call AWS (publish-web, stage-throttle, rebuild, dead-letters, redrive)
# get none from here: the operator's AWS configuration names it, as for `sam deploy`.
OFFLINE_ROUTINES := validate lint lint-security test test-unit test-integration test-e2e \
	test-faults test-browser run db build bench bench-quick bench-import bench-latency openapi \
	compose-seed
$(OFFLINE_ROUTINES): export AWS_DEFAULT_REGION ?= eu-west-1
# The test routines test this checkout's packages, whichever checkout the environment's editable
# install was made in (a git worktree sharing .venv): tests/conftest.py refuses any other. The
# routines that run the product (the local runtime, the operator commands, the generated spec
# and seed, the web app's weight, the benchmarks) run this checkout's too: from a worktree
# sharing .venv, `make run` ran this checkout's handlers on the other checkout's shared package.
TEST_ROUTINES := test test-unit test-integration test-e2e test-faults test-browser
CHECKOUT_ROUTINES := $(TEST_ROUTINES) run db rebuild dead-letters redrive openapi web-size \
	compose-seed bench bench-quick bench-latency
$(CHECKOUT_ROUTINES): export PYTHONPATH := $(CURDIR)/layers/shared:$(CURDIR)/cli:$(CURDIR)/local:$(CURDIR)/ops
PYTEST_ARGS ?=
# One file, folder or test instead of the target's whole folder: make test-unit TESTS=tests/unit/test_stats.py
TESTS ?=
# make test runs the suite on this many processes, a file to each at a time (pytest-xdist); 1 runs it in one.
# Four on two cores: the tests often wait (browsers, subprocesses, servers, passes running out),
# and three left the cores idle about 29% of the run; see docs/decisions.md
TEST_WORKERS ?= 4
RUN_ARGS ?=

.PHONY: py313 publish-web remove-web-bucket help setup browser test-browser web-size services db run test test-seconds test-unit test-integration test-e2e test-faults rebuild dead-letters redrive openapi lint format validate build bench-import compose-seed list-patterns clean bench-latency

help: ## list the routines
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

setup: $(VENV)/.installed ## virtual environment with every package (idempotent)

$(VENV)/.installed: pyproject.toml requirements-dev.txt requirements-local.txt layers/shared/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -e .
	touch $@

browser: ## Debian's chromium for the web app's browser tests (apt-get install when missing)
	@scripts/browser.sh

services: ## make sure PostgreSQL and Redis are up
	@scripts/services.sh

db: setup services ## create the catalog database, apply the schema, seed the dev talks
	$(PY) -m talkrate_local.database

run: setup ## the local runtime in the foreground; embedded PostgreSQL/Redis/Kafka if none is found
	$(PY) -m talkrate_local $(RUN_ARGS)

test: setup services browser $(SAM) ## the whole suite: unit, integration, end to end, faults
	$(PY) -m pytest $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder) $(TESTS) $(PYTEST_ARGS)

# The seconds each test file took, which make test's order hands out longest first
# (tests/file_seconds.txt), written again from a run's junit xml:
# make test PYTEST_ARGS=--junitxml=report.xml, then make test-seconds JUNIT=report.xml
JUNIT ?=
test-seconds: setup ## tests/file_seconds.txt from a run's junit xml: make test-seconds JUNIT=report.xml
	@test -n "$(JUNIT)" || { echo "usage: make test-seconds JUNIT=<junit xml of a make test run> (make test PYTEST_ARGS=--junitxml=report.xml)"; exit 2; }
	$(PY) -m tests.file_order $(JUNIT)

test-unit: setup $(SAM) ## pure logic, no network (and the template, transformed by the SAM CLI's translator)
	$(PY) -m pytest $(or $(TESTS),tests/unit) $(PYTEST_ARGS)

test-integration: setup services ## adapters and handlers against the real services
	$(PY) -m pytest $(or $(TESTS),tests/integration) $(PYTEST_ARGS)

test-e2e: setup services browser ## HTTP against the local runtime
	$(PY) -m pytest $(or $(TESTS),tests/e2e) $(PYTEST_ARGS)

web-size: setup ## the web app's JS and CSS as served (minified), gzipped, against its 100 KB budget; the source beside it
	$(PY) -m bench.web_size

test-browser: setup services browser ## the web app in Debian's chromium (Playwright) against the local runtime
	$(PY) -m pytest -m browser $(or $(TESTS),tests/e2e) $(PYTEST_ARGS)

test-faults: setup services ## faults injected while ratings stream in (part of make test too)
	$(PY) -m pytest $(or $(TESTS),tests/faults) $(PYTEST_ARGS)

rebuild: setup ## recompute the Redis read model from the event store
	$(VENV)/bin/talkrate ops rebuild

dead-letters: setup ## list the records the projector set aside
	$(VENV)/bin/talkrate ops dead-letters

redrive: setup ## republish dead letters: make redrive IDS="3 4"
	$(VENV)/bin/talkrate ops redrive $(IDS)

lint: setup $(CHECKOV) ## ruff, ruff format --check, mypy, bandit, checkov, the workflows' schema and zizmor
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared/talkrate local/sam_emulator local/talkrate_local cli/talkrate_cli ops/talkrate_ops
	for f in functions/*/app.py; do $(VENV)/bin/mypy "$$f" || exit 1; done
	$(MAKE) --no-print-directory -o $(VENV)/.installed lint-security

.PHONY: lint-security
lint-security: setup $(CHECKOV) ## bandit (a reason beside each nosec), checkov (skips and their reasons in each resource's Metadata), the workflows
	$(VENV)/bin/bandit -q -c pyproject.toml -r layers/shared/talkrate functions ops cli local scripts bench
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation \
		-f template.yaml $(addprefix -f ,$(wildcard deploy/*.yaml))
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --no-progress .github/workflows

$(CHECKOV):
	bash .ci/install-checkov.sh

openapi: setup ## regenerate docs/openapi.json from the routes
	$(PY) -m talkrate.api.openapi > docs/openapi.json

format: setup ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(SAM):
	bash .ci/install-sam.sh

publish-web: setup ## after sam deploy: the web app to the stack's bucket, /app/config.json from its outputs (STACK=name)
	@test -n "$(STACK)" || { echo "usage: make publish-web STACK=<stack name> [WEB_DIR=web]"; exit 2; }
	$(PY) scripts/publish_web.py --stack "$(STACK)" --web-dir "$(or $(WEB_DIR),web)"

remove-web-bucket: setup ## after deleting a stack: its web bucket's every file version, then the bucket (STACK=the deleted stack's name, or BUCKET=its WebBucketName output [YES=1])
	@test -n "$(BUCKET)$(STACK)" || { echo "usage: make remove-web-bucket STACK=<the deleted stack's name> (or BUCKET=<its WebBucketName output>) [YES=1]"; exit 2; }
	$(PY) scripts/remove_web_bucket.py $(if $(BUCKET),--bucket "$(BUCKET)") $(if $(STACK),--stack "$(STACK)") $(if $(YES),--yes)

stage-throttle: setup ## mid-event: the API's throttle on a deployed stack, nothing else (STACK=name RATE= BURST= RESERVED= STATS=)
	@test -n "$(STACK)" || { echo "usage: make stage-throttle STACK=<stack name> RATE=300 BURST=600 RESERVED=60 STATS=60 [YES=1]"; exit 2; }
	$(PY) scripts/stage_throttle.py --stack "$(STACK)" $(if $(RATE),--rate $(RATE)) $(if $(BURST),--burst $(BURST)) $(if $(RESERVED),--reserved $(RESERVED)) $(if $(STATS),--stats $(STATS)) $(if $(YES),--yes)

validate: $(SAM) ## sam validate and sam validate --lint; cfn-lint on deploy/'s stacks (the pipeline's bootstrap, the edge alarms)
	$(SAM) validate
	$(SAM) validate --lint
	$(SAM_VENV)/bin/cfn-lint $(wildcard deploy/*.yaml)

py313: ## the python3.13 the build uses, or one line saying what to install or set
	@if [ -x "$(PY313)/python3.13" ]; then echo "python3.13: $(PY313)/python3.13"; else \
	  echo "make: no python3.13$(if $(PY313), in PY313=$(PY313),) (Lambda's runtime, which the build targets): install Python 3.13 so that python3.13 runs from PATH, or set PY313 to the folder holding it (make build PY313=/opt/python3.13/bin)" >&2; exit 1; fi

build: py313 $(SAM) setup ## sam build (python3.13, arm64, no Docker), bytecode precompiled, sizes reported
	PATH="$(PY313):$$PATH" $(SAM) build
	$(PY) scripts/lean_build.py --python $(PY313)/python3.13

bench-import: build ## ApiFunction's import time from the build, without and with its bytecode
	$(PY) scripts/import_time.py --python $(PY313)/python3.13

compose-seed: setup ## regenerate local/compose/20-dev-talks.sql (compose.yaml's seed) from the dev talks
	$(PY) -m talkrate_local.compose_seed > local/compose/20-dev-talks.sql

list-patterns: setup ## regenerate cli/talkrate_cli/list_patterns.py (how `talkrate show` lists a talk's speakers in its language) from web/js/dom.js, in Node
	PYTHONPATH=$(CURDIR)/cli:$(CURDIR) $(PY) scripts/list_patterns.py

clean: ## remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

bench-latency: setup services ## median and p95 of POST and GET /ratings through the local runtime
	$(PY) bench/http_latency.py --requests 200

.PHONY: bench bench-quick
bench: py313 setup services $(VENV)/.bench-installed ## every benchmark, ~6 min: cold start, hot path vs floor, projector, freshness, memory, live channel
	$(PY) -m bench --python $(PY313)/python3.13

bench-quick: py313 setup services $(VENV)/.bench-installed ## the same with small counts (< 1 min); results in a temp folder
	$(PY) -m bench --quick --python $(PY313)/python3.13

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-bench.txt
	touch $@
