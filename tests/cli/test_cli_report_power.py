"""The report's "Power quality" section on the default scenario (five days: the anchor's big
training gangs run from day four): ten minutes at 0.1 s around the largest swing of the
busiest training hour, raw, with the GPU floor only and smoothed, and the table of what the
grid operator would see of each; none on a flat pool."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app
from narvik.physics.power_quality import swing_w

_register()
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report-power") / "run"
    result = runner.invoke(app, ["simulate", "--days", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def page(run_dir: Path) -> str:
    return (run_dir / "report.html").read_text(encoding="utf-8")


def _typed_array(obj: dict[str, Any]) -> Any:
    """Plotly's typed arrays ({"dtype", "bdata"}) as numpy arrays; other objects as they are."""
    if {"dtype", "bdata"} <= set(obj):
        return np.frombuffer(base64.b64decode(obj["bdata"]), dtype=obj["dtype"])
    return obj


def _figure(html: str, div_id: str) -> dict[str, Any]:
    match = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', html)
    assert match, div_id
    decoder = json.JSONDecoder(object_hook=_typed_array)
    data, end = decoder.raw_decode(html, match.end())
    layout, _ = decoder.raw_decode(html, html.index("{", end))
    return {"data": data, "layout": layout}


def _plain(fragment: str) -> str:
    text = re.sub(r"<[^>]+>", " ", fragment).replace("&#x27;", "'").replace("&quot;", '"')
    return " ".join(text.split())


def _table(html: str) -> dict[str, list[str]]:
    """The rows of the power-quality table by their label: [raw, smoothed, unit]."""
    match = re.search(r'<section class="card" id="power-quality-table">(.*?)</section>', html, re.S)
    assert match
    rows = re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S)
    cells = [[_plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]
    return {c[0]: c[1:] for c in cells if c}


def test_the_section_follows_the_facility_with_its_plot_and_table(page: str):
    at = page.index('<h2 id="power-quality">Power quality</h2>')
    assert page.index("<h2>Facility</h2>") < page.index('id="fig-heat-card"') < at
    assert at < page.index('id="fig-power-quality-card"') < page.index('id="power-quality-table"')
    assert at < page.index('<h2 id="tenancy">')
    how = _plain(re.search(r'id="fig-power-quality-card">.*?<p class="how">(.*?)</p>', page, re.S)
                 .group(1))  # fmt: skip
    assert "around the largest swing of the busiest training hour" in how
    assert "rebuilt from the run's jobs on their power profiles" in how
    assert "arXiv 2508.14318" in how
    rows = _table(page)
    for label in (
        "Largest swing in 10 s",
        "Largest ramp (over 1 s)",
        "Variance in the 0-0.1 Hz band",
        "Variance in the 0.1-1 Hz band",
        "Variance in the 1-5 Hz band",
        "Grid-code breaks: ramp over 5 MW/s",
        "Grid-code breaks: swing over 20 MW",
        "Smoothing's energy cost in the window (GPU power floor)",
    ):
        assert label in rows, label
    assert rows["Variance in the 0.1-1 Hz band"][2] == "MW²"
    assert float(rows["Smoothing's energy cost in the window (GPU power floor)"][1]) > 0
    # the settings of the shipped scenario
    assert rows["GPU power floor"] == ["80% of a GPU's busy power while its job runs"]
    assert rows["Ramp limiter (rack power-supply storage)"][0].startswith("2 MW/s")
    assert rows["Grid code"] == ["ramp at most 5 MW/s (over 1 s), swing at most 20 MW in 10 s"]


def test_the_plot_has_three_series_of_6000_points_at_a_tenth_of_a_second(page: str):
    fig = _figure(page, "fig-power-quality")
    names = [t["name"] for t in fig["data"]]
    assert names == [
        "Raw: jobs on their power profiles",
        "GPU power floor only",
        "Smoothed: floor, ramp limiter and battery",
    ]
    for trace in fig["data"]:
        assert len(trace["y"]) == 6000
        assert trace["dx"] == 100  # ms
        assert trace["x0"].startswith("2027-01-0")
    assert fig["layout"]["xaxis"]["title"]["text"] == "Time (UTC)"
    assert fig["layout"]["yaxis"]["title"]["text"] == "Grid power (MW)"


def test_the_table_measures_the_plotted_series(page: str):
    fig = _figure(page, "fig-power-quality")
    raw, floored, smoothed = (np.asarray(t["y"], dtype=np.float64) for t in fig["data"])
    rows = _table(page)
    swing_mw = float(swing_w(raw, 0.1, 10.0).max())
    table_swing = float(rows["Largest swing in 10 s"][0])
    assert table_swing == pytest.approx(swing_mw, abs=0.05 + 1e-3)  # shown to 0.1 MW
    assert table_swing >= 10.0  # the gangs swing the site by tens of MW
    assert int(rows["Grid-code breaks: swing over 20 MW"][0].replace(",", "")) > 0
    # the shipped smoothing holds the grid's ramp under 2 MW/s
    ramp = float(rows["Largest ramp (over 1 s)"][1])
    assert ramp <= 2.0
    assert np.max(np.abs(smoothed[10:] - smoothed[:-10])) <= 2.0 + 1e-3
    assert rows["Grid-code breaks: ramp over 5 MW/s"][1] == "0"
    assert np.all(floored >= raw - 1e-3)  # the floor only ever adds power


def test_rendering_again_gives_the_same_bytes(run_dir: Path, page: str):
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.html").read_text(encoding="utf-8") == page


def _copy(run_dir: Path, to: Path, **summary: Any) -> Path:
    target = to / "copy"
    shutil.copytree(run_dir, target)
    path = target / "summary.json"
    s = json.loads(path.read_text(encoding="utf-8"))
    for key, value in summary.items():
        if value is None:
            s.pop(key, None)
        else:
            s[key] = value
    path.write_text(json.dumps(s), encoding="utf-8")
    return target


def test_an_older_run_without_power_settings_renders_with_the_defaults(
    run_dir: Path, tmp_path: Path
):
    copy = _copy(run_dir, tmp_path, power_dynamics=None)
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    html = (copy / "report.html").read_text(encoding="utf-8")
    rows = _table(html)
    assert rows["GPU power floor"] == ["none"]
    assert rows["Ramp limiter (rack power-supply storage)"] == ["none"]
    how = _plain(re.search(r'id="fig-power-quality-card">.*?<p class="how">(.*?)</p>', html, re.S)
                 .group(1))  # fmt: skip
    assert "sets no power smoothing" in how
    assert len(_figure(html, "fig-power-quality")["data"][0]["y"]) == 6000


def test_a_site_that_cannot_be_loaded_leaves_the_section_out_with_a_note(
    run_dir: Path, tmp_path: Path
):
    copy = _copy(run_dir, tmp_path, site=str(tmp_path / "moved" / "site.toml"))
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    html = (copy / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="power-quality">Power quality</h2>' in html
    assert "cannot be loaded again" in html and "this section is left out" in html
    assert "fig-power-quality" not in html
    assert 'id="fig-power-card"' in html  # the rest of the report is there


def test_a_flat_pool_has_no_power_quality_section(tmp_path: Path):
    out = tmp_path / "flat"
    made = runner.invoke(app, ["simulate", "--site", "flat:32", "--policy", "easy"]
                         + ["--days", "1", "--out", str(out)])  # fmt: skip
    assert made.exit_code == 0, made.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "without physics" in html
    assert "Power quality" not in html and "fig-power-quality" not in html
