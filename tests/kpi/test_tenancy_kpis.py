import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narvik.kpi import tenancy_kpis as tk
from narvik.workload.tenancy import Tenancy

DAY_S = 86400.0
HOUR_S = 3600.0
JAN_2026_S = 31 * DAY_S  # seconds from 2026-01-01 to 2026-02-01


def _tenancy() -> Tenancy:
    return Tenancy.model_validate(
        {
            "tiers": [
                {"name": "anchor", "priority": 0, "start_slo_s": 3600.0},
                {"name": "national", "priority": 1, "start_slo_s": 600.0},
                {"name": "surplus", "priority": 2, "may_hold_quota": False},
            ],
            "tenants": [
                {
                    "name": "openai",
                    "tier": "anchor",
                    "jurisdiction": "US",
                    "quota": [{"start": dt.date(2026, 1, 1), "gpus": 8}],
                    "price_eur_per_gpu_hour": 2.0,
                    "borrowed_price_eur_per_gpu_hour": 3.0,
                },
                {
                    "name": "sintef",
                    "tier": "national",
                    "jurisdiction": "NO",
                    "quota": [{"start": dt.date(2026, 1, 1), "gpus": 2}],
                    "price_eur_per_gpu_hour": 1.0,
                },
                {
                    "name": "uk-lab",
                    "tier": "surplus",
                    "jurisdiction": "GB",
                    "price_eur_per_gpu_hour": 4.0,
                },
            ],
        }
    )


# --------------------------------------------------------------------------- months


def test_month_edges_cover_the_span_from_the_start_month():
    labels, edges = tk.month_edges_s(dt.date(2026, 1, 15), 30 * DAY_S)
    assert labels == ["2026-01", "2026-02"]
    assert edges.tolist() == [0.0, 17 * DAY_S, 30 * DAY_S]
    # a span ending exactly at a month boundary does not open the next month
    labels, edges = tk.month_edges_s(dt.date(2026, 1, 1), JAN_2026_S)
    assert labels == ["2026-01"]
    # a year from 2026-01-01, and the December -> January roll-over
    labels, _ = tk.month_edges_s(dt.date(2026, 1, 1), 365 * DAY_S)
    assert len(labels) == 12 and labels[-1] == "2026-12"
    labels, _ = tk.month_edges_s(dt.date(2026, 12, 31), 2 * DAY_S)
    assert labels == ["2026-12", "2027-01"]


def test_a_segment_across_a_month_boundary_is_split_exactly():
    # 4 GPUs from 2026-01-31 12:00 to 2026-03-01 06:00: 12 h in January, all of
    # February (28 days), 6 h in March.
    start = JAN_2026_S - 12 * HOUR_S
    end = JAN_2026_S + 28 * DAY_S + 6 * HOUR_S
    labels, gs = tk.gpu_seconds_by_month(
        [start, 0.0], [end, HOUR_S], [4, 1], [0, 1], 2, dt.date(2026, 1, 1), 90 * DAY_S
    )
    assert labels == ["2026-01", "2026-02", "2026-03"]
    assert gs[:, 0] == pytest.approx([4 * 12 * HOUR_S, 4 * 28 * DAY_S, 4 * 6 * HOUR_S])
    assert gs[:, 1] == pytest.approx([HOUR_S, 0.0, 0.0])


def test_still_running_segments_are_capped_at_the_span_end_and_never_run_ones_count_zero():
    span = JAN_2026_S + 10 * DAY_S
    _, gs = tk.gpu_seconds_by_month(
        [JAN_2026_S - DAY_S, np.nan, 5 * DAY_S],
        [np.nan, np.nan, 5 * DAY_S],  # still running; never ran; zero length
        [2, 100, 7],
        [0, 0, 0],
        1,
        dt.date(2026, 1, 1),
        span,
    )
    assert gs[:, 0] == pytest.approx([2 * DAY_S, 2 * 10 * DAY_S])


def test_a_segment_ending_on_a_boundary_stays_in_its_month():
    _, gs = tk.gpu_seconds_by_month(
        [JAN_2026_S - DAY_S, JAN_2026_S],
        [JAN_2026_S, JAN_2026_S + DAY_S],
        [1, 3],
        [0, 0],
        1,
        dt.date(2026, 1, 1),
        60 * DAY_S,
    )
    assert gs[:, 0] == pytest.approx([DAY_S, 3 * DAY_S, 0.0])


