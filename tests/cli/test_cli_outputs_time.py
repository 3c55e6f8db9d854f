"""`narvik simulate` as a user calls it: the UTC ``time`` column of ``timeseries.parquet``
and the long table ``offtakers.parquet`` (heat per offtaker, a row per step and offtaker)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
SMALL_SITE = Path(__file__).resolve().parents[1] / "data" / "small-site.toml"
START = dt.datetime(2028, 2, 28, tzinfo=dt.UTC)  # across a leap day
OFFTAKER_COLUMNS = ["time", "t_s", "offtaker", "demand_w", "delivered_w", "in_warmup"]


def _scenario(tmp_path: Path) -> Path:
    """A two-day run of the small site that starts on 2028-02-28 (not the default date)."""
    path = tmp_path / "leap.toml"
    path.write_text(
        f'name = "leap"\nsite = "{SMALL_SITE}"\npolicy = "easy"\nseed = 5\n'
        "start_date = 2028-02-28\ndays = 2\nwarmup_days = 0.5\n"
        '[workload]\nkind = "synthetic"\nresearch_jobs_per_year = 20000\n'
    )
    return path


def _simulate(scenario: Path, out: Path, *extra: str) -> Path:
    result = runner.invoke(
        app, ["simulate", "--scenario", str(scenario), *extra, "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    return out


def _expected_times(t_s: list[float]) -> list[dt.datetime]:
    return [START + dt.timedelta(milliseconds=round(t * 1000)) for t in t_s]


@pytest.fixture(scope="module")
def physical(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("physical")
    return _simulate(_scenario(tmp), tmp / "run")


def test_timeseries_time_is_start_date_plus_t_s_in_utc(physical: Path):
    ts = pq.read_table(physical / "timeseries.parquet")
    assert ts.schema.field("time").type == pa.timestamp("ms", tz="UTC")
    names = ts.column_names
    assert names.index("time") == names.index("t_s") + 1
    t_s = ts.column("t_s").to_pylist()
    assert ts.num_rows == 48 and t_s[1] == 3600.0
    times = ts.column("time").to_pylist()
    assert times == _expected_times(t_s)
    assert times[-1] == dt.datetime(2028, 2, 29, 23, tzinfo=dt.UTC)


def test_flat_pool_timeseries_has_time_too(tmp_path: Path):
    out = _simulate(_scenario(tmp_path), tmp_path / "flat", "--site", "flat:64")
    ts = pq.read_table(out / "timeseries.parquet")
    assert ts.schema.field("time").type == pa.timestamp("ms", tz="UTC")
    t_s = ts.column("t_s").to_pylist()
    assert len(set(t_s)) > 48  # event instants, not hourly steps
    assert ts.column("time").to_pylist() == _expected_times(t_s)
    assert not (out / "offtakers.parquet").exists()


def test_offtakers_long_table_matches_the_wide_columns(physical: Path):
    ts = pq.read_table(physical / "timeseries.parquet")
    heat = pq.read_table(physical / "offtakers.parquet")
    assert heat.column_names == OFFTAKER_COLUMNS
    assert heat.schema.field("time").type == pa.timestamp("ms", tz="UTC")
    assert heat.schema.field("offtaker").type == pa.string()
    names = [
        c[len("heat_demand_w[") : -1] for c in ts.column_names if c.startswith("heat_demand_w[")
    ]
    assert len(names) >= 2
    assert heat.num_rows == ts.num_rows * len(names)
    offtaker = np.array(heat.column("offtaker").to_pylist(), dtype=object)
    for name in names:
        mine = heat.filter(pa.array(offtaker == name))
        assert mine.column("t_s").to_pylist() == ts.column("t_s").to_pylist()
        assert mine.column("time").to_pylist() == ts.column("time").to_pylist()
        assert mine.column("in_warmup").to_pylist() == ts.column("in_warmup").to_pylist()
        assert (
            mine.column("demand_w").to_pylist() == ts.column(f"heat_demand_w[{name}]").to_pylist()
        )
        delivered = ts.column(f"heat_delivered_w[{name}]").to_pylist()
        assert mine.column("delivered_w").to_pylist() == delivered
    assert max(heat.column("delivered_w").to_pylist()) > 0


def test_offtakers_rows_go_step_by_step(physical: Path):
    heat = pq.read_table(physical / "offtakers.parquet")
    t_s = np.asarray(heat.column("t_s"))
    assert np.all(np.diff(t_s) >= 0)
    assert heat.column("in_warmup").to_pylist() == (t_s < 43_200).tolist()


def test_report_and_compare_still_read_the_run(physical: Path, tmp_path: Path):
    report = physical / "report.html"
    before = report.read_bytes()
    report.unlink()
    result = runner.invoke(app, ["report", str(physical)])
    assert result.exit_code == 0, result.output
    assert report.read_bytes() == before
    other = _simulate(_scenario(tmp_path), tmp_path / "other", "--seed", "6")
    html = tmp_path / "compare.html"
    result = runner.invoke(app, ["compare", str(physical), str(other), "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert html.is_file()


def test_same_seed_same_bytes(physical: Path, tmp_path: Path):
    again = _simulate(_scenario(tmp_path), tmp_path / "again")
    for name in ("timeseries.parquet", "offtakers.parquet", "summary.json"):
        assert (again / name).read_bytes() == (physical / name).read_bytes(), name


def test_a_flat_run_over_a_physical_one_leaves_no_stale_offtakers(tmp_path: Path):
    scenario = _scenario(tmp_path)
    out = _simulate(scenario, tmp_path / "run")
    assert (out / "offtakers.parquet").is_file()
    _simulate(scenario, out, "--site", "flat:64", "--force")
    assert not (out / "offtakers.parquet").exists()
    assert pq.read_table(out / "timeseries.parquet").num_rows > 48
