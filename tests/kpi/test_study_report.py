"""The study report: its statistics against hand calculations, a hand-made study folder
whose means, intervals, Pareto front and ranking are known, and a real small study."""

from __future__ import annotations

import html
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from narvik.kpi.study_report import (
    STUDY_HTML,
    STUDY_JSON,
    STUDY_PARQUET,
    axis_figure,
    load_study,
    pareto_figure,
    ranked,
    render_study_report,
    shown_kpis,
    study_points,
)
from narvik.kpi.study_stats import dominates, lower_is_better, mean_ci, pareto_front
from narvik.studies import run_study
from narvik.studies.spec import parse_study

UTIL = "utilization"
WAIT = "wait_s.by_tier.national.p95"
T_975_DF1 = 12.706204736174705  # Student t, 97.5 % quantile, one degree of freedom
T_975_DF2 = 4.302652729749464  # two degrees of freedom

# --------------------------------------------------------------------------- statistics


def test_mean_ci_matches_the_hand_calculation() -> None:
    s = mean_ci([1, 2, 3])
    # sd = 1, so the half-width is t(0.975, 2) / sqrt(3)
    assert (s.mean, s.n) == (2.0, 3)
    assert s.half_width == pytest.approx(T_975_DF2 / math.sqrt(3), rel=1e-9)
    assert s.half_width == pytest.approx(2.4841, abs=1e-4)
    assert (s.low, s.high) == pytest.approx((2 - 2.4841, 2 + 2.4841), abs=1e-4)
    assert float(stats.t.ppf(0.975, 2)) == pytest.approx(T_975_DF2, rel=1e-9)


def test_mean_ci_other_level_and_two_values() -> None:
    # [2, 4]: mean 3, sd sqrt(2), half-width t(0.975, 1) * sqrt(2) / sqrt(2) = t(0.975, 1)
    s = mean_ci([2.0, 4.0])
    assert (s.mean, s.n) == (3.0, 2)
    assert s.half_width == pytest.approx(T_975_DF1, rel=1e-9)
    # 90 %: t(0.95, 2) = 2.919986 with sd 1 and n 3
    assert mean_ci([1, 2, 3], 0.90).half_width == pytest.approx(2.919986 / math.sqrt(3), 1e-6)


def test_mean_ci_one_value_none_and_gaps() -> None:
    one = mean_ci([5.0])
    assert (one.mean, one.half_width, one.n) == (5.0, None, 1)
    assert (one.low, one.high) == (5.0, 5.0)
    empty = mean_ci([])
    assert math.isnan(empty.mean) and empty.half_width is None and empty.n == 0
    # missing and non-finite values are left out: [2, 4] remain
    gaps = mean_ci([None, math.nan, 2, math.inf, 4])
    assert (gaps.mean, gaps.n) == (3.0, 2)
    assert gaps.half_width == pytest.approx(T_975_DF1, rel=1e-9)
    assert mean_ci([7, 7, 7]).half_width == 0.0
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([1, 2], 1.0)


# Six points; hand-drawn fronts for each pair of directions.
POINTS = [(1.0, 5.0), (2.0, 3.0), (3.0, 4.0), (4.0, 1.0), (2.0, 6.0), (3.0, 3.0)]


@pytest.mark.parametrize(
    ("lower", "front"),
    [
        # both minimised: (1,5), (2,3), (4,1); (3,4), (2,6), (3,3) are beaten by (2,3)
        ((True, True), [0, 1, 3]),
        # x maximised, y minimised: (4,1) beats every other point
        ((False, True), [3]),
        # both maximised: (2,6), (3,4), (4,1), sorted by x
        ((False, False), [4, 2, 3]),
        # x minimised, y maximised: (1,5) and (2,6)
        ((True, False), [0, 4]),
    ],
)
def test_pareto_front_of_known_points(lower: tuple[bool, bool], front: list[int]) -> None:
    assert pareto_front(POINTS, lower) == front