def test_group_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="group"):
        tk.gpu_seconds_by_month([0.0], [1.0], [1], [2], 2, dt.date(2026, 1, 1), 10.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 400 * DAY_S),
            st.floats(0, 400 * DAY_S),
            st.integers(1, 72),
            st.integers(0, 2),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    ),
    st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)),
    st.floats(DAY_S, 400 * DAY_S),
)
def test_month_split_conserves_gpu_seconds(segs, start_date, span):
    a = np.array([s[0] for s in segs])
    b = np.array([s[1] for s in segs])
    start, end = np.minimum(a, b), np.maximum(a, b)
    end = np.where([s[4] for s in segs], np.nan, end)
    gpus = np.array([s[2] for s in segs])
    grp = np.array([s[3] for s in segs])
    _, gs = tk.gpu_seconds_by_month(start, end, gpus, grp, 3, start_date, span)
    assert np.all(gs >= -1e-6)
    e = np.minimum(np.where(np.isnan(end), span, end), span)
    s = np.minimum(start, span)
    for k in range(3):
        expect = float(np.sum(((e - s) * gpus)[grp == k]))
        assert gs[:, k].sum() == pytest.approx(expect, rel=1e-9, abs=1e-3)


# --------------------------------------------------------------------------- ledger


def _ledger_case(price: bool = True):
    tenancy = _tenancy()
    # two days spanning the January/February boundary, hourly steps
    start_date = dt.date(2026, 1, 31)
    span = 2 * DAY_S
    seg = {
        "tenant": np.array(["openai", "openai", "sintef", "uk-lab"], dtype=object),
        "start": np.array([0.0, 20 * HOUR_S, 2 * HOUR_S, 30 * HOUR_S]),
        "end": np.array([10 * HOUR_S, np.nan, 3.5 * HOUR_S, 40 * HOUR_S]),
        "gpus": np.array([8, 2, 2, 4]),
        "borrowed": np.array([False, True, False, True]),
    }
    t = np.arange(48) * HOUR_S
    power = np.full(48, 2.0e6)  # 2 MW -> 2 MWh per hourly step
    prices = np.where(t < DAY_S, 10.0, 20.0) if price else None
    rows = tk.monthly_ledger(
        tenancy,
        seg["tenant"],
        seg["start"],
        seg["end"],
        seg["gpus"],
        seg["borrowed"],
        start_date,
        span,
        t,
        HOUR_S,
        power,
        prices,
    )
    return tenancy, seg, rows


def _row(rows, month, tenant):
    (r,) = [r for r in rows if r["month"] == month and r["tenant"] == tenant]
    return r


def test_ledger_gpu_hours_and_bills_by_hand():
    _, seg, rows = _ledger_case()
    assert [(r["month"], r["tenant"]) for r in rows] == [
        ("2026-01", "openai"),
        ("2026-01", "sintef"),
        ("2026-01", "uk-lab"),
        ("2026-01", tk.IDLE_TENANT),
        ("2026-02", "openai"),
        ("2026-02", "sintef"),
        ("2026-02", "uk-lab"),
        ("2026-02", tk.IDLE_TENANT),
    ]
    jan_openai = _row(rows, "2026-01", "openai")
    # 8 GPUs x 10 h guaranteed; 2 GPUs x 4 h borrowed (20:00-24:00)
    assert jan_openai["gpu_hours_guaranteed"] == pytest.approx(80.0)
    assert jan_openai["gpu_hours_borrowed"] == pytest.approx(8.0)
    assert jan_openai["gpu_hours"] == pytest.approx(88.0)
    assert jan_openai["bill_eur"] == pytest.approx(80 * 2.0 + 8 * 3.0)
    assert jan_openai["tier"] == "anchor" and jan_openai["jurisdiction"] == "US"
    feb_openai = _row(rows, "2026-02", "openai")  # still running: capped at 48 h
    assert feb_openai["gpu_hours_borrowed"] == pytest.approx(2 * 24.0)
    assert feb_openai["bill_eur"] == pytest.approx(48 * 3.0)
    sintef = _row(rows, "2026-01", "sintef")  # no borrowed price: guaranteed price
    assert sintef["gpu_hours"] == pytest.approx(3.0)
    assert sintef["bill_eur"] == pytest.approx(3.0)
    uk = _row(rows, "2026-02", "uk-lab")  # 30 h..40 h is 06:00-16:00 on 1 February
    assert uk["gpu_hours_borrowed"] == pytest.approx(40.0)
    assert uk["bill_eur"] == pytest.approx(160.0)
    total = sum(r["gpu_hours"] for r in rows)
    expect = (8 * 10 + 2 * 28 + 2 * 1.5 + 4 * 10) * 1.0
    assert total == pytest.approx(expect)


