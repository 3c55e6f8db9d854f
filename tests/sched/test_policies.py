"""The pure policies on hand-made snapshots (no simulator involved)."""

from __future__ import annotations

import pytest

from narvik.sched.easy import EasyPolicy, easy_reservation
from narvik.sched.fcfs import FcfsPolicy
from narvik.sched.protocol import Policy, QueuedJob, RunningJob, Snapshot
from narvik.sched.registry import get_policy, policy_names


def snap(now: float, free: int, queue, running) -> Snapshot:  # type: ignore[no-untyped-def]
    return Snapshot(
        now, free, tuple(QueuedJob(*q) for q in queue), tuple(RunningJob(*r) for r in running)
    )


def test_registry() -> None:
    assert policy_names() == ["easy", "fcfs", "kueue", "narvik", "slurm"]
    assert isinstance(get_policy("easy"), Policy)
    with pytest.raises(ValueError, match="choose one of"):
        get_policy("sjf")


def test_fcfs_stops_at_first_misfit() -> None:
    s = snap(0, 4, [("a", 2, 10), ("b", 3, 1), ("c", 1, 1)], [])
    assert FcfsPolicy().decide(s).start == ("a",)


def test_easy_reservation_ties_and_clamp() -> None:
    running = [RunningJob("x", 6, 50), RunningJob("y", 2, 50), RunningJob("z", 2, 80)]
    assert easy_reservation(0, 8, 2, running) == (50, 2)
    # at 60 the estimates of x and y have passed: they count as ending now
    assert easy_reservation(60, 8, 2, running) == (60, 2)
    assert easy_reservation(0, 3, 4, running) == (0, 1)


def test_easy_decisions() -> None:
    # free 4 of 10; head b needs 8: shadow 100 (a: 6 GPUs), extra 2.
    s = snap(
        0,
        4,
        [("b", 8, 10), ("long2", 2, 500), ("long2b", 2, 500), ("short", 1, 50)],
        [("a", 6, 100)],
    )
    assert EasyPolicy().decide(s).start == ("long2", "short")
    # everything fits: pure queue order
    s = snap(0, 10, [("p", 5, 1), ("q", 5, 1)], [])
    assert EasyPolicy().decide(s).start == ("p", "q")
