"""The compiled build (mypyc, what a regular install runs) decides exactly as the Python
source does: the modules of ``[tool.narvik] compiled`` are compiled from a copy of the
source, and a short default-scenario run under each policy gives identical results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("run_fingerprint.py")


@pytest.fixture(scope="module")
def compiled_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with open(ROOT / "pyproject.toml", "rb") as f:
        modules = tomllib.load(f)["tool"]["narvik"]["compiled"]
    src = tmp_path_factory.mktemp("compiled") / "src"
    shutil.copytree(
        ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info")
    )
    mypyc = Path(sys.executable).with_name("mypyc")
    subprocess.run([str(mypyc), *modules], cwd=src, check=True, capture_output=True)
    return src


def _run(src: Path, days: float, policy: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    got = subprocess.run(
        [sys.executable, str(SCRIPT), str(days), policy],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=src.parent,
    )
    out: dict[str, object] = json.loads(got.stdout)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["narvik", "easy"])
def test_compiled_build_gives_the_same_results(compiled_src: Path, policy: str) -> None:
    fast = _run(compiled_src, 12.0, policy)
    pure = _run(ROOT / "src", 12.0, policy)
    assert all(str(f).endswith(".so") for f in fast.pop("modules"))  # type: ignore[attr-defined]
    assert all(str(f).endswith(".py") for f in pure.pop("modules"))  # type: ignore[attr-defined]
    assert fast.pop("build") == "compiled (mypyc)" and pure.pop("build") == "plain Python"
    assert len(fast) > 20
    assert fast == pure


COMPILED_SUITE = (
    "tests/service/test_differential.py",
    "tests/service/test_live_scheduler.py",
    "tests/sim/test_site_power.py",
    "tests/sim/test_tenancy_invariants.py",
)
"""Tests run again on the compiled build: the control plane's runtime and the simulator
on the compiled engine (tests that deep-copy a pool stay on the plain build)."""


@pytest.mark.slow
def test_the_service_and_simulator_tests_pass_on_the_compiled_build(compiled_src: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(compiled_src), "NARVIK_EXPECT_BUILD": "compiled (mypyc)"}
    got = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *COMPILED_SUITE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert got.returncode == 0, got.stdout[-3000:] + got.stderr[-2000:]
    assert " passed" in got.stdout and "skipped" not in got.stdout
