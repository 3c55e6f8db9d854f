#!/usr/bin/env bash
# Set up a virtual environment and run the main job on the default Stargate Norway site:
# the site, its facility through a Narvik year, and a simulated year of the whole site.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# A regular install: it compiles the engine, the policy and the simulator's driver with
# mypyc (setup.py; needs gcc and the Python headers). NARVIK_COMPILE=0 keeps them Python.
.venv/bin/python -m pip install --quiet .
.venv/bin/narvik site show
.venv/bin/narvik facility year --out runs/facility-year
.venv/bin/narvik simulate --force "$@"
