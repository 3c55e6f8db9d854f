"""The pieces behind the report's first-hour fixes, by hand: waits inside and beyond the
guarantee, the warm-up band on bars by category, the PUE note, the ledger table."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from narvik.kpi import plots, tenancy_plots
from narvik.kpi.report_text import ChillerUse, guarantee_lines, pue_how_to_read
from narvik.kpi.tenancy_kpis import waits_by_guarantee
from narvik.kpi.wait_plots import queue_figure, waits_by_group

HOUR_S = 3600.0


def test_waits_by_guarantee_by_hand():
    out = waits_by_guarantee(
        ["a", "a", "a", "b", "a"],
        [0.0, 0.0, 10.0, 5.0, 20.0],
        [10.0, np.nan, 40.0, 5.0, 120.0],
        [True, True, False, False, False],
        order=["c", "a"],
    )
    assert list(out) == ["c", "a", "b"]  # listed first, even without jobs; then the rest
    assert out["c"]["inside"] == {
        "jobs": 0, "jobs_started": 0, "mean_s": None, "p50_s": None, "p95_s": None
    }  # fmt: skip
    # a, inside: two jobs, one started after 10 s (the other never started)
    assert out["a"]["inside"] == {
        "jobs": 2, "jobs_started": 1, "mean_s": 10.0, "p50_s": 10.0, "p95_s": 10.0
    }  # fmt: skip
    # a, beyond: waits 30 s and 100 s; linear p95 = 30 + 0.95 x 70
    beyond = out["a"]["beyond"]
    assert (beyond["jobs"], beyond["jobs_started"]) == (2, 2)
    assert beyond["mean_s"] == pytest.approx(65.0)
    assert beyond["p50_s"] == pytest.approx(65.0)
    assert beyond["p95_s"] == pytest.approx(96.5)
    assert out["b"]["beyond"]["p95_s"] == 0.0 and out["b"]["inside"]["jobs"] == 0


def test_waits_by_guarantee_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="one length"):
        waits_by_guarantee(["a"], [0.0, 1.0], [1.0], [True])


def test_warmup_band_on_category_bars_ends_inside_the_bin_it_ends_in():
    fig = plots.mark_warmup_bins(go.Figure(), [0, 0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0, 0])
    (band,) = fig.layout.shapes
    assert (band.x0, band.x1) == (-0.5, 1.0)  # all of bin 0, half of bin 1
    assert not plots.mark_warmup_bins(go.Figure(), [0, 1], [False, False]).layout.shapes


def test_heat_figure_shades_a_warmup_of_a_day_and_a_half():
    t = np.arange(72) * HOUR_S
    heat = {"dh": (np.ones(72), np.ones(72))}
    fig = plots.heat_figure(t, 72 * HOUR_S, heat, None, warmup_s=36 * HOUR_S)
    (band,) = fig.layout.shapes
    assert (band.x0, band.x1) == (-0.5, 1.0)
    assert not plots.heat_figure(t, 72 * HOUR_S, heat).layout.shapes


def test_pue_scatter_draws_the_warmup_steps_apart():
    t = np.arange(10) * HOUR_S
    fig = plots.pue_figure(t, np.full(10, 5.0), np.full(10, 1.1), None, warmup_s=3 * HOUR_S)
    assert [tr.name for tr in fig.data] == [
        "All steps, 7 steps",
        "Warm-up (not in the KPIs), 3 steps",
    ]
    assert fig.data[1].marker.color == plots.WARMUP_COLOR


def test_queue_figure_is_drawn_as_recorded_and_binned_beyond_the_budget():
    t = np.arange(48) * HOUR_S
    q = np.arange(48) % 5
    fig = queue_figure(t, q, 48 * HOUR_S, warmup_s=6 * HOUR_S)
    (line,) = fig.data
    np.testing.assert_array_equal(line.y, q)
    assert fig.layout.shapes[0].x1 == 0.25  # 6 h in days, without a start date
    year = np.arange(3 * 8760) * HOUR_S
    surge = np.where(np.arange(year.size) % 24 == 12, 100, 0)
    mean, peak = queue_figure(year, surge, year.size * HOUR_S).data
    assert "mean" in mean.name and "peak" in peak.name
    assert np.max(mean.y) < 100 and np.sum(np.asarray(peak.y) == 100) == 3 * 365


def test_waits_by_group_keeps_counted_started_jobs_in_order():
    out = waits_by_group(
        [0, 1, 0, -1, 2],
        ["x", "y", "z"],
        [0.0, 0.0, 5.0, 0.0, 1.0],
        [1.0, 2.0, np.nan, 3.0, 4.0],
        [True, True, True, True, False],
        order=["y", "q"],
    )
    assert list(out) == ["y", "x"]
    np.testing.assert_array_equal(out["x"], [1.0])


def test_pue_note_names_the_chillers_only_when_they_ran():
    off = pue_how_to_read(ChillerUse(0.0, 0, 48), warmup=False)
    assert "never ran (0 MWh)" in off and "chillers taking over" not in off
    on = pue_how_to_read(ChillerUse(12.345, 5, 48), warmup=True)
    assert "The trim chillers ran in 5 of 48 steps (12.3 MWh)" in on
    assert "Grey points are the steps of the warm-up" in on
    unknown = pue_how_to_read(ChillerUse(None), warmup=False)
    assert "never ran" not in unknown and "ran in" not in unknown
    for text in (off, on, unknown):
        assert "dry-cooler fans" in text


def test_guarantee_lines_put_hours_beside_waits():
    tenancy = {
        "guarantee_hours": {"openai": {"hours": 8760, "hours_met": 8760, "share_met": 1.0}},
        "waits_by_guarantee": {
            "openai": {
                "tier": "anchor",
                "inside": {"jobs": 10, "jobs_started": 10, "p95_s": 36.0},
                "beyond": {"jobs": 4, "jobs_started": 3, "p95_s": 612_000.0},
            }
        },
    }
    assert guarantee_lines(tenancy) == [
        "openai: guarantee met in 8,760 of 8,760 h; 10 of 10 jobs inside the guarantee "
        "started, p95 wait 0.01 h; 3 of 4 jobs beyond it started, p95 wait 170.00 h."
    ]
    assert guarantee_lines({"guarantee_hours": {}}) == []


def _row(month: str, tenant: str, **figures: float) -> dict[str, object]:
    row: dict[str, object] = {"month": month, "tenant": tenant, "tier": None}
    row.update({k: 0.0 for k in tenancy_plots.LEDGER_FIGURES})
    row.update(figures)
    return row


def test_ledger_table_leaves_out_rows_whose_every_figure_is_zero():
    ledger = [
        _row("2027-01", "a", gpu_hours_guaranteed=5.0, bill_eur=10.0),
        _row("2027-01", "b"),  # no work this month
        _row("2027-01", "(idle)"),
        _row("2027-02", "a", energy_mwh=1.0),
        _row("2027-02", "(idle)", energy_mwh=0.5, energy_cost_eur=20.0),
    ]
    table = tenancy_plots.ledger_table({"ledger": ledger})
    assert [(r[0], r[1]) for r in table.rows] == [
        ("2027-01", "a"),
        ("2027-02", "a"),
        ("2027-02", "(idle)"),
    ]
    assert table.notes == ("2 row(s) whose every figure is 0 are left out.",)
    assert "(idle) carries the energy" in table.how_to_read
    empty = tenancy_plots.ledger_table({"ledger": [_row("2027-01", "(idle)")]})
    assert not empty.rows and "Every figure of the ledger is 0" in empty.empty
