# Quick start and developer commands. Everything installs itself from the lock file.
# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set, every run of the connector
# would otherwise recompile the CDK (about a second per process).
# PYTHON picks the interpreter (3.11 to 3.14) and VENV where it is installed; CI runs the tests
# on 3.11 and 3.13 (.ci/run).
PYTHON ?= python3
VENV ?= .venv
UV_VERSION := 0.13.8
UV := $(PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install sync test lint

install:  ## the connector, the quick start's PyAirbyte extra and dev tools, pinned, in .venv
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --all-extras --compile-bytecode --quiet --python "$(PYTHON)"

# PyAirbyte, the quick start's DuckDB loader, needs Python < 3.13: with a newer PYTHON the quick
# start installs into its own .venv-quickstart with a 3.12 or 3.11 (quickstart/python.py).
sync:  ## quick start: sync into .quickstart/demo.duckdb (or openai_chat.duckdb with OPENAI_API_KEY), print a summary
	@python="$$($(PYTHON) quickstart/python.py)" || exit 2; \
	if [ "$$python" = "$$($(PYTHON) -c 'import sys; print(sys.executable)')" ]; then \
		$(MAKE) --no-print-directory install && $(UV) run --frozen python -m quickstart; \
	else \
		$(MAKE) --no-print-directory install PYTHON="$$python" VENV=.venv-quickstart && \
		UV_PROJECT_ENVIRONMENT=.venv-quickstart "$$python" -m uv run --frozen python -m quickstart; \
	fi

# Four workers on two cores: a quarter of the suite waits (retry backoffs, a killed sync's
# subprocess, PyAirbyte's connector runs), and the other workers use that time.
test: install lint  ## every test: unit, end-to-end against the emulator, standard suite, image install
	@UV="$(UV)" $(UV) run --frozen pytest -n 4

lint: install  ## ruff (lint + format), the package's layers (import-linter), hadolint on the Dockerfile
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen lint-imports --no-cache
	@$(UV) run --frozen hadolint Dockerfile
