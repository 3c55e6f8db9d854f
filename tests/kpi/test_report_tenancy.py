"""The "Tenancy" section of the HTML report, on a small hand-made multi-tenant run folder."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from narvik.kpi import plots, tenancy_plots
from narvik.kpi.report import JOBS_FILE, SUMMARY_FILE, TIMESERIES_FILE, load_run, render_report

HOUR = 3600.0
TIERS = ["anchor", "national", "regional"]
UNIT = re.compile(r"\([^)]+\)")
TABLE_TITLES = (
    "Service per tier",
    "Guarantees",
    "Preemptions",
    "Grid curtailments",
    "Advance reservations",
    "Monthly ledger",
    "Owners",
)


def _ledger_row(
    month: str,
    tenant: str,
    tier: str | None,
    guaranteed: float,
    borrowed: float,
    bill: float,
    mwh: float,
) -> dict[str, Any]:
    return {
        "month": month,
        "tenant": tenant,
        "tier": tier,
        "jurisdiction": None if tier is None else "NO",
        "gpu_hours_guaranteed": guaranteed,
        "gpu_hours_borrowed": borrowed,
        "gpu_hours": guaranteed + borrowed,
        "bill_eur": bill,
        "energy_mwh": mwh,
        "energy_cost_eur": mwh * 30.0,
    }


def _owners_row(month: str, revenue: float, cost: float) -> dict[str, Any]:
    margin = revenue - cost
    return {
        "month": month,
        "revenue_eur": revenue,
        "energy_cost_eur": cost,
        "margin_eur": margin,
        "owners": {
            n: {"share": 0.5, "revenue_eur": revenue / 2, "margin_eur": margin / 2}
            for n in ("Aker", "Nscale")
        },
    }


TENANCY: dict[str, Any] = {
    "wait_slo_by_tier": {
        "anchor": {
            "jobs": 290,
            "jobs_in_slo_scope": 216,
            "jobs_started": 289,
            "slo_attainment": 209 / 216,
            "slo_met": 209,
            "slo_s": 3600.0,
            "wait_mean_s": 45377.0,
            "wait_p50_s": 0.0,
            "wait_p95_s": 176060.2,
        },
        "national": {
            "jobs": 92466,
            "jobs_in_slo_scope": 92414,
            "jobs_started": 92466,
            "slo_attainment": 92409 / 92414,
            "slo_met": 92409,
            "slo_s": 3600.0,
            "wait_mean_s": 16.8,
            "wait_p50_s": 0.0,
            "wait_p95_s": 62.0,
        },
        "regional": {
            "jobs": 154109,
            "jobs_in_slo_scope": 0,
            "jobs_started": 153394,
            "slo_attainment": None,
            "slo_met": 0,
            "slo_s": None,
            "wait_mean_s": 852.6,
            "wait_p50_s": 0.0,
            "wait_p95_s": 656.0,
        },
    },
    "guarantee_hours": {
        "openai": {"hours": 1440, "hours_met": 1440, "share_met": 1.0},
        "sigma2": {"hours": 1440, "hours_met": 1433, "share_met": 1433 / 1440},
    },
    "preemptions": {
        "(total)": {"gpu_hours_lost": 1234.5, "jobs_preempted": 30, "preemptions": 45},
        "openai": {"gpu_hours_lost": 0.0, "jobs_preempted": 0, "preemptions": 0},
        "sigma2": {"gpu_hours_lost": 0.0, "jobs_preempted": 0, "preemptions": 0},
        "uk-public": {"gpu_hours_lost": 1234.5, "jobs_preempted": 30, "preemptions": 45},
    },
    "fairness_jain_by_tier": {"anchor": 1.0, "national": 0.99862, "regional": 0.9952},
    "power": {
        "max_it_power_mw": 163.18,
        "min_gpu_cap_fraction": 0.7,
        "passes": 51460,
        "passes_over_budget_outside_deadlines": 3,
    },
    "curtailments": [
        {
            "deadline_s": 1_700_100.0,
            "duration_h": 4.0,
            "end_s": 1_713_600.0,
            "end_utc": "2027-01-20T20:00:00+00:00",
            "max_excess_mw": 0.0,
            "met": True,
            "min_gpu_cap_fraction": 0.7,
            "preempted_jobs": 12,
            "shed_mw": 60.0,
            "start_s": 1_699_200.0,
            "start_utc": "2027-01-20T16:00:00+00:00",
        },
        {
            "deadline_s": 3_888_900.0,
            "duration_h": 2.0,
            "end_s": 3_895_200.0,
            "end_utc": "2027-02-15T02:00:00+00:00",
            "max_excess_mw": 4.5,
            "met": False,
            "min_gpu_cap_fraction": 0.8,
            "preempted_jobs": 0,
            "shed_mw": 40.0,
            "start_s": 3_888_000.0,
            "start_utc": "2027-02-15T00:00:00+00:00",
        },
    ],
    "curtailments_met": {"met": 1, "total": 2},
    "reservations": [
        {
            "end_s": 3_196_800.0,
            "gpus": 2048,
            "honoured": False,
            "min_available_gpus": 999,
            "start_s": 2_592_000.0,
            "tenant": "sigma2",
        },
        {
            "end_s": 4_320_000.0,
            "gpus": 4096,
            "honoured": True,
            "min_available_gpus": 4096,
            "start_s": 4_147_200.0,
            "tenant": "uk-public",
        },
    ],
    "ledger": [
        _ledger_row(
            "2027-01", "openai", "anchor", 22_104_361.8, 3_241_370.9, 54_846_724.1, 48_923.0
        ),
        _ledger_row("2027-01", "sigma2", "national", 4_972_689.4, 227_773.9, 6_377_220.3, 10_064.9),
        _ledger_row("2027-01", "uk-public", "regional", 0.0, 4_378_311.4, 13_134_934.2, 8_473.3),
        _ledger_row("2027-01", "(idle)", None, 0.0, 0.0, 0.0, 12.5),
        _ledger_row(
            "2027-02", "openai", "anchor", 25_843_461.2, 8_310_712.1, 75_879_119.9, 60_482.0
        ),
        _ledger_row("2027-02", "sigma2", "national", 4_716_944.4, 27_335.0, 5_709_536.3, 8_532.9),
        _ledger_row("2027-02", "uk-public", "regional", 0.0, 4_115_605.5, 12_346_816.4, 7_512.7),
        _ledger_row("2027-02", "(idle)", None, 0.0, 0.0, 0.0, 0.0),
    ],  # fmt: skip
    "owners": [
        _owners_row("2027-01", 74_358_878.6, 2_026_651.0),
        _owners_row("2027-02", 93_935_472.6, 2_305_668.0),
    ],
}


# ----------------------------------------------------- run folders (as in tests/kpi/test_report.py)


def _jobs_table(n: int, span_s: float, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    submit = np.sort(rng.uniform(0, span_s * 0.8, n))
    wait = rng.exponential(2 * HOUR, n) * (rng.random(n) < 0.7)
    runtime = rng.uniform(0.5 * HOUR, 6 * HOUR, n)
    start = submit + wait
    end = start + runtime
    state = np.where(end <= span_s, "completed", "running")
    end[state == "running"] = np.nan
    cols: dict[str, pa.Array] = {
        "job_id": pa.array([str(i + 1) for i in range(n)], pa.string()),
        "tenant": pa.array([f"tenant-{i % 3}" for i in range(n)], pa.string()),
        "tier": pa.array([TIERS[i % 3] for i in range(n)], pa.string()),
        "gpus": pa.array(rng.choice([8, 16, 72, 144], n), pa.int64()),
        "submit_s": pa.array(submit, pa.float64()),
        "start_s": pa.array(start, pa.float64()),
        "end_s": pa.array(end, pa.float64(), mask=np.isnan(end)),
        "state": pa.array(state.tolist(), pa.string()),
        "preemptions": pa.array(np.zeros(n, np.int64), pa.int64()),
    }
    return pa.table(cols)


def make_run(run_dir: Path, tenancy: dict[str, Any] | None, n_gpus: int = 512) -> Path:
    """A flat pool run of 59 days from 1 January 2027, with ``tenancy`` in its summary."""
    run_dir.mkdir(parents=True, exist_ok=True)
    span_s = 59 * 24 * HOUR
    jobs = _jobs_table(150, span_s, 3)
    start = jobs.column("start_s").to_numpy(zero_copy_only=False)
    end = jobs.column("end_s").to_numpy(zero_copy_only=False)
    busy = plots.busy_gpus_series(start, end, jobs.column("gpus").to_numpy())
    ts = pa.table(
        {
            "t_s": pa.array(busy.t_s, pa.float64()),
            "gpus_busy": pa.array(busy.value.astype(np.int64), pa.int64()),
        }
    )
    pq.write_table(ts, run_dir / TIMESERIES_FILE)
    pq.write_table(jobs, run_dir / JOBS_FILE)
    summary: dict[str, Any] = {
        "site": f"flat:{n_gpus}",
        "policy": "narvik" if tenancy is not None else "easy",
        "n_gpus": n_gpus,
        "seed": 7,
        "span_s": span_s,
        "start_date": "2027-01-01",
        "jobs": {"completed": 140, "running": 10, "pending": 0, "cancelled": 0, "rejected": 0},
        "gpu_hours": 123456.0,
        "utilization": 0.8123,
        "wait_s": {"mean": 3600.0, "p50": 600.0, "p95": 14400.0},
        "tiers": TIERS,
    }
    if tenancy is not None:
        summary["tenancy"] = tenancy
        summary["preemptions_total"] = tenancy["preemptions"]["(total)"]["preemptions"]
        summary["gpu_hours_lost_to_preemption"] = tenancy["preemptions"]["(total)"][
            "gpu_hours_lost"
        ]
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return run_dir


def _outside_scripts(text: str) -> str:
    return re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S)


def _table(text: str, key: str) -> str:
    match = re.search(rf'<section class="card" id="{key}">(.*?)</section>', text, flags=re.S)
    assert match, key
    return match.group(1)


def _cells(row_html: str) -> list[str]:
    return re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html)


# --------------------------------------------------------------------------- tests


def test_tenancy_section_has_every_table_with_units(tmp_path):
    text = render_report(make_run(tmp_path / "run", TENANCY)).read_text(encoding="utf-8")
    visible = _outside_scripts(text)
    assert '<h2 id="tenancy">Tenancy</h2>' in visible
    for title in TABLE_TITLES:
        assert f"<h3>{title}</h3>" in visible
    # every numeric column header names its unit
    view = tenancy_plots.tenancy_view(load_run(tmp_path / "run").summary, None)
    for table in view.tables:
        for column in table.columns:
            if column.numeric:
                assert UNIT.search(column.header), (table.title, column.header)
    assert "http" not in visible
    assert text.count("Plotly.newPlot(") == 4  # utilisation, waits, bills, waits per tenant


def test_tenancy_numbers_are_formatted(tmp_path):
    text = render_report(make_run(tmp_path / "run", TENANCY)).read_text(encoding="utf-8")
    service = _table(text, "tenancy-service")
    anchor = next(r for r in service.split("<tr>") if "<td>anchor</td>" in r)
    # 290 jobs, p95 176,060 s = 48.91 h, SLO 1 h, 209 / 216 = 96.76%, Jain 1.000
    assert _cells(anchor) == [
        "anchor", "290", "289", "0.00", "48.91", "1.00", "209 / 216", "96.76", "1.000"
    ]  # fmt: skip
    regional = next(r for r in service.split("<tr>") if "<td>regional</td>" in r)
    assert "no SLO" in regional and "0.995" in regional
    assert "1,433" in _table(text, "tenancy-guarantees") and "99.51" in text
    preempt = _table(text, "tenancy-preemptions")
    assert "<tfoot>" in preempt and "<td>Total</td>" in preempt and "1,234.5" in preempt
    assert "(total)" not in preempt
    curt = _table(text, "tenancy-curtailments")
    assert "2027-01-20 16:00" in curt and "2027-02-15 00:00" in curt
    assert ">yes<" in curt and ">no<" in curt and ">70<" in curt
    assert "3 of 51,460 scheduling passes" in curt
    assert "Curtailments met by their deadline: 1 of 2." in curt
    res = _table(text, "tenancy-reservations")
    # 30 days after 1 January for 7 days; 2,048 GPUs, 999 available at worst, not honoured
    sigma2 = next(r for r in res.split("<tr>") if "<td>sigma2</td>" in r)
    assert _cells(sigma2) == [
        "sigma2", "2,048", "2027-01-31 00:00 → 2027-02-07 00:00", "168.0", "999", "no"
    ]  # fmt: skip
    assert "2027-02-18 00:00 → 2027-02-20 00:00" in res
    ledger = _table(text, "tenancy-ledger")
    openai = next(r for r in ledger.split("<tr") if "<td>openai</td>" in r)
    # 22.1 million GPU-h guaranteed, 54,846,724 EUR = 54,847 kEUR
    assert _cells(openai)[:4] == ["2027-01", "openai", "anchor", "22.104"]
    assert _cells(openai)[-1] == "54,847"
    assert ledger.count('<tr class="m">') == 1  # one rule, between January and February
    owners = _table(text, "tenancy-owners")
    assert "Aker (50%) revenue (EUR)" in owners and "74,358,879" in owners


def test_bills_figure_has_titles_units_and_legend():
    fig = tenancy_plots.bills_figure(TENANCY["ledger"])
    assert fig.layout.title.text == "Monthly bill by tenant"
    assert fig.layout.xaxis.title.text == "Month (UTC)"
    assert fig.layout.yaxis.title.text == "Bill (million EUR)"
    assert fig.layout.showlegend is True and fig.layout.barmode == "stack"
    assert [tr.name for tr in fig.data] == ["openai", "sigma2", "uk-public"]  # no (idle)
    assert list(fig.data[0].x) == ["2027-01", "2027-02"]
    np.testing.assert_allclose(fig.data[0].y, [54.8467241, 75.8791199])


def test_bills_figure_is_in_the_report(tmp_path):
    text = render_report(make_run(tmp_path / "run", TENANCY)).read_text(encoding="utf-8")
    assert 'id="fig-bills"' in text
    assert "Monthly bill by tenant" in text and "Bill (million EUR)" in text


def test_tenancy_report_is_deterministic(tmp_path):
    a = render_report(make_run(tmp_path / "a", TENANCY)).read_bytes()
    b = render_report(make_run(tmp_path / "b", TENANCY)).read_bytes()
    again = render_report(tmp_path / "a").read_bytes()
    assert a == b == again


def test_run_without_tenancy_has_no_tenancy_section(tmp_path):
    text = render_report(make_run(tmp_path / "run", None)).read_text(encoding="utf-8")
    assert "Tenancy" not in _outside_scripts(text)
    assert "fig-bills" not in text and "Monthly ledger" not in text
    assert "table.tt" not in text  # the section's styles are left out too
    assert tenancy_plots.tenancy_view(load_run(tmp_path / "run").summary, None).tables == []


def test_missing_parts_of_tenancy_show_notes_and_dashes(tmp_path):
    tenancy = copy.deepcopy(TENANCY)
    tenancy["curtailments"] = []
    tenancy["reservations"] = []
    tenancy["ledger"] = []
    tenancy["owners"] = []
    tenancy["guarantee_hours"] = {"sigma2": {"hours": 10}}
    run = make_run(tmp_path / "run", tenancy)
    text = render_report(run).read_text(encoding="utf-8")
    # A flat pool with no curtailment answers no grid operator: no table at all.
    assert 'id="tenancy-curtailments"' not in text
    summary = json.loads((run / SUMMARY_FILE).read_text())
    summary["facility_energy_mwh"] = 1.0  # a site with a power model: the table says none
    (run / SUMMARY_FILE).write_text(json.dumps(summary))
    text = render_report(run).read_text(encoding="utf-8")
    assert "The grid operator called no curtailment in this run." in text
    assert "No advance reservation in this run." in text
    assert "The run has no monthly ledger" in text
    assert _cells(_table(text, "tenancy-guarantees").split("<tbody>")[1]) == [
        "sigma2", "–", "10", "–"
    ]  # fmt: skip
