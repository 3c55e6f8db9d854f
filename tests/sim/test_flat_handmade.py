"""Hand-worked fcfs and easy schedules on flat:N (the reasoning is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from narvik.sched.registry import get_policy
from narvik.sim.flat import simulate_flat
from narvik.workload.job import JobTable


def table(rows: list[tuple[float, int, float, float | None]]) -> JobTable:
    """rows: (submit_s, gpus, runtime_s, requested_s or None)."""
    return JobTable.from_arrays(
        gpus=[r[1] for r in rows],
        submit_s=[r[0] for r in rows],
        runtime_s=[r[2] for r in rows],
        requested_s=[math.nan if r[3] is None else r[3] for r in rows],
    )


def starts(rows, n: int, policy: str) -> list[float]:  # type: ignore[no-untyped-def]
    fast = simulate_flat(table(rows), n, policy)
    generic = simulate_flat(table(rows), n, get_policy(policy))
    np.testing.assert_array_equal(fast.start_s, generic.start_s)
    np.testing.assert_array_equal(fast.t_s, generic.t_s)
    np.testing.assert_array_equal(fast.gpus_busy, generic.gpus_busy)
    return [None if math.isnan(s) else s for s in fast.start_s.tolist()]


# N=4. A(0 s, 2 GPUs, 10 s) starts at 0, leaving 2 free. B(0, 4 GPUs, 5 s) does not fit.
# fcfs: C(1 s, 1 GPU, 1 s) waits behind B; A ends at 10, B runs 10-15, C starts at 15.
# easy: B's shadow time is A's end (10), extra = 2 + 2 - 4 = 0; C arrives at 1 and ends
# at 2 <= 10, so it backfills at 1.
BLOCKED_HEAD = [(0, 2, 10, None), (0, 4, 5, None), (1, 1, 1, None)]


def test_fcfs_blocks_behind_head() -> None:
    assert starts(BLOCKED_HEAD, 4, "fcfs") == [0, 10, 15]


def test_easy_backfills_short_job_behind_head() -> None:
    assert starts(BLOCKED_HEAD, 4, "easy") == [0, 10, 1]


# N=2. Trace order A(0, 2, 10), C(10, 2, 3), B(10, 1, 5). At 10 A's end is processed first
# (free 2), then the arrivals in trace order (C, then B), then one pass: C starts at 10,
# B waits for C's end at 13. Same for both policies (B cannot backfill: no free GPU).
SIMULTANEOUS = [(0, 2, 10, None), (10, 2, 3, None), (10, 1, 5, None)]


@pytest.mark.parametrize("policy", ["fcfs", "easy"])
def test_end_before_arrival_at_one_instant(policy: str) -> None:
    assert starts(SIMULTANEOUS, 2, policy) == [0, 10, 13]
    res = simulate_flat(table(SIMULTANEOUS), 2, policy)
    assert res.t_s.tolist() == [0, 10, 13, 18]
    assert res.gpus_busy.tolist() == [2, 2, 1, 0]


# N=4. X asks 5 GPUs: rejected on arrival, never queued; Y(0, 4, 3) starts at 0 and
# Z(1, 4, 1) starts at Y's end, 3.
OVERSIZE = [(0, 5, 10, None), (0, 4, 3, None), (1, 4, 1, None)]


@pytest.mark.parametrize("policy", ["fcfs", "easy"])
def test_oversize_job_rejected(policy: str) -> None:
    assert starts(OVERSIZE, 4, policy) == [None, 0, 3]
    res = simulate_flat(table(OVERSIZE), 4, policy)
    assert res.state_names().tolist() == ["rejected", "completed", "completed"]


# N=10. A(0, 6 GPUs, run 100, req 100) starts; B(0, 8, 50, req 50) is the head (free 4):
# shadow 100 (A's estimated end), extra = 4 + 6 - 8 = 2.
# C(0, 4, run 50, req 100): 0 + 100 <= 100, ends by the shadow time -> backfills at 0
# (free 0). D(0, 1, 10, req 10): no free GPU.
# At 50 C ends (free 4): shadow still 100, D ends at 60 <= 100 -> starts at 50.
# At 100 A ends -> B starts.  fcfs instead: B at 100, C and D at B's end, 150.
ENDS_BY_SHADOW = [(0, 6, 100, 100), (0, 8, 50, 50), (0, 4, 50, 100), (0, 1, 10, 10)]


def test_easy_backfill_ending_by_shadow_time() -> None:
    assert starts(ENDS_BY_SHADOW, 10, "easy") == [0, 100, 0, 50]


def test_fcfs_same_trace() -> None:
    assert starts(ENDS_BY_SHADOW, 10, "fcfs") == [0, 100, 150, 150]


# N=10. A(0, 6, 100, req 100); head B(0, 8, 10, req 10): shadow 100, extra 2.
# C(0, 2, 500, req 500) ends after the shadow time but needs only the extra 2 -> starts
# at 0, extra becomes 0 (free 2). D(0, 2, 500, req 500) fits in the free GPUs but would
# delay B (extra is 0, ends after 100) -> must NOT backfill.
# E(0, 1, 50, req 50) ends at 50 <= 100 -> starts at 0. At 50 E ends (free 2): shadow
# 100 with A (6) -> avail 8, extra 0: D still may not start. At 100 A ends -> B starts;
# at 110 B ends -> D starts.
EXTRA_GPUS = [(0, 6, 100, 100), (0, 8, 10, 10), (0, 2, 500, 500), (0, 2, 500, 500), (0, 1, 50, 50)]


def test_easy_backfill_on_extra_gpus_and_no_delay_of_head() -> None:
    assert starts(EXTRA_GPUS, 10, "easy") == [0, 100, 0, 110, 0]


# N=10. A1(0, 6, run 100, req 20) and A2(0, 2, run 100, req 25) underestimate.
# Head B(0, 8, 10): free 2, shadow 20 (A1), extra 2 + 6 - 8 = 0.
# At 30 E(30, 2, run 10, req 1000) arrives. Both estimates have passed, so A1 and A2
# count as ending now: shadow = 30, avail = 2 + 6 + 2 = 10, extra 2 -> E starts at 30
# on the extra GPUs (it does not end by the shadow time). Neither A is killed: they
# end at 100, then B starts. fcfs: B at 100, E with it at 100 (8 + 2 = 10).
OVERRUN = [(0, 6, 100, 20), (0, 2, 100, 25), (0, 8, 10, 10), (30, 2, 10, 1000)]


def test_easy_overrunning_estimates_count_as_ending_now() -> None:
    assert starts(OVERRUN, 10, "easy") == [0, 0, 100, 30]


def test_fcfs_overrun_trace() -> None:
    assert starts(OVERRUN, 10, "fcfs") == [0, 0, 100, 100]


# N=10. A1(0, 6, 50, req 50) and A2(0, 2, 50, req 50) end together. Head B(0, 8, 10):
# free 2; at the shadow time 50 both A1 and A2 are free, so extra = 2 + 6 + 2 - 8 = 2
# (a walk that stopped at A1, where 8 are reached, would find 0). C(0, 2, 100, req 100)
# ends after 50 but fits in the extra -> starts at 0. At 50 B starts.
TIE_AT_SHADOW = [(0, 6, 50, 50), (0, 2, 50, 50), (0, 8, 10, 10), (0, 2, 100, 100)]


def test_easy_extra_counts_every_job_ending_at_shadow_time() -> None:
    assert starts(TIE_AT_SHADOW, 10, "easy") == [0, 0, 50, 0]


def test_job_is_never_killed_at_its_estimate() -> None:
    res = simulate_flat(table(OVERRUN), 10, "easy")
    np.testing.assert_array_equal(res.end_s - res.start_s, [100, 100, 10, 10])


def test_until_cuts_the_replay() -> None:
    res = simulate_flat(table(ENDS_BY_SHADOW), 10, "easy", until_s=75)
    assert res.state_names().tolist() == ["running", "pending", "completed", "completed"]
    assert math.isnan(res.end_s[0]) and res.t_s[-1] == 75 and res.gpus_busy[-1] == 6
