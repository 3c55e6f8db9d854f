#!/usr/bin/env bash
# Set up a virtual environment with the test dependencies and run every check:
# lint (ruff), the layer rule of ARCHITECTURE.md (import-linter), then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/lint-imports
.venv/bin/pytest "$@"
