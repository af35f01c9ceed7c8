#!/usr/bin/env bash
# Set up (if needed), check the code (ruff lint and format, mypy; configured in pyproject.toml), then
# run the test suite. Arguments go to pytest (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