def test_ledger_energy_attribution_by_hand_and_conserved():
    _, _, rows = _ledger_case()
    # January (24 steps x 2 MWh = 48 MWh): hours 0-1 and 3-10 openai alone (10 steps);
    # hour 2: openai 8 GPU-h, sintef 2 -> 0.8/0.2 split; hour 3 half: openai 8, sintef 1
    # hours 10-20 idle (10 steps); 20-24 openai (4 steps).
    jan_openai = _row(rows, "2026-01", "openai")["energy_mwh"]
    jan_sintef = _row(rows, "2026-01", "sintef")["energy_mwh"]
    jan_idle = _row(rows, "2026-01", tk.IDLE_TENANT)["energy_mwh"]
    assert jan_sintef == pytest.approx(2 * (2 / 10) + 2 * (1 / 9))
    assert jan_idle == pytest.approx(20.0)
    assert jan_openai + jan_sintef + jan_idle == pytest.approx(48.0)
    # February: openai 2 GPUs all day, uk-lab 4 GPUs 06:00-16:00
    feb_uk = _row(rows, "2026-02", "uk-lab")["energy_mwh"]
    assert feb_uk == pytest.approx(10 * 2.0 * 4 / 6)
    assert _row(rows, "2026-02", tk.IDLE_TENANT)["energy_mwh"] == 0.0
    total = sum(r["energy_mwh"] for r in rows)
    assert total == pytest.approx(48 * 2.0e6 * HOUR_S / 3.6e9)
    # prices: 10 EUR/MWh in January, 20 in February
    jan_cost = sum(r["energy_cost_eur"] for r in rows if r["month"] == "2026-01")
    feb_cost = sum(r["energy_cost_eur"] for r in rows if r["month"] == "2026-02")
    assert jan_cost == pytest.approx(48 * 10.0)
    assert feb_cost == pytest.approx(48 * 20.0)
    assert _row(rows, "2026-02", "uk-lab")["energy_cost_eur"] == pytest.approx(feb_uk * 20.0)


def test_ledger_last_step_is_cut_at_the_span_end_and_tenant_indices_work():
    tenancy = _tenancy()
    rows = tk.monthly_ledger(
        tenancy,
        np.array([1]),
        [0.0],
        [np.nan],
        [2],
        [False],
        dt.date(2026, 1, 1),
        1.5 * HOUR_S,
        np.array([0.0, HOUR_S]),
        HOUR_S,
        np.array([1.0e6, 1.0e6]),
        None,
    )
    assert sum(r["energy_mwh"] for r in rows) == pytest.approx(1.5)
    assert _row(rows, "2026-01", "sintef")["energy_mwh"] == pytest.approx(1.5)
    assert _row(rows, "2026-01", "sintef")["gpu_hours"] == pytest.approx(3.0)
    assert all(r["energy_cost_eur"] is None for r in rows)


def test_ledger_rejects_unknown_tenants():
    with pytest.raises(ValueError, match="nobody"):
        tk.monthly_ledger(
            _tenancy(),
            np.array(["nobody"], dtype=object),
            [0.0],
            [1.0],
            [1],
            [False],
            dt.date(2026, 1, 1),
            HOUR_S,
            np.array([0.0]),
            HOUR_S,
            np.array([1.0]),
        )


def test_owners_split_fifty_fifty_adds_up():
    tenancy, _, rows = _ledger_case()
    split = tk.owners_split(rows, tenancy.owners)
    assert [m["month"] for m in split] == ["2026-01", "2026-02"]
    for m in split:
        month_rows = [r for r in rows if r["month"] == m["month"]]
        assert m["revenue_eur"] == pytest.approx(sum(r["bill_eur"] for r in month_rows))
        assert m["margin_eur"] == pytest.approx(m["revenue_eur"] - m["energy_cost_eur"])
        owners = m["owners"]
        assert set(owners) == {"Nscale", "Aker"}
        assert sum(o["revenue_eur"] for o in owners.values()) == pytest.approx(m["revenue_eur"])
        assert sum(o["margin_eur"] for o in owners.values()) == pytest.approx(m["margin_eur"])
        assert owners["Nscale"]["revenue_eur"] == pytest.approx(owners["Aker"]["revenue_eur"])
    jan = split[0]
    assert jan["revenue_eur"] == pytest.approx(184.0 + 3.0)
    assert jan["energy_cost_eur"] == pytest.approx(480.0)


