"""`narvik simulate` as a user calls it: waits in ``summary.json`` are seconds rounded to
the millisecond (no float noise such as ``614535.2500000001``)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
SMALL_SCENARIO = Path(__file__).resolve().parents[1] / "data" / "small-scenario.toml"
STATS = {
    "mean": np.mean,
    "p50": lambda w: np.percentile(w, 50),
    "p95": lambda w: np.percentile(w, 95),
}


def _wait_texts(node: Any, path: str = "", waits: bool = False) -> dict[str, str]:
    """Every number of the summary under a wait key, as written in the JSON text."""
    found: dict[str, str] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            is_wait = waits or ("wait" in key and key.endswith("_s"))
            found.update(_wait_texts(value, f"{path}.{key}", is_wait))
    elif isinstance(node, str) and waits:
        found[path] = node
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("waits") / "run"
    args = ["simulate", "--scenario", str(SMALL_SCENARIO), "--warmup-days", "0.25"]
    result = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return out


def test_no_wait_has_more_than_three_decimals(run: Path):
    # Floats kept as their JSON text (ints and null parse as other types).
    text = json.loads((run / "summary.json").read_text(), parse_float=str)
    waits = _wait_texts(text)
    assert {".wait_s.mean", ".wait_s.by_tier.national.p95"} <= set(waits)
    assert ".tenancy.wait_slo_by_tier.regional.wait_p95_s" in waits
    too_fine = {p: t for p, t in waits.items() if -Decimal(t).as_tuple().exponent > 3}
    assert not too_fine
    assert any(Decimal(t) % 1 for t in waits.values())  # not trivially whole seconds


def _waits_by_tier(run: Path) -> dict[str, np.ndarray]:
    jobs = pq.read_table(run / "jobs.parquet").to_pydict()
    counted = [
        (tier, start - submit)
        for tier, start, submit, warm in zip(
            jobs["tier"], jobs["start_s"], jobs["submit_s"], jobs["in_warmup"], strict=True
        )
        if start is not None and not warm
    ]
    by_tier = {t: np.array([w for tt, w in counted if tt == t]) for t in {t for t, _ in counted}}
    return {"(all)": np.array([w for _, w in counted]), **by_tier}


def test_rounded_waits_equal_the_waits_of_the_jobs_within_half_a_ms(run: Path):
    summary = json.loads((run / "summary.json").read_text())
    waits = _waits_by_tier(run)
    assert waits["(all)"].size > 20 and waits["(all)"].max() > 0
    checked = 0
    for tier, w in waits.items():
        block = summary["wait_s"] if tier == "(all)" else summary["wait_s"]["by_tier"][tier]
        slo = summary["tenancy"]["wait_slo_by_tier"].get(tier, {})
        for stat, fn in STATS.items():
            exact = float(fn(w))
            assert abs(block[stat] - exact) <= 0.0005, (tier, stat)
            if slo:
                assert abs(slo[f"wait_{stat}_s"] - exact) <= 0.0005, (tier, stat)
            checked += 1
    assert checked >= 12
