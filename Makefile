# Quick start and developer commands. Everything installs itself from the lock file.
# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set, every run of the connector
# would otherwise recompile the CDK (about a second per process).
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never

.PHONY: install sync test lint

install:  ## the connector, the quick start's PyAirbyte extra and dev tools, pinned, in .venv
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --all-extras --compile-bytecode --quiet

sync: install  ## quick start: sync into .quickstart/demo.duckdb (or openai_chat.duckdb with OPENAI_API_KEY), print a summary
	@$(UV) run --frozen python -m quickstart

# Four workers on two cores: a quarter of the suite waits (retry backoffs, a killed sync's
# subprocess, PyAirbyte's connector runs), and the other workers use that time.
test: install lint  ## every test: unit, end-to-end against the emulator, standard suite, image install
	@UV="$(UV)" $(UV) run --frozen pytest -n 4

lint: install  ## ruff (lint + format) and hadolint on the Dockerfile
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen hadolint Dockerfile
