# kpgw: the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install kpgw with its development tools

demo: $(STAMP) ## The main job: local broker, gateway, realistic traffic, a readable summary
	$(BIN)/kpgw demo

test: $(STAMP) ## Run the whole suite against a real Kafka broker it starts and stops
	VENV=$(VENV) scripts/run-tests.sh

unit: $(STAMP) ## Unit tests only (no broker)
	$(BIN)/python -m pytest -p tests.startup -m "not kafka" -q

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

kafka-up: $(STAMP) ## Start the local development broker (KPGW_KAFKA_BOOTSTRAP's port, default 9092)
	$(BIN)/kpgw kafka up

kafka-down: $(STAMP) ## Stop it
	$(BIN)/kpgw kafka down

clean: ## Remove the venv and caches (the Kafka download cache in ~/.cache/kpgw stays)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist build

.PHONY: help venv demo test unit lint kafka-up kafka-down clean