def test_owners_split_without_prices_and_with_bad_shares():
    _, _, rows = _ledger_case(price=False)
    split = tk.owners_split(rows, (("A", 0.7), ("B", 0.3)))
    assert split[0]["energy_cost_eur"] is None and split[0]["margin_eur"] is None
    assert split[0]["owners"]["A"]["revenue_eur"] == pytest.approx(0.7 * split[0]["revenue_eur"])
    with pytest.raises(ValueError, match="add up to 1"):
        tk.owners_split(rows, (("A", 0.7), ("B", 0.7)))


# --------------------------------------------------------------------------- fairness


def test_jain_index_hand_values():
    assert tk.jain_index([1, 1, 1, 1]) == pytest.approx(1.0)
    assert tk.jain_index([1, 0, 0, 0]) == pytest.approx(0.25)
    assert tk.jain_index([1, 2]) == pytest.approx(9 / 10)
    assert tk.jain_index([]) == 1.0
    assert tk.jain_index([0, 0, 0]) == 1.0
    with pytest.raises(ValueError):
        tk.jain_index([1, -1])


@given(st.lists(st.floats(0, 1e12, allow_subnormal=False), min_size=1, max_size=50))
def test_jain_index_lies_between_one_over_n_and_one(x):
    j = tk.jain_index(x)
    assert 1 / len(x) - 1e-12 <= j <= 1.0


