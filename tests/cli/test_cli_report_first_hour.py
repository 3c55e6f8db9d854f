"""The first hour of a new user: `narvik simulate` then the report, summary and jobs.

Runs the small multi-tenant scenario (tests/data/small-scenario.toml: two days on the
small test site under the narvik policy) through the CLI as a user calls it, with and
without a warm-up, once under `easy`, and a flat pool under `easy`, then reads
report.html, summary.json and jobs.parquet: what the waits, guarantee hours and start
SLO measure; waits inside and beyond the guarantee; the PUE note; the ledger without
all-zero rows; the per-tenant wait distributions and the queue over time; the warm-up
marked in every time plot.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from tests.kpi.test_report import make_physical_run
from typer.testing import CliRunner

from narvik.cli.main import _register, app

_register()
runner = CliRunner()
DATA = Path(__file__).resolve().parents[1] / "data"
SMALL_SCENARIO = DATA / "small-scenario.toml"
WARMUP_S = 43_200.0  # --warmup-days 0.5
HOUR_S = 3600.0
WARMUP_TEXT = "warm-up (not in the KPIs)"
TIME_PLOTS = ("fig-utilisation", "fig-queue", "fig-power", "fig-heat")


# --------------------------------------------------------------------------- helpers


def _simulate(out: Path, *options: str) -> Path:
    args = ["simulate", "--scenario", str(SMALL_SCENARIO), *options, "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _simulate(tmp_path_factory.mktemp("warm") / "run", "--warmup-days", "0.5")


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _simulate(tmp_path_factory.mktemp("cold") / "run")


@pytest.fixture(scope="module")
def easy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _simulate(tmp_path_factory.mktemp("easy") / "run", "--policy", "easy")


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flat") / "run"
    args = ["simulate", "--site", "flat:64", "--policy", "easy", "--days", "2"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _summary(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


def _jobs(run: Path) -> dict[str, np.ndarray]:
    table = pq.read_table(run / "jobs.parquet").to_pydict()
    out = {k: np.asarray(v, dtype=object) for k, v in table.items()}
    for k in ("submit_s", "start_s"):
        out[k] = np.asarray([np.nan if v is None else v for v in table[k]], dtype=float)
    return out


def _html(run: Path) -> str:
    return (run / "report.html").read_text(encoding="utf-8")


def _visible(html: str) -> str:
    text = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)
    return re.sub(r"<style>.*?</style>", "", text, flags=re.S)


def _plain(fragment: str) -> str:
    """Text of an HTML fragment: tags dropped, entities of quotes undone, spaces folded."""
    text = re.sub(r"<[^>]+>", " ", fragment).replace("&#x27;", "'").replace("&amp;", "&")
    return " ".join(text.split())


def _decode(value: Any) -> Any:
    """Plotly's JSON with its typed arrays ({"dtype", "bdata"}) decoded to numpy."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _figure(html: str, div_id: str) -> dict[str, Any]:
    """The data and layout plotly draws in the div ``div_id`` of a report."""
    match = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', html)
    assert match, div_id
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(html, match.end())
    layout, _ = decoder.raw_decode(html, html.index("{", end))
    return {"data": _decode(data), "layout": _decode(layout)}


def _card(html: str, key: str) -> str:
    match = re.search(rf'<section class="card[^"]*" id="{key}">(.*?)</section>', html, re.S)
    assert match, key
    return match.group(1)


def _how(html: str, div_id: str) -> str:
    match = re.search(rf'id="{div_id}-card">.*?<p class="how">(.*?)</p>', html, re.S)
    assert match, div_id
    return _plain(match.group(1))