def test_pareto_front_keeps_ties_and_skips_missing_points() -> None:
    assert pareto_front([(1.0, 1.0), (1.0, 1.0), (2.0, 2.0)], (True, True)) == [0, 1]
    assert pareto_front([(math.nan, 0.0), (1.0, 1.0)], (True, True)) == [1]
    assert pareto_front([], (True, True)) == []
    assert dominates((1, 1), (1, 2), (True, True))
    assert not dominates((1, 1), (1, 1), (True, True))
    assert not dominates((1, 3), (2, 2), (True, True))
    with pytest.raises(ValueError, match="dimension"):
        dominates((1, 2), (1,), (True, True))


def test_which_way_is_better() -> None:
    lower = [WAIT, "pue", "energy_cost_eur", "co2_t", "peak_facility_power_mw", "wait_s.p95"]
    higher = [UTIL, "erf", "heat_reused_mwh", "renewable_energy_mwh", "ref"]
    assert all(lower_is_better(k) for k in lower)
    assert not any(lower_is_better(k) for k in higher)
    assert lower_is_better(UTIL, minimize=[UTIL])
    assert lower_is_better("tenancy.guarantee_hours.openai.share_met") is False


# --------------------------------------------------------------------------- a hand-made study

# Axes a (numbers) and b (text), three seeds; (a, b) -> utilisation and wait by seed, None
# where the run failed.
HAND: dict[tuple[int, str], list[tuple[float, float] | None]] = {
    (1, "x"): [(0.1, 10.0), (0.2, 20.0), (0.3, 30.0)],
    (1, "y"): [(0.5, 5.0), (0.5, 5.0), (0.5, 5.0)],
    (2, "x"): [(0.4, 40.0), (0.6, 60.0), None],
    (2, "y"): [(0.9, 100.0), None, None],
}
ERROR = "ValueError: load <5> & more"


def write_hand_study(folder: Path, report: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "name": "hand <made>",
        "scenario": "stargate-norway",
        "seeds": [1, 2, 3],
        "mode": "grid",
        "axes": [{"path": "a", "values": [1, 2]}, {"path": "b", "values": ["x", "y"]}],
        "report": {"kpis": [], "pareto": None, "minimize": [], "rank_by": None, **(report or {})},
        "overrides": {"days": 2},
    }
    (folder / STUDY_JSON).write_text(json.dumps(spec), encoding="utf-8")
    cols: dict[str, list[Any]] = {k: [] for k in ("run_id", "a", "b", "seed", "status", "error")}
    cols.update({"wall_s": [], UTIL: [], WAIT: [], "co2_t": [], "site": []})
    for (a, b), by_seed in HAND.items():
        for seed, kpis in enumerate(by_seed, start=1):
            cols["run_id"].append(f"a{a}-b{b}-s{seed}")
            cols["a"].append(float(a))  # a mixed column of numbers is stored as doubles
            cols["b"].append(b)
            cols["seed"].append(seed)
            cols["status"].append("ok" if kpis else "failed")
            cols["error"].append(None if kpis else ERROR)
            cols["wall_s"].append(1.0)
            cols[UTIL].append(kpis[0] if kpis else None)
            cols[WAIT].append(kpis[1] if kpis else None)
            cols["co2_t"].append(None)
            cols["site"].append("flat:8")
    types = {"seed": pa.int64(), "co2_t": pa.float64()}
    table = pa.table({k: pa.array(v, types.get(k)) for k, v in cols.items()})
    pq.write_table(table, folder / STUDY_PARQUET)
    return folder


def test_hand_study_points_and_kpis(tmp_path: Path) -> None:
    data = load_study(write_hand_study(tmp_path))
    points = study_points(data)
    assert [p.labels for p in points] == [("1", "x"), ("1", "y"), ("2", "x"), ("2", "y")]
    assert [len(p.ok_runs) for p in points] == [3, 3, 2, 1]
    # co2_t has no value in any run and "site" is text: neither is shown
    assert shown_kpis(data) == ([UTIL, WAIT], [])
    assert (data.n_ok, len(data.failed)) == (9, 3)


