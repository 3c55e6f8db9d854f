"""The index of estimated ends: EASY's shadow and booked GPUs, against a walk end by end."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from narvik.sched.ends import BUCKET_S, EstimatedEnds


def walk_shadow(
    ends: list[tuple[float, int]], now: float, avail: int, need: int
) -> tuple[float, int]:
    """EASY's shadow by hand: ends in time order (clamped to now), first at which the
    free GPUs reach ``need``; every end at or before it counts towards the spare GPUs."""
    events = sorted((max(e, now), g) for e, g in ends)
    acc, shadow = avail, math.inf
    for t, g in events:
        if t > shadow:
            break
        acc += g
        if shadow == math.inf and acc >= need:
            shadow = t
    return (shadow, acc - need) if shadow < math.inf else (math.inf, 0)


def test_shadow_by_hand() -> None:
    # 10 free; 30 end at 100 s, 20 at 2 h, 40 at 2 h + 1 s: a need of 55 is met at 2 h
    # (10 + 30 + 20 = 60, 5 to spare).
    ends = EstimatedEnds.of([(100.0, 30), (7200.0, 20), (7201.0, 40)])
    assert ends.shadow(0.0, 10, 55) == (7200.0, 5)
    # Ends already past count at now: from 8,000 s, all 90 are free now.
    assert ends.shadow(8000.0, 10, 55) == (8000.0, 45)
    # More than will ever be free: no shadow.
    assert ends.shadow(0.0, 10, 101) == (math.inf, 0)
    # A job started in the pass (ending at 1 h, 25 GPUs) meets it earlier.
    assert ends.shadow(0.0, 10, 55, [(3600.0, 25)]) == (3600.0, 10)


def test_add_and_drop_keep_buckets() -> None:
    ends = EstimatedEnds.of([(10.0, 8), (10.0, 4), (BUCKET_S * 5 + 1, 16)])
    assert ends.keys == [10.0, BUCKET_S * 5 + 1] and ends.gpus[10.0] == 12
    assert ends.bucket_keys == [0, 5] and ends.total_gpus == 28
    ends.drop(10.0, 12)
    assert ends.keys == [BUCKET_S * 5 + 1] and ends.bucket_keys == [5]
    assert ends.committed_after(BUCKET_S * 5) == 16
    assert ends.committed_after(BUCKET_S * 5 + 1) == 0


pairs = st.lists(
    st.tuples(st.floats(0, 40 * BUCKET_S).map(lambda x: round(x, 1)), st.integers(1, 512)),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    pairs,
    pairs.map(lambda p: p[:4]),
    st.floats(0, 20 * BUCKET_S).map(lambda x: round(x)),
    st.integers(0, 600),
    st.integers(1, 8000),
)
def test_shadow_matches_the_walk_end_by_end(
    running: list[tuple[float, int]],
    started: list[tuple[float, int]],
    now: float,
    avail: int,
    need: int,
) -> None:
    ends = EstimatedEnds.of(running)
    assert ends.shadow(now, avail, need, started) == walk_shadow(
        running + started, now, avail, need
    )


@settings(max_examples=200, deadline=None)
@given(pairs, st.floats(0, 40 * BUCKET_S))
def test_committed_after_matches_a_sum(running: list[tuple[float, int]], at: float) -> None:
    ends = EstimatedEnds.of(running)
    assert ends.committed_after(at) == sum(g for e, g in running if e > at)