def test_fairness_by_tier_against_weighted_fair_shares():
    tier_of = {"a": "t1", "b": "t1", "c": "t2", "d": "t2", "e": "t3", "f": "t2"}
    demand = {"a": 100.0, "b": 100.0, "c": 100.0, "d": 100.0, "e": 50.0, "f": 0.0}
    weight = {"a": 1.0, "b": 3.0}
    # t1: 80 h served; weighted fair shares 20/60 -> served exactly that -> 1.0
    # t2: 100 h served, all to c; fair 50/50 -> x = (2, 0) -> 0.5; f has no demand
    served = {"a": 20.0, "b": 60.0, "c": 100.0, "d": 0.0, "e": 10.0}
    out = tk.fairness_by_tier(tier_of, served, demand, weight)
    assert out == pytest.approx({"t1": 1.0, "t2": 0.5, "t3": 1.0})
    # demand caps: a wants only 10, so b's fair share of 80 is 70
    demand["a"] = 10.0
    served.update({"a": 10.0, "b": 70.0})
    assert tk.fairness_by_tier(tier_of, served, demand, weight)["t1"] == pytest.approx(1.0)
    served.update({"a": 0.0, "b": 80.0})  # x = (0, 80/70)
    assert tk.fairness_by_tier(tier_of, served, demand, weight)["t1"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- waits and SLOs


def test_wait_and_slo_by_tier_by_hand():
    span = 10_000.0
    tier = np.array(["national"] * 5 + ["surplus"] * 2, dtype=object)
    submit = np.array([0.0, 100.0, 200.0, 1000.0, 9800.0, 0.0, 50.0])
    start = np.array([300.0, 1000.0, 250.0, np.nan, np.nan, 4000.0, np.nan])
    fits = np.array([True, True, False, True, True, False, False])
    out = tk.wait_and_slo_by_tier(
        tier, submit, start, fits, {"anchor": 3600.0, "national": 600.0, "surplus": None}, span
    )
    nat = out["national"]
    assert nat["jobs"] == 5 and nat["jobs_started"] == 3
    assert nat["wait_p50_s"] == pytest.approx(300.0)
    assert nat["wait_mean_s"] == pytest.approx((300 + 900 + 50) / 3)
    assert nat["wait_p95_s"] == pytest.approx(np.percentile([300, 900, 50], 95))
    # in scope: job 0 (met), job 1 (900 s > 600 s: missed), job 3 (never started,
    # 1000 + 600 <= span: missed); job 2 did not fit; job 4's deadline is past the span
    assert nat["jobs_in_slo_scope"] == 3 and nat["slo_met"] == 1
    assert nat["slo_attainment"] == pytest.approx(1 / 3)
    sur = out["surplus"]
    assert sur["slo_s"] is None and sur["slo_attainment"] is None
    assert sur["wait_p50_s"] == pytest.approx(4000.0)
    anchor = out["anchor"]
    assert anchor["jobs"] == 0 and anchor["wait_p50_s"] is None
    assert anchor["slo_attainment"] is None


# --------------------------------------------------------------------------- preemption


def test_preemption_summary_by_hand():
    out = tk.preemption_summary(
        np.array(["b", "a", "a", "b"], dtype=object),
        np.array([0, 2, 1, 3]),
        np.array([0.0, 7200.0, 3600.0, 36000.0]),
    )
    assert list(out) == ["a", "b", tk.TOTAL_KEY]
    assert out["a"] == {"preemptions": 3, "jobs_preempted": 2, "gpu_hours_lost": 3.0}
    assert out["b"] == {"preemptions": 3, "jobs_preempted": 1, "gpu_hours_lost": 10.0}
    assert out[tk.TOTAL_KEY] == {"preemptions": 6, "jobs_preempted": 3, "gpu_hours_lost": 13.0}


# --------------------------------------------------------------------------- curtailments


def test_curtailment_table_and_count():
    outcomes = [
        SimpleNamespace(
            start_s=3600.0,
            deadline_s=900.0,
            end_s=3 * 3600.0,
            shed_w=20e6,
            met=True,
            max_excess_w=0.0,
            min_gpu_cap_fraction=0.7,
            preempted_jobs=4,
        ),
        {
            "start_s": 0.0,
            "deadline_s": 0.0,
            "end_s": 1800.0,
            "shed_w": 5e6,
            "met": False,
            "max_excess_w": 1.5e6,
            "min_gpu_cap_fraction": 0.6,
            "preempted_jobs": 0,
        },
    ]
    rows = tk.curtailment_table(outcomes, dt.date(2026, 1, 1))
    assert rows[0]["shed_mw"] == pytest.approx(20.0)
    assert rows[0]["duration_h"] == pytest.approx(2.0)
    assert rows[0]["start_utc"] == "2026-01-01T01:00:00+00:00"
    assert rows[1]["max_excess_mw"] == pytest.approx(1.5)
    assert rows[1]["met"] is False and rows[1]["preempted_jobs"] == 0
    assert "start_utc" not in tk.curtailment_table(outcomes)[0]
    assert tk.curtailments_met(outcomes) == (1, 2)
    assert tk.curtailments_met([]) == (0, 0)


def test_ledger_scales_to_a_million_segments():
    rng = np.random.default_rng(7)
    n, n_t = 1_000_000, 10
    span = 365 * DAY_S
    start = rng.uniform(0, span, n)
    end = start + rng.exponential(6 * HOUR_S, n)
    end[rng.random(n) < 0.01] = np.nan
    tenancy = Tenancy.model_validate(
        {
            "tiers": [{"name": "t", "priority": 0}],
            "tenants": [
                {"name": f"x{i}", "tier": "t", "jurisdiction": "NO", "price_eur_per_gpu_hour": 1}
                for i in range(n_t)
            ],
        }
    )
    tenant = rng.integers(0, n_t, n)
    gpus = rng.integers(1, 73, n)
    t = np.arange(8760) * HOUR_S
    power = rng.uniform(1e8, 2e8, 8760)
    rows = tk.monthly_ledger(
        tenancy,
        tenant,
        start,
        end,
        gpus,
        rng.random(n) < 0.3,
        dt.date(2026, 1, 1),
        span,
        t,
        HOUR_S,
        power,
        np.full(8760, 30.0),
    )
    e = np.minimum(np.where(np.isnan(end), span, end), span)
    assert sum(r["gpu_hours"] for r in rows) == pytest.approx(
        float(np.sum((e - start) * gpus)) / HOUR_S, rel=1e-9
    )
    assert sum(r["energy_mwh"] for r in rows) == pytest.approx(
        float(power.sum()) * HOUR_S / 3.6e9, rel=1e-9
    )
    assert math.isclose(sum(r["bill_eur"] for r in rows), sum(r["gpu_hours"] for r in rows))
