# Chronos developer commands. Everything installs itself under .local/ on first use.
#   make demo   start the local stack, deploy, run the main job (demo), stop the stack
#   make test   start the local stack, deploy, run every test tier, stop the stack
#   make dashboard  start the local stack, deploy, seed the demo device, print the dashboard's URL; leaves it up (make down)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PY := .local/venv/bin/python

.PHONY: demo test setup up down deploy status lint unit bench clean dashboard

setup:
	@bash local/bootstrap.sh

up: setup
	@$(PY) local/stack.py up

down:
	@if [ -x $(PY) ]; then $(PY) local/stack.py down; fi

deploy: up
	@$(PY) local/stack.py deploy

dashboard: deploy
	@$(PY) local/demo.py --dashboard-only

status:
	@$(PY) local/stack.py status

demo: setup
	@bash local/run_with_stack.sh $(PY) local/demo.py

test: setup
	@bash local/run_with_stack.sh bash local/run_tests.sh

lint: setup
	@$(PY) -m ruff check layers functions local tests bench cli
	@$(PY) -m mypy
	@PYTHONPATH=layers/chronos_core .local/venv/bin/lint-imports --no-cache --no-logo

unit: setup
	@$(PY) -m pytest tests/unit -q

bench: setup
	@bash local/run_benchmarks.sh  # bench_api.py brings the stack up and deploys (it times both)

clean: down
	rm -rf .aws-sam .local/localstack .local/ferretdb-data .local/postgresql-data .local/run
