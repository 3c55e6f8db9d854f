"""`narvik compare` and the warm-up, as in the run report: the jobs submitted in a run's
warm-up are left out of the wait distributions, and each run's warm-up is shaded on the
plots over time (one grey band per distinct warm-up, named by its runs where they differ).
The plot data are read back out of compare.html."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
FLAT = ["simulate", "--site", "flat:64", "--policy", "easy", "--days", "2"]
WARMUP_TEXT = "warm-up (not in the KPIs)"
BAND_COLOR = "#7f8c8d"
SECONDS_PER_HOUR = 3600.0
MIN_WAIT_S = 1.0  # waits below are drawn at 1 s


def _simulate(out: Path, *args: str) -> Path:
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Flat runs with a half-day warm-up (two seeds) and without; a physical run with a
    one-day warm-up (the shipped scenario, dated from 2027-01-01)."""
    base = tmp_path_factory.mktemp("compare-warmup")
    out = {
        "warm": _simulate(base / "warm", *FLAT, "--warmup-days", "0.5"),
        "warm-seed2": _simulate(base / "warm-seed2", *FLAT, "--warmup-days", "0.5", "--seed", "2"),
        "cold": _simulate(base / "cold", *FLAT),
        "phys": _simulate(base / "phys", "simulate", "--days", "3", "--warmup-days", "1"),
    }
    out["cold-copy"] = Path(shutil.copytree(out["cold"], base / "cold-copy"))
    return out


def _typed_array(obj: dict[str, Any]) -> Any:
    """Plotly's typed arrays ({"dtype", "bdata"}) as numpy arrays; other objects as they are."""
    if {"dtype", "bdata"} <= set(obj):
        return np.frombuffer(base64.b64decode(obj["bdata"]), dtype=obj["dtype"])
    return obj


_PLOTLY_JSON = json.JSONDecoder(object_hook=_typed_array)


def _compare(runs: dict[str, Path], tmp_path: Path, *names: str) -> tuple[str, dict[str, Any]]:
    """compare.html of the runs ``names`` and its figures by div id ({"data", "layout"})."""
    page = tmp_path / "compare.html"
    result = runner.invoke(app, ["compare", *(str(runs[n]) for n in names), "--html", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    figures = {}
    for call in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', html):
        data, end = _PLOTLY_JSON.raw_decode(html, call.end())
        layout, _ = _PLOTLY_JSON.raw_decode(html, html.index("{", end))
        figures[call.group(1)] = {"data": data, "layout": layout}
    return html, figures


def _bands(fig: dict[str, Any]) -> dict[tuple[Any, Any], str]:
    """The warm-up bands of a figure, (x0, x1) -> label (the annotations come in their order)."""
    layout = fig["layout"]
    shapes = [s for s in layout.get("shapes", []) if s.get("fillcolor") == BAND_COLOR]
    labels = [a["text"] for a in layout.get("annotations", []) if "warm-up" in a["text"]]
    assert len(shapes) == len(labels)
    return {(s["x0"], s["x1"]): label for s, label in zip(shapes, labels, strict=True)}


def _how(html: str, div_id: str) -> str:
    match = re.search(rf'id="{div_id}-card">.*?<p class="how">(.*?)</p>', html, re.S)
    assert match, div_id
    return match.group(1).replace("&#x27;", "'")


def _counted_waits_h(run: Path, tier: str) -> tuple[np.ndarray, int]:
    """The waits (h) of the run's started jobs of ``tier`` not in its warm-up
    (``in_warmup`` of jobs.parquet), and how many of its jobs of ``tier`` started."""
    jobs = pq.read_table(run / "jobs.parquet").to_pydict()
    waits, started = [], 0
    for tier_, submit, start, warm in zip(
        jobs["tier"], jobs["submit_s"], jobs["start_s"], jobs["in_warmup"], strict=True
    ):
        if tier_ != tier or start is None or not np.isfinite(start):
            continue
        started += 1
        if not warm:
            waits.append(max(start - submit, MIN_WAIT_S) / SECONDS_PER_HOUR)
    return np.asarray(waits), started


#: A curve of a wait distribution: "<run> (<jobs> jobs, median ...)".
_JOBS = re.compile(r"(.+) \(([\d,]+) jobs,")


def _wait_figures_by_tier(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    prefix = "Queue wait distribution: tier "
    out = {}
    for div_id, fig in figures.items():
        if div_id.startswith("fig-waits-"):
            out[fig["layout"]["title"]["text"].removeprefix(prefix)] = fig
    return out


def test_wait_distributions_leave_out_the_warmup_jobs(runs, tmp_path):
    labels = ("warm", "cold", "phys")
    _, figures = _compare(runs, tmp_path, *labels)
    by_tier = _wait_figures_by_tier(figures)
    assert by_tier
    left_out = dict.fromkeys(labels, 0)
    for tier, fig in by_tier.items():
        expected = {label: _counted_waits_h(runs[label], tier) for label in labels}
        drawn = {_JOBS.match(t["name"]).group(1): t for t in fig["data"]}
        # a run without a counted job of the tier has no curve
        assert set(drawn) == {label for label, (w, _) in expected.items() if w.size}, tier
        for label, trace in drawn.items():
            waits_h = expected[label][0]
            assert _JOBS.match(trace["name"]).group(2) == f"{waits_h.size:,}", (tier, label)
            assert float(np.max(trace["x"])) == pytest.approx(float(waits_h.max()))
        for label, (waits_h, started) in expected.items():
            left_out[label] += started - waits_h.size
    assert left_out["cold"] == 0
    assert left_out["warm"] > 0 and left_out["phys"] > 0


def test_a_shared_warmup_is_one_band_as_in_the_report(runs, tmp_path):
    html, figures = _compare(runs, tmp_path, "warm", "warm-seed2")
    # flat runs have no start date: the axis is days since the start
    assert _bands(figures["fig-utilisation"]) == {(0.0, 0.5): WARMUP_TEXT}
    assert "fig-power" not in figures  # no physics on flat:N
    assert "grey band shades the warm-up" in _how(html, "fig-utilisation")
    assert "Jobs submitted in a run's warm-up are left out" in _how(html, "fig-waits-1")


def test_without_warmup_there_is_no_band(runs, tmp_path):
    html, figures = _compare(runs, tmp_path, "cold", "cold-copy")
    assert _bands(figures["fig-utilisation"]) == {}
    assert "warm-up" not in json.dumps(figures["fig-utilisation"]["layout"], default=str)
    assert "warm-up" not in _how(html, "fig-utilisation") + _how(html, "fig-waits-1")


def test_different_warmups_get_a_band_each_named_by_its_runs(runs, tmp_path):
    html, figures = _compare(runs, tmp_path, "warm", "cold", "warm-seed2", "phys")
    assert _bands(figures["fig-utilisation"]) == {  # start dates differ: days since the start
        (0.0, 0.5): "warm-up of warm, warm-seed2 (not in the KPIs)",
        (0.0, 1.0): "warm-up of phys (not in the KPIs)",
    }
    shifts = [a.get("yshift", 0) for a in figures["fig-utilisation"]["layout"]["annotations"]]
    assert len(set(shifts)) == len(shifts)  # the labels are stacked, not drawn over each other
    # the power figure draws the physical run alone: its warm-up, on its dates
    assert _bands(figures["fig-power"]) == {
        ("2027-01-01 00:00:00", "2027-01-02 00:00:00"): WARMUP_TEXT
    }
    assert "a band per warm-up names its runs" in _how(html, "fig-power")
