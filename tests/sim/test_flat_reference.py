"""The fast replay against a slow, obviously-correct reference, and invariants, on random
traces (hypothesis) and on the archive traces in ../shared/data/traces when present.

The reference below is written from ARCHITECTURE.md ("Canonical baseline policies")
independently of narvik.sim.flat and narvik.sched: one loop over instants, lists
rebuilt every time, no caching.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narvik.sched.registry import get_policy
from narvik.sim.flat import FlatResult, simulate_flat
from narvik.sim.recorders import summarize
from narvik.workload.job import JobTable
from narvik.workload.swf import read_swf

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "traces"


def reference_replay(jobs: list[tuple[float, int, float, float | None]], n: int, policy: str):
    """jobs: (submit_s, gpus, runtime_s, requested_s or None) in trace order.

    Returns a list of start times (math.nan: never started / rejected).
    """
    order = sorted(range(len(jobs)), key=lambda k: (jobs[k][0], k))
    start = [math.nan] * len(jobs)

    def estimate(k: int) -> float:
        req = jobs[k][3]
        return req if req is not None and req > 0 else jobs[k][2]

    running: list[int] = []
    queue: list[int] = []
    pending = list(order)
    while pending or running:
        ends = [start[k] + jobs[k][2] for k in running]
        t = min(ends + ([jobs[pending[0]][0]] if pending else []))
        running = [k for k in running if start[k] + jobs[k][2] != t]  # ends first
        while pending and jobs[pending[0]][0] == t:  # then arrivals, trace order
            k = pending.pop(0)
            if jobs[k][1] <= n:
                queue.append(k)
        free = n - sum(jobs[k][1] for k in running)
        while queue and jobs[queue[0]][1] <= free:  # both policies: queue order first
            k = queue.pop(0)
            start[k] = t
            running.append(k)
            free -= jobs[k][1]
        if policy == "easy" and queue:
            head = queue[0]
            need = jobs[head][1]
            # shadow: earliest instant when free + GPUs of jobs ending (by clamped estimate)
            # by then >= need; extra counts all GPUs free then beyond need.
            times = sorted({max(start[k] + estimate(k), t) for k in running})
            for shadow in times:
                avail = free + sum(
                    jobs[k][1] for k in running if max(start[k] + estimate(k), t) <= shadow
                )
                if avail >= need:
                    break
            extra = avail - need
            for k in list(queue[1:]):
                g = jobs[k][1]
                if g > free:
                    continue
                if t + estimate(k) <= shadow:
                    pass
                elif g <= extra:
                    extra -= g
                else:
                    continue
                queue.remove(k)
                start[k] = t
                running.append(k)
                free -= g
    return start


def to_rows(jobs: JobTable) -> list[tuple[float, int, float, float | None]]:
    req = [None if math.isnan(r) else r for r in jobs.requested_s.tolist()]
    return list(
        zip(jobs.submit_s.tolist(), jobs.gpus.tolist(), jobs.runtime_s.tolist(), req, strict=True)
    )


def check_invariants(res: FlatResult) -> None:
    j = res.jobs
    n = res.n_gpus
    started = ~np.isnan(res.start_s)
    assert (res.gpus_busy <= n).all() and (res.gpus_busy >= 0).all()
    assert (res.start_s[started] >= j.submit_s[started]).all()
    done = ~np.isnan(res.end_s)
    # end - start == runtime (exactly: end is computed as start + runtime)
    np.testing.assert_array_equal(res.end_s[done], res.start_s[done] + j.runtime_s[done])
    names = res.state_names()
    assert len(names) == len(j) and set(names.tolist()) <= {
        "completed",
        "rejected",
        "pending",
        "running",
    }
    assert ((names == "rejected") == (j.gpus > n)).all()
    if res.until_s is None:
        assert ((names == "completed") == (j.gpus <= n)).all()
    # the series is the sum of the running jobs at every recorded instant
    ends = np.where(done, res.end_s, np.inf)
    starts_sorted = np.sort(res.start_s[started])
    for t, b in zip(res.t_s.tolist(), res.gpus_busy.tolist(), strict=True):
        on = started & (res.start_s <= t) & (ends > t)
        assert int(j.gpus[on].sum()) == b
    assert len(starts_sorted) == 0 or res.t_s[0] <= starts_sorted[0]
    # GPU-hours of the job table == integral of gpus_busy over the series
    if len(res.t_s):
        integral_s = float(np.sum(res.gpus_busy[:-1] * np.diff(res.t_s)))
        assert res.gpus_busy[-1] == 0 or res.until_s is not None
        assert summarize(res)["gpu_hours"] * 3600 == pytest.approx(integral_s, rel=1e-12, abs=1e-6)


job_rows = st.lists(
    st.tuples(
        st.integers(0, 60),
        st.integers(1, 9),
        st.integers(1, 40),
        st.one_of(st.none(), st.integers(-1, 60)),
    ),
    min_size=0,
    max_size=40,
)


def table(rows) -> JobTable:  # type: ignore[no-untyped-def]
    return JobTable.from_arrays(
        gpus=[r[1] for r in rows],
        submit_s=[float(r[0]) for r in rows],
        runtime_s=[float(r[2]) for r in rows],
        requested_s=[math.nan if r[3] is None else float(r[3]) for r in rows],
    )


@settings(max_examples=300, deadline=None)
@given(rows=job_rows, n=st.integers(1, 8), policy=st.sampled_from(["fcfs", "easy"]))
def test_fast_matches_reference(rows, n: int, policy: str) -> None:  # type: ignore[no-untyped-def]
    jobs = table(rows)
    res = simulate_flat(jobs, n, policy)
    expected = reference_replay(to_rows(jobs), n, policy)
    np.testing.assert_array_equal(res.start_s, np.array(expected, dtype=float))
    generic = simulate_flat(jobs, n, get_policy(policy))
    np.testing.assert_array_equal(generic.start_s, res.start_s)
    check_invariants(res)


@settings(max_examples=100, deadline=None)
@given(
    rows=job_rows,
    n=st.integers(1, 8),
    policy=st.sampled_from(["fcfs", "easy"]),
    until=st.integers(0, 80),
)
def test_invariants_with_horizon(rows, n: int, policy: str, until: int) -> None:  # type: ignore[no-untyped-def]
    res = simulate_flat(table(rows), n, policy, until_s=float(until))
    check_invariants(res)
    full = simulate_flat(table(rows), n, policy)
    kept = table(rows).submit_s <= until
    # cutting the replay does not change what happened before the cut
    np.testing.assert_array_equal(
        np.where(full.start_s[kept] <= until, full.start_s[kept], np.nan), res.start_s
    )


def test_fractional_times_match_reference() -> None:
    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(1, 16))
        m = int(rng.integers(1, 80))
        rows = [
            (
                float(np.round(rng.uniform(0, 100), 1)),
                int(rng.integers(1, n + 2)),
                float(np.round(rng.lognormal(2, 1), 2)),
                None if rng.random() < 0.2 else float(np.round(rng.uniform(0.5, 60), 1)),
            )
            for _ in range(m)
        ]
        for policy in ("fcfs", "easy"):
            res = simulate_flat(table(rows), n, policy)
            expected = reference_replay(to_rows(res.jobs), n, policy)
            np.testing.assert_array_equal(res.start_s, expected, err_msg=f"trial {trial}")
            check_invariants(res)


@pytest.mark.parametrize("name", ["KTH-SP2-1996-2.1-cln.swf.gz", "lublin_256.swf.gz"])
@pytest.mark.parametrize("policy", ["fcfs", "easy"])
def test_archive_traces_match_reference(name: str, policy: str) -> None:
    path = TRACES / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    trace = read_swf(path)
    n = trace.max_procs
    assert n is not None
    head = trace.jobs.take(np.arange(min(3000, len(trace.jobs))))
    res = simulate_flat(head, n, policy)
    expected = reference_replay(to_rows(head), n, policy)
    np.testing.assert_array_equal(res.start_s, np.array(expected, dtype=float))
    check_invariants(res)
    full = simulate_flat(trace.jobs, n, policy)  # the whole trace runs, invariants hold
    assert full.state_counts()["completed"] + full.state_counts()["rejected"] == len(trace.jobs)
