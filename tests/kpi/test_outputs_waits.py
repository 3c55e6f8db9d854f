"""round_waits: every wait figure of a summary to the millisecond, nothing else touched."""

from __future__ import annotations

import json
import math

from narvik.kpi.waits import WAIT_DECIMALS, names_wait_s, round_waits

NOISY = 614535.2500000001


def _summary() -> dict:
    return {
        "wait_s": {
            "mean": 823.8125,
            "p50": 0.0,
            "p95": 2616.049999999963,
            "by_tier": {"national": {"mean": NOISY, "p50": None, "p95": 342.2499999999976}},
        },
        "makespan_s": 172800.123456,
        "utilization": 0.2309167019117916,
        "jobs": {"completed": 7},
        "tenancy": {
            "wait_slo_by_tier": {
                "national": {
                    "jobs": 41,
                    "slo_attainment": 0.9189189189189189,
                    "slo_s": 3600.0,
                    "wait_mean_s": 900.5754321,
                    "wait_max_s": 1e-7,
                }
            },
            "waits_by_tenant": {"openai": {"p95_s": 12.34567, "jobs": 3, "share": 0.33333333}},
            "curtailments": [{"start_s": 28800.5555, "max_wait_s": 1.23456}],
            "power": {"max_it_power_mw": 0.0991234567},
        },
    }


def test_wait_figures_are_rounded_to_ms():
    out = round_waits(_summary())
    assert out["wait_s"]["mean"] == 823.812  # 823.8125 exactly: half to even
    assert out["wait_s"]["by_tier"]["national"]["mean"] == 614535.25
    assert out["wait_s"]["p95"] == 2616.05
    assert out["tenancy"]["wait_slo_by_tier"]["national"]["wait_mean_s"] == 900.575
    assert out["tenancy"]["wait_slo_by_tier"]["national"]["wait_max_s"] == 0.0
    assert out["tenancy"]["waits_by_tenant"]["openai"]["p95_s"] == 12.346
    assert out["tenancy"]["curtailments"][0]["max_wait_s"] == 1.235
    assert "0000001" not in json.dumps(out)


def test_rounded_waits_are_within_half_a_ms():
    before, after = _summary(), round_waits(_summary())
    pairs = [
        (
            before["wait_s"]["by_tier"]["national"]["p95"],
            after["wait_s"]["by_tier"]["national"]["p95"],
        ),
        (before["wait_s"]["mean"], after["wait_s"]["mean"]),
        (NOISY, after["wait_s"]["by_tier"]["national"]["mean"]),
    ]
    for raw, rounded in pairs:
        assert math.isclose(raw, rounded, abs_tol=0.5 * 10**-WAIT_DECIMALS)


def test_everything_else_is_left_alone():
    before, after = _summary(), round_waits(_summary())
    assert after["makespan_s"] == before["makespan_s"]
    assert after["utilization"] == before["utilization"]
    assert after["jobs"] == {"completed": 7}
    national = after["tenancy"]["wait_slo_by_tier"]["national"]
    assert national["jobs"] == 41 and type(national["jobs"]) is int
    assert national["slo_attainment"] == 0.9189189189189189
    assert after["tenancy"]["waits_by_tenant"]["openai"]["share"] == 0.33333333
    assert after["tenancy"]["curtailments"][0]["start_s"] == 28800.5555
    assert after["tenancy"]["power"] == before["tenancy"]["power"]
    assert after["wait_s"]["by_tier"]["national"]["p50"] is None


def test_the_input_is_not_changed():
    summary = _summary()
    round_waits(summary)
    assert summary == _summary()


def test_wait_keys():
    assert names_wait_s("wait_s") and names_wait_s("wait_p95_s") and names_wait_s("max_wait_s")
    assert not names_wait_s("makespan_s") and not names_wait_s("wait_slo_by_tier")
