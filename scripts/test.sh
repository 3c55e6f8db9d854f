#!/usr/bin/env bash
# Set up everything the tests need and run every check: lint (ruff), the layer rule of
# ARCHITECTURE.md (import-linter), then the whole test suite, which runs the API against
# SQLite and against the PostgreSQL server at 127.0.0.1:5432, drives the dashboard in
# Debian's Chromium and loads the exported Slurm configuration into Debian's slurmctld.
set -euo pipefail
cd "$(dirname "$0")/.."

# Services and system packages (Debian): PostgreSQL must answer; Chromium for the browser test.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
# Debian's packages: Chromium for the browser test; the Slurm controller, its client and
# munge for the test that loads `narvik export slurm` into the real slurmctld.
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v slurmctld >/dev/null 2>&1 || missing="$missing slurmctld"
command -v scontrol >/dev/null 2>&1 || missing="$missing slurm-client"
command -v munged >/dev/null 2>&1 || missing="$missing munge"
if [ -n "$missing" ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $missing >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/lint-imports
# Types of the whole package (mypyc compiles part of the engine, the policies and the
# simulator).
.venv/bin/mypy src/narvik
.venv/bin/pytest "$@"