def _rows(table_html: str, part: str = "tbody") -> list[list[str]]:
    body = re.search(rf"<{part}>(.*?)</{part}>", table_html, re.S)
    assert body, part
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    return [[_plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def _counted(jobs: dict[str, np.ndarray]) -> np.ndarray:
    return ~jobs["in_warmup"].astype(bool)


# --------------------------------------------------------------------------- 1a


def test_first_screen_says_what_waits_guarantee_hours_and_slo_measure(warm):
    html = _html(warm)
    guide_at = html.index('id="reading-guide"')
    assert html.index('id="kpis"') < guide_at < html.index("Plotly.newPlot(")
    guide = _plain(_card(html, "reading-guide"))
    assert "every GPU of its guarantee it asked for" in guide
    assert "fit their tenant's unused guarantee when they were submitted" in guide
    assert "including work beyond its tenant's guarantee" in guide
    assert "borrowed" in guide and "may wait long" in guide
    # per tenant with a quota, its guarantee hours beside its waits on either side
    tenancy = _summary(warm)["tenancy"]
    assert tenancy["guarantee_hours"]
    for tenant, g in tenancy["guarantee_hours"].items():
        inside = tenancy["waits_by_guarantee"][tenant]["inside"]
        line = f"{tenant}: guarantee met in {g['hours_met']:,} of {g['hours']:,} h; "
        line += f"{inside['jobs_started']:,} of {inside['jobs']:,} jobs inside the guarantee"
        assert line in guide


def test_runs_without_tenancy_have_no_guide(flat):
    assert "tenancy" not in _summary(flat)
    assert 'id="reading-guide"' not in _html(flat)


# --------------------------------------------------------------------------- 1b


def _wait_stats(waits: np.ndarray, jobs: int) -> dict[str, Any]:
    if not waits.size:
        return {"jobs": jobs, "jobs_started": 0, "mean_s": None, "p50_s": None, "p95_s": None}
    return {
        "jobs": jobs,
        "jobs_started": int(waits.size),
        "mean_s": pytest.approx(float(waits.mean()), abs=1e-3),
        "p50_s": pytest.approx(float(np.percentile(waits, 50)), abs=1e-3),
        "p95_s": pytest.approx(float(np.percentile(waits, 95)), abs=1e-3),
    }


def _split(jobs: dict[str, np.ndarray], mine: np.ndarray) -> dict[str, Any]:
    fits = jobs["within_guarantee"].astype(bool)
    wait = jobs["start_s"] - jobs["submit_s"]
    started = np.isfinite(jobs["start_s"])
    return {
        side: _wait_stats(wait[mine & part & started], int(np.sum(mine & part)))
        for side, part in (("inside", fits), ("beyond", ~fits))
    }


def test_waits_inside_and_beyond_the_guarantee_per_tenant_and_tier(warm):
    summary = _summary(warm)
    tenancy = summary["tenancy"]
    jobs = _jobs(warm)
    counted = _counted(jobs)
    by_tenant = tenancy["waits_by_guarantee"]
    listed = [t for t in by_tenant if t != "(other)"]
    assert {"openai", "sigma2", "no-startups", "uk-public"} <= set(listed)
    for tenant in listed:
        mine = counted & (jobs["tenant"] == tenant)
        entry = by_tenant[tenant]
        assert {k: entry[k] for k in ("inside", "beyond")} == _split(jobs, mine), tenant
    # tenants the tenancy does not list are gathered under "(other)"
    other = counted & ~np.isin(jobs["tenant"], listed)
    assert by_tenant["(other)"]["beyond"]["jobs"] + by_tenant["(other)"]["inside"]["jobs"] == (
        int(other.sum())
    )
    assert by_tenant["sigma2"]["tier"] == "national"
    for tier, entry in tenancy["waits_by_guarantee_by_tier"].items():
        mine = counted & (jobs["tier"] == tier)
        assert entry == _split(jobs, mine), tier
        slo = tenancy["wait_slo_by_tier"][tier]
        assert entry["inside"]["jobs"] + entry["beyond"]["jobs"] == slo["jobs"]
        assert slo["jobs_in_slo_scope"] <= entry["inside"]["jobs"]
    # the small run has work on both sides, and the work beyond waits longer
    national = tenancy["waits_by_guarantee_by_tier"]["national"]
    assert national["inside"]["jobs"] > 0 and national["beyond"]["jobs"] > 0
    regional = tenancy["waits_by_guarantee_by_tier"]["regional"]
    assert regional["beyond"]["p95_s"] > regional["inside"]["p95_s"]


def test_report_has_the_table_of_waits_inside_and_beyond(warm):
    html = _html(warm)
    tenancy = _summary(warm)["tenancy"]
    table = _card(html, "tenancy-waits-guarantee")
    assert "Waits inside and beyond the guarantee" in table
    rows = {r[0]: r for r in _rows(table)}
    for tenant, entry in tenancy["waits_by_guarantee"].items():
        beyond = entry["beyond"]
        cells = rows[tenant]
        assert cells[6] == f"{beyond['jobs_started']:,} / {beyond['jobs']:,}"
        p95 = beyond["p95_s"]
        assert cells[8] == ("–" if p95 is None else f"{p95 / HOUR_S:,.2f}")
    tiers = {r[1]: r for r in _rows(table, "tfoot")}
    assert set(tiers) == set(tenancy["waits_by_guarantee_by_tier"])
    assert all(r[0] == "All tenants" for r in tiers.values())
    # the table sits right after the service per tier, in the tenancy section
    assert html.index('id="tenancy-service"') < html.index('id="tenancy-waits-guarantee"')


def test_jobs_parquet_has_within_guarantee_with_the_tenancy_summary(warm, easy, flat):
    schema = pq.read_schema(warm / "jobs.parquet")
    assert str(schema.field("within_guarantee").type) == "bool"
    jobs = _jobs(warm)
    fits = jobs["within_guarantee"].astype(bool)
    assert 0 < fits.sum() < fits.size
    inside = _summary(warm)["tenancy"]["waits_by_guarantee_by_tier"]
    assert int(np.sum(fits & _counted(jobs))) == sum(e["inside"]["jobs"] for e in inside.values())
    # every policy on a physical site runs on the pool engine and has a tenancy summary
    assert "tenancy" in _summary(easy)
    assert "within_guarantee" in pq.read_schema(easy / "jobs.parquet").names
    # a flat pool's exact reference replay has neither
    assert "tenancy" not in _summary(flat)
    assert "within_guarantee" not in pq.read_schema(flat / "jobs.parquet").names


# --------------------------------------------------------------------------- 2


def test_pue_note_of_a_run_without_chillers_does_not_blame_them(cold):
    summary = _summary(cold)
    assert summary["chiller_energy_mwh"] == 0.0
    assert summary["free_cooling_hours"] == summary["hours"]
    note = _how(_html(cold), "fig-pue")
    assert "The trim chillers never ran (0 MWh)" in note
    assert "the dry coolers rejected all the heat in every step" in note
    assert "dry-cooler fans" in note and "fewer GPUs are busy" in note
    assert "chillers taking over" not in note and "trim chillers ran" not in note
    assert "Grey points" not in note


def test_pue_note_of_a_run_with_chillers_gives_their_energy(tmp_path):
    # The synthetic physical run of tests/kpi: chillers at (ambient - 18 °C) x 100 kW.
    run = make_physical_run(tmp_path / "hot")
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    series = pq.read_table(run / "timeseries.parquet").to_pydict()
    chiller_w = np.asarray(series["chiller_power_w"])
    on = int(np.count_nonzero(chiller_w > 0))
    mwh = float(chiller_w.sum()) * HOUR_S / 3.6e9  # hourly steps
    assert 0 < on < chiller_w.size
    note = _how(_html(run), "fig-pue")
    assert f"The trim chillers ran in {on:,} of {chiller_w.size:,} steps ({mwh:,.1f} MWh)" in note
    assert "never ran" not in note


# --------------------------------------------------------------------------- 3


def test_ledger_leaves_out_all_zero_idle_rows(cold):
    tenancy = _summary(cold)["tenancy"]
    ledger = tenancy["ledger"]
    # every step had a GPU busy in this run: the idle rows would be all zero
    series = pq.read_table(cold / "timeseries.parquet").to_pydict()
    assert min(series["gpus_busy"]) > 0
    assert ledger and all(row["tenant"] != "(idle)" for row in ledger)
    assert len(ledger) == 4  # one month, the four tenants of the tenancy
    table = _card(_html(cold), "tenancy-ledger")
    assert [(r[0], r[1]) for r in _rows(table)] == [(r["month"], r["tenant"]) for r in ledger]
    assert "(idle)" not in _plain(table)
    assert "every step had a GPU busy" in _plain(table)


def test_report_drops_ledger_rows_whose_every_figure_is_zero(tmp_path):
    path = Path(__file__).resolve().parents[1] / "kpi" / "test_report_tenancy.py"
    spec = importlib.util.spec_from_file_location("_tenancy_fixtures_first_hour", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tenancy = module.TENANCY  # January's idle row has 12.5 MWh, February's is all zero
    run = module.make_run(tmp_path / "run", tenancy)
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    table = _card(_html(run), "tenancy-ledger")
    idle = [r for r in _rows(table) if r[1] == "(idle)"]
    assert [r[0] for r in idle] == ["2027-01"]
    assert "1 row(s) whose every figure is 0 are left out." in _plain(table)


# --------------------------------------------------------------------------- 4


def test_report_draws_the_wait_distribution_of_every_tenant(warm):
    html = _html(warm)
    jobs = _jobs(warm)
    counted = _counted(jobs) & np.isfinite(jobs["start_s"])
    fig = _figure(html, "fig-waits-tenant")
    assert fig["layout"]["title"]["text"] == "Queue wait distribution by tenant"
    assert fig["layout"]["xaxis"]["type"] == "log"
    names = {tr["name"].split(" (")[0]: tr for tr in fig["data"]}
    assert set(names) == set(jobs["tenant"][counted])
    for tenant, trace in names.items():
        waits_h = (jobs["start_s"] - jobs["submit_s"])[counted & (jobs["tenant"] == tenant)]
        waits_h = np.maximum(waits_h, 1.0) / HOUR_S
        assert f"({waits_h.size:,} jobs," in trace["name"]
        assert float(np.max(trace["x"])) == pytest.approx(float(waits_h.max()))
        assert float(np.asarray(trace["y"])[-1]) == pytest.approx(100.0)
    # in the tenancy section, after the table that splits the waits
    assert html.index('id="tenancy-waits-guarantee"') < html.index('id="fig-waits-tenant"')


def test_report_draws_the_queue_over_time(cold):
    html = _html(cold)
    series = pq.read_table(cold / "timeseries.parquet").to_pydict()
    fig = _figure(html, "fig-queue")
    assert fig["layout"]["title"]["text"] == "Jobs waiting in the queue"
    assert fig["layout"]["yaxis"]["title"]["text"] == "Jobs waiting (jobs)"
    (line,) = fig["data"]  # two days of hourly steps: drawn as they are
    np.testing.assert_array_equal(np.asarray(line["y"]), np.asarray(series["queued_jobs"]))
    assert max(series["queued_jobs"]) > 0
    assert html.index('id="fig-waits"') < html.index('id="fig-queue"')


def test_easy_run_has_the_queue_and_the_waits_by_tier(easy, flat):
    html = _html(easy)
    assert _figure(html, "fig-queue")["data"]
    assert _figure(html, "fig-waits")["layout"]["title"]["text"] == (
        "Queue wait distribution by tier"
    )
    # a flat pool records no queue length: no queue figure, and no tenancy figures
    html = _html(flat)
    assert "fig-queue" not in html and "fig-waits-tenant" not in html
    assert _figure(html, "fig-waits")["data"]


# --------------------------------------------------------------------------- 5


def _warmup_bands(fig: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in fig["layout"].get("shapes", []) if s.get("fillcolor") == "#7f8c8d"]


def test_warmup_is_marked_in_every_time_plot(warm, cold):
    warm_html, cold_html = _html(warm), _html(cold)
    for div_id in TIME_PLOTS:
        fig = _figure(warm_html, div_id)
        (band,) = _warmup_bands(fig)
        notes = [a["text"] for a in fig["layout"].get("annotations", [])]
        assert WARMUP_TEXT in notes, div_id
        if div_id == "fig-heat":  # daily bars: half of the first day's
            assert (band["x0"], band["x1"]) == (-0.5, 0.0)
        else:
            assert (band["x0"], band["x1"]) == ("2027-01-01 00:00:00", "2027-01-01 12:00:00")
        assert "grey band is the warm-up" in _how(warm_html, div_id)
        plain = _figure(cold_html, div_id)
        assert not _warmup_bands(plain), div_id
        assert WARMUP_TEXT not in json.dumps(plain["layout"], default=str), div_id
    # the PUE scatter draws the warm-up's steps apart
    series = pq.read_table(warm / "timeseries.parquet").to_pydict()
    steps = sum(1 for t in series["t_s"] if t < WARMUP_S)
    pue = [tr["name"] for tr in _figure(warm_html, "fig-pue")["data"]]
    assert f"Warm-up (not in the KPIs), {steps} steps" in pue
    assert not any(
        "Warm-up" in n for n in (tr["name"] for tr in _figure(cold_html, "fig-pue")["data"])
    )
    assert "The warm-up is not billed" in _how(warm_html, "fig-bills")


def test_wait_distributions_leave_out_the_warmup_jobs(warm):
    jobs = _jobs(warm)
    counted = _counted(jobs) & np.isfinite(jobs["start_s"])
    fig = _figure(_html(warm), "fig-waits")
    total = sum(
        int(re.search(r"\(([\d,]+) jobs", tr["name"]).group(1).replace(",", ""))
        for tr in fig["data"]
    )
    assert total == int(counted.sum()) < int(np.isfinite(jobs["start_s"]).sum())


def test_report_re_renders_byte_identical(warm):
    before = (warm / "report.html").read_bytes()
    result = runner.invoke(app, ["report", str(warm)])
    assert result.exit_code == 0, result.output
    assert (warm / "report.html").read_bytes() == before
