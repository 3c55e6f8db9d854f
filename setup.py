"""Build narvik. A regular install compiles the scheduler's hot path with mypyc.

The modules listed under ``[tool.narvik] compiled`` in pyproject.toml (the pool engine,
the policy and the simulator's driver) are plain, fully typed Python; a regular
``pip install .`` compiles them to C extensions with mypyc (about twice as fast, the
same results: ``tests/sim/test_compiled_build.py``). An editable install
(``pip install -e .``, for development) or ``NARVIK_COMPILE=0`` keeps them as Python.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent


def compiled_modules() -> list[str]:
    """Paths (under src/) of the modules mypyc compiles."""
    with open(HERE / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["tool"]["narvik"]["compiled"])


def ext_modules() -> list[object]:
    editable = any(a.startswith("editable") for a in sys.argv)
    if editable or os.environ.get("NARVIK_COMPILE", "1") == "0":
        return []
    from mypyc.build import mypycify

    return list(mypycify([f"src/{m}" for m in compiled_modules()], opt_level="3"))


setup(ext_modules=ext_modules())