def test_axis_figure_one_line_per_combination_of_the_other_axes(tmp_path: Path) -> None:
    data = load_study(write_hand_study(tmp_path))
    fig = axis_figure(data, study_points(data), 0, [UTIL, WAIT])
    util = [t for t in fig.data if t.xaxis == "x"]
    assert [t.name for t in util] == ["b=x", "b=y"]
    x_line, y_line = util
    assert list(x_line.x) == [1, 2]
    assert list(x_line.y) == pytest.approx([0.2, 0.5])
    # (1, x): sd 0.1 over 3 seeds; (2, x): sd 0.1 * sqrt(2) over 2 seeds
    assert list(x_line.error_y.array) == pytest.approx(
        [T_975_DF2 * 0.1 / math.sqrt(3), T_975_DF1 * 0.1]
    )
    assert list(y_line.y) == pytest.approx([0.5, 0.9])
    assert y_line.error_y.array[0] == pytest.approx(0.0, abs=1e-12)
    assert y_line.error_y.array[1] is None  # one seed: no interval
    # along b, one line per value of a, text categories in the study's order
    fig_b = axis_figure(data, study_points(data), 1, [UTIL])
    assert [t.name for t in fig_b.data] == ["a=1", "a=2"]
    assert list(fig_b.data[0].x) == ["x", "y"]
    assert list(fig_b.data[1].y) == pytest.approx([0.5, 0.9])


def test_pareto_view_and_ranking_of_the_hand_study(tmp_path: Path) -> None:
    data = load_study(write_hand_study(tmp_path))
    points = study_points(data)
    # means (util, wait): (0.2, 20), (0.5, 5), (0.5, 50), (0.9, 100); util up, wait down
    _, front = pareto_figure(data, points, (UTIL, WAIT))
    assert [p.labels for p in front] == [("1", "y"), ("2", "y")]
    by_util = ranked(points, UTIL, lower=False)
    assert [p.labels for p in by_util] == [("2", "y"), ("1", "y"), ("2", "x"), ("1", "x")]
    by_wait = ranked(points, WAIT, lower=True)
    assert [p.labels for p in by_wait] == [("1", "y"), ("1", "x"), ("2", "x"), ("2", "y")]


def test_hand_study_html(tmp_path: Path) -> None:
    folder = write_hand_study(tmp_path, {"rank_by": WAIT, "kpis": [UTIL, WAIT, "nope"]})
    out = render_study_report(folder)
    assert out == folder / STUDY_HTML
    text = out.read_text(encoding="utf-8")
    assert "hand &lt;made&gt;" in text and "hand <made>" not in text
    assert html.escape(ERROR) in text and ERROR not in text
    assert "&#x27;nope&#x27; is not a numeric column of study.parquet" in text
    # ranked by the wait, best first: (1, y), (1, x), (2, x), (2, y)
    order = [text.index(f'href="runs/a{a}-b{b}-s1/report.html"') for a, b in HAND]
    assert sorted(range(4), key=lambda i: order[i]) == [1, 0, 2, 3]
    assert 'href="runs/a2-by-s2/report.html"' not in text  # a failed run has no report
    # the (1, x) row shows the mean and interval of its utilisation and wait
    assert "0.2 ± 0.2484" in text and "20 ± 24.84" in text
    # written atomically: no temporary file left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == [STUDY_HTML, STUDY_JSON, STUDY_PARQUET]


def test_a_study_without_axes_or_finished_runs_still_renders(tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    folder.mkdir()
    spec = {"name": "bare", "scenario": "s", "seeds": [1], "axes": [], "report": {}}
    (folder / STUDY_JSON).write_text(json.dumps(spec), encoding="utf-8")
    table = pa.table(
        {
            "run_id": ["r1"],
            "seed": pa.array([1], pa.int64()),
            "status": ["failed"],
            "error": ["boom"],
            "wall_s": [0.0],
        }
    )
    pq.write_table(table, folder / STUDY_PARQUET)
    text = render_study_report(folder).read_text(encoding="utf-8")
    assert "The study has no axes" in text and "boom" in text
    assert "A Pareto view needs two KPIs" in text


def test_missing_or_bad_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"study\.parquet: missing"):
        render_study_report(tmp_path)
    (tmp_path / STUDY_PARQUET).write_bytes(b"not parquet")
    with pytest.raises(ValueError, match=r"study\.json: missing"):
        render_study_report(tmp_path)
    (tmp_path / STUDY_JSON).write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"study\.json: not readable JSON"):
        render_study_report(tmp_path)
    (tmp_path / STUDY_JSON).write_text('{"name": "x"}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"study\.parquet: not a readable Parquet"):
        render_study_report(tmp_path)
    good = write_hand_study(tmp_path / "good")
    spec = json.loads((good / STUDY_JSON).read_text(encoding="utf-8"))
    spec["axes"].append({"path": "c", "values": [1]})
    (good / STUDY_JSON).write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ValueError, match=r"study\.parquet: missing column\(s\) c"):
        render_study_report(good)
    with pytest.raises(ValueError, match="no such study folder"):
        render_study_report(tmp_path / "absent")
    assert not (tmp_path / STUDY_HTML).exists()


