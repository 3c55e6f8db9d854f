"""Runs side by side (narvik.kpi.compare), on two short real runs of the shipped scenario."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs

from narvik.kpi.compare import (
    CompareRow,
    flatten_numbers,
    headline_rows,
    kpi_table,
    load_runs,
    power_compare_figure,
    render_compare_html,
    run_labels,
    table_json,
    utilisation_compare_figure,
    wait_compare_figures,
)
from narvik.kpi.run_outputs import write_run
from narvik.scenario import load_scenario, run_scenario

POLICIES = ("narvik", "easy")


def make_runs(base: Path) -> list[Path]:
    """Two-day runs of the shipped scenario, one per policy, in ``base/run-<policy>``."""
    dirs = []
    for policy in POLICIES:
        spec = load_scenario().with_overrides(days=2, policy=policy)
        out = base / f"run-{policy}"
        write_run(run_scenario(spec), out)
        dirs.append(out)
    return dirs


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_runs(tmp_path_factory.mktemp("compare"))


def _summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def _edited_copy(src: Path, dst: Path, **changes: Any) -> Path:
    shutil.copytree(src, dst)
    summary = {**_summary(dst), **changes}
    (dst / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return dst


def _row(rows: list[CompareRow], key: str) -> CompareRow:
    return next(r for r in rows if r.key == key)


# --------------------------------------------------------------------------- table


def test_flatten_keeps_numbers_under_dotted_keys():
    data = {"a": 1, "b": {"c": 2.5, "d": {"e": 3}}, "s": "x", "t": True, "l": [1], "n": None}
    assert flatten_numbers(data) == {"a": 1, "b.c": 2.5, "b.d.e": 3}


def test_table_values_equal_the_summaries(run_dirs):
    runs = load_runs(run_dirs)
    rows = kpi_table(runs)
    flat = [flatten_numbers(_summary(d)) for d in run_dirs]
    assert [r.key for r in rows] == sorted(set(flat[0]) | set(flat[1]))
    for row in rows:
        assert row.values == (flat[0].get(row.key), flat[1].get(row.key))
    keys = {r.key for r in rows}
    assert {"utilization", "pue", "jobs.completed", "wait_s.by_tier.anchor.p95"} <= keys
    assert {"policy", "site", "offtakers", "workload.skip_bad"}.isdisjoint(keys)
    assert not any(k.startswith("tenancy.ledger") for k in keys)  # a list: left out


def test_differences_against_the_baseline(run_dirs):
    rows = kpi_table(load_runs(run_dirs))
    for row in rows:
        (a, b), (d,), (rel,) = row.values, row.diffs, row.rel_diffs
        if a is None or b is None:
            assert d is None and rel is None
            continue
        assert d == b - a
        if a != 0:
            assert rel == pytest.approx((b - a) / abs(a))
    # By hand on a KPI the two policies change: the placement's fragmentation.
    a = _summary(run_dirs[0])["placement"]["fragmentation_mean"]
    b = _summary(run_dirs[1])["placement"]["fragmentation_mean"]
    row = _row(rows, "placement.fragmentation_mean")
    assert row.values == (a, b)
    assert row.diffs == (b - a,)
    assert row.rel_diffs[0] == pytest.approx((b - a) / a)


def test_differences_by_hand_on_edited_summaries(run_dirs, tmp_path):
    base = _edited_copy(run_dirs[0], tmp_path / "base", pue=1.25, zero=0, both_zero=0)
    other = _edited_copy(
        run_dirs[1], tmp_path / "other", pue=1.5, zero=2, both_zero=0, only_here={"x": 3}
    )
    third = _edited_copy(run_dirs[1], tmp_path / "third", pue=1.0)
    rows = kpi_table(load_runs([base, other, third]))
    assert _row(rows, "pue") == CompareRow("pue", (1.25, 1.5, 1.0), (0.25, -0.25), (0.2, -0.2))
    assert _row(rows, "zero") == CompareRow("zero", (0, 2, None), (2, None), (None, None))
    assert _row(rows, "both_zero").rel_diffs == (0.0, None)
    assert _row(rows, "only_here.x") == CompareRow(
        "only_here.x", (None, 3, None), (None, None), (None, None)
    )


def test_headline_rows(run_dirs):
    rows = headline_rows(kpi_table(load_runs(run_dirs)))
    keys = [r.key for r in rows]
    assert keys[:3] == ["utilization", "pue", "erf"]
    assert [k for k in keys if k.startswith("wait_s.by_tier.")] == [
        f"wait_s.by_tier.{t}.p95" for t in ("anchor", "national", "regional")
    ]
    for key in ("peak_facility_power_mw", "facility_energy_mwh", "co2_t", "energy_cost_eur"):
        assert key in keys
    assert "preemptions_total" in keys


def test_table_json(run_dirs):
    runs = load_runs(run_dirs)
    data = table_json(runs, kpi_table(runs))
    assert data["baseline"] == "run-narvik"
    assert [r["label"] for r in data["runs"]] == ["run-narvik", "run-easy"]
    pue = next(k for k in data["kpis"] if k["key"] == "pue")
    assert pue["values"] == {
        "run-narvik": _summary(run_dirs[0])["pue"],
        "run-easy": _summary(run_dirs[1])["pue"],
    }
    assert set(pue["diff"]) == set(pue["rel_diff"]) == {"run-easy"}
    json.dumps(data, allow_nan=False)


def test_labels_are_folder_names_and_distinct(run_dirs, tmp_path):
    runs = load_runs(run_dirs)
    assert run_labels(runs) == ["run-narvik", "run-easy"]
    twin = tmp_path / "elsewhere" / "run-narvik"
    shutil.copytree(run_dirs[0], twin)
    labels = run_labels(load_runs([run_dirs[0], twin, run_dirs[0]]))
    assert labels == [f"{run_dirs[0]} #1", str(twin), f"{run_dirs[0]} #3"]


# --------------------------------------------------------------------------- loading


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="nowhere"):
        load_runs([tmp_path / "nowhere"])


def test_folder_without_summary_names_folder_and_file(run_dirs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(run_dirs[1], broken)
    (broken / "summary.json").unlink()
    with pytest.raises(ValueError, match=r"broken/summary\.json"):
        load_runs([run_dirs[0], broken])


def test_unreadable_parquet_names_the_file(run_dirs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(run_dirs[1], broken)
    (broken / "jobs.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match=r"broken/jobs\.parquet"):
        load_runs([run_dirs[0], broken])


# --------------------------------------------------------------------------- figures and page


def test_one_trace_per_run_in_each_plot(run_dirs):
    runs = load_runs(run_dirs)
    labels = run_labels(runs)
    assert [t.name for t in utilisation_compare_figure(runs).data] == labels
    power = [t.name for t in power_compare_figure(runs).data]
    assert power == [f"{lab}: {what}" for lab in labels for what in ("facility power", "grid cap")]
    waits = wait_compare_figures(runs)
    assert [tier for tier, _ in waits] == ["anchor", "national", "regional"]
    for _, fig in waits:
        names = [t.name for t in fig.data]
        assert len(names) == len(labels)
        assert all(n.startswith(f"{lab} (") for n, lab in zip(names, labels, strict=True))


def test_html_page(run_dirs, tmp_path):
    runs = load_runs(run_dirs)
    path = render_compare_html(runs, tmp_path / "out" / "compare.html")
    assert path == tmp_path / "out" / "compare.html"
    text = path.read_text(encoding="utf-8")
    assert text.count(get_plotlyjs()) == 1
    assert "<script src" not in text and 'src="http' not in text
    for label in ("run-narvik", "run-easy"):
        assert text.count(f'"name":"{label}"') == 1  # utilisation
        assert text.count(f'"name":"{label}: facility power"') == 1
        assert text.count(f'"name":"{label}: grid cap"') == 1
        assert text.count(f'"name":"{label} (') == 3  # one wait curve per tier
    for div in ("fig-utilisation", "fig-power", "fig-waits-1", "fig-waits-3", "kpis"):
        assert f'id="{div}"' in text
    assert "wait_s.by_tier.regional.p95" in text


def test_html_is_byte_identical_when_rendered_twice(run_dirs, tmp_path):
    first = render_compare_html(load_runs(run_dirs), tmp_path / "a.html").read_bytes()
    second = render_compare_html(load_runs(run_dirs), tmp_path / "b.html").read_bytes()
    assert first == second


def test_unwritable_target_is_a_value_error(run_dirs, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="cannot write"):
        render_compare_html(load_runs(run_dirs), tmp_path / "file" / "compare.html")