# --------------------------------------------------------------------------- a real study


@pytest.fixture(scope="module")
def real_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """Flat pool, easy policy, one day, two loads times two seeds, and a load of 5 that
    makes no valid scenario (its runs are recorded as failed)."""
    out = tmp_path_factory.mktemp("study")
    study = parse_study(
        {
            "name": "loads",
            "site": "flat:256",
            "policy": "easy",
            "days": 1,
            "seeds": [1, 2],
            "axes": [{"path": "workload.load", "values": [0.5, 0.9, 5]}],
        },
        "loads.toml",
        None,
    )
    table = run_study(study, out, workers=0).table
    return out, table.to_pylist()


def test_real_study_report(real_study: tuple[Path, list[dict[str, Any]]]) -> None:
    folder, rows = real_study
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    assert (len(ok), len(failed)) == (4, 2)
    out = render_study_report(folder)
    assert out == folder / STUDY_HTML and out.is_file()
    text = out.read_text(encoding="utf-8")
    header = re.search(r"<header>.*?</header>", text, re.S)
    assert header is not None
    for label, value in (("Runs", 6), ("OK", 4), ("Failed", 2), ("Seeds", "1, 2")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in header.group(0)
    assert "workload.load" in header.group(0) and "loads" in header.group(0)
    for kpi in (UTIL, WAIT, "wait_s.by_tier.anchor.p95"):
        assert kpi in text
    assert 'id="fig-axis-0"' in text and 'id="fig-pareto"' in text
    for r in ok:
        link = f"runs/{r['run_id']}/report.html"
        assert f'href="{link}"' in text
        assert (folder / link).is_file()
    for r in failed:
        assert r["error"] and html.escape(r["error"]) in text
        assert f'href="runs/{r["run_id"]}/report.html"' not in text
    # self-contained: plotly.js inlined once, nothing fetched
    assert text.count("window.PlotlyConfig") == 1
    assert not re.search(r"<script[^>]+src=", text)


def test_real_study_report_is_deterministic(
    real_study: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    folder, _ = real_study
    first = render_study_report(folder).read_bytes()
    second = render_study_report(folder).read_bytes()
    assert first == second
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (STUDY_JSON, STUDY_PARQUET):
        shutil.copy(folder / name, copy / name)
    assert render_study_report(copy).read_bytes() == first  # the folder is not in the HTML
    assert sorted(p.name for p in copy.iterdir()) == [STUDY_HTML, STUDY_JSON, STUDY_PARQUET]


def test_axis_labels_name_the_values() -> None:
    from narvik.kpi.study_report import AxisSpec, value_key

    axis = AxisSpec("tenancy.tenants.openai.quota", ([{"gpus": 1}], [{"gpus": 2}]), ("a", "b"))
    assert axis.label(value_key([{"gpus": 2}])) == "b"
    assert AxisSpec("p", (1, 2)).label(value_key(2)) == "2"


def test_maximize_overrides_the_name() -> None:
    from narvik.kpi.study_stats import lower_is_better

    assert lower_is_better("tenancy.power.min_gpu_cap_fraction")  # read from its name
    assert not lower_is_better(
        "tenancy.power.min_gpu_cap_fraction", maximize=["tenancy.power.min_gpu_cap_fraction"]
    )
    assert lower_is_better("utilization", minimize=["utilization"])
