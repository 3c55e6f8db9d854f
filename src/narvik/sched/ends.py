"""Estimated ends of running jobs, indexed for EASY's shadow time and for bookings.

A pool at full scale runs thousands of jobs whose estimated ends spread over weeks.
EASY's shadow time (Mu'alem and Feitelson 2001) is the first end at which enough GPUs
are free for the head job; walking every end one by one costs a pass thousands of
steps. :class:`EstimatedEnds` keeps, beside the sorted distinct ends and the GPUs
ending at each, the GPUs ending in each hour (``BUCKET_S``), so a walk skips whole
hours and only steps end by end inside the hour where the head's need is met. The
answer is the same as the end-by-end walk (tests check both on random pools).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", int, float)

BUCKET_S = 3600.0
"""Width of a bucket of ends, s."""


def bucket(end_s: float) -> int:
    """Index of the bucket an estimated end falls in (monotone in ``end_s``)."""
    return int(end_s // BUCKET_S)


class EstimatedEnds:
    """Sorted distinct estimated ends with the GPUs ending at each, and per bucket."""

    __slots__ = ("keys", "gpus", "bucket_keys", "bucket_gpus", "total_gpus")

    def __init__(self) -> None:
        self.keys: list[float] = []
        """Sorted distinct estimated ends."""
        self.gpus: dict[float, int] = {}
        """GPUs of running jobs ending at each estimated end."""
        self.bucket_keys: list[int] = []
        self.bucket_gpus: dict[int, int] = {}
        self.total_gpus = 0

    @classmethod
    def of(cls, ends: Iterable[tuple[float, int]]) -> EstimatedEnds:
        """An index of (estimated end, GPUs) pairs."""
        out = cls()
        for e, g in ends:
            out.add(e, g)
        return out

    def add(self, end_s: float, gpus: int) -> None:
        _add_at(self.keys, self.gpus, end_s, gpus)
        _add_at(self.bucket_keys, self.bucket_gpus, bucket(end_s), gpus)
        self.total_gpus += gpus

    def drop(self, end_s: float, gpus: int) -> None:
        _drop_at(self.keys, self.gpus, end_s, gpus)
        _drop_at(self.bucket_keys, self.bucket_gpus, bucket(end_s), gpus)
        self.total_gpus -= gpus

    def committed_after(self, start_s: float) -> int:
        """GPUs of running jobs whose estimated end falls after ``start_s``."""
        b = bucket(start_s)
        later = self.bucket_keys[bisect_right(self.bucket_keys, b) :]
        got = sum(self.bucket_gpus[k] for k in later)
        keys = self.keys
        i = bisect_right(keys, start_s)
        while i < len(keys) and bucket(keys[i]) == b:
            got += self.gpus[keys[i]]
            i += 1
        return got

    def shadow(
        self, now_s: float, avail: int, need: int, started: Sequence[tuple[float, int]] = ()
    ) -> tuple[float, int]:
        """EASY: earliest estimated time ``need`` GPUs are free, and the GPUs to spare then.

        ``avail`` GPUs are free now; running jobs free theirs at their estimated end (at
        ``now_s`` once it has passed), and so do the ``started`` ones, (estimated end,
        GPUs), started earlier in the same pass. The shadow is the first end at which
        the free GPUs reach ``need``; every job ending by then counts towards the spare
        GPUs. ``(inf, 0)`` when they never do."""
        extra = sorted(started)
        if avail + self.total_gpus + sum(g for _, g in extra) < need:
            return math.inf, 0
        # Whole buckets while the need is not met, then end by end from that bucket.
        first = self._crossing(avail, need, extra)
        if first is None:
            return math.inf, 0
        acc, b = first
        i = bisect_left(self.keys, b, key=bucket)
        k = bisect_left(extra, b, key=lambda x: bucket(x[0]))
        return _merge_walk(self.keys, self.gpus, extra, i, k, now_s, acc, need)

    def _crossing(
        self, avail: int, need: int, extra: list[tuple[float, int]]
    ) -> tuple[int, int] | None:
        """(GPUs free before the bucket in which ``need`` is reached, that bucket)."""
        acc = avail
        xb: list[list[int]] = []  # [bucket, GPUs] of the ends started in the pass
        for e, g in extra:
            xbk = bucket(e)
            if xb and xb[-1][0] == xbk:
                xb[-1][1] += g
            else:
                xb.append([xbk, g])
        k, m = 0, len(xb)
        at = self.bucket_gpus
        for b in self.bucket_keys:
            while k < m and xb[k][0] < b:  # buckets holding only ends started in the pass
                if acc + xb[k][1] >= need:
                    return acc, xb[k][0]
                acc += xb[k][1]
                k += 1
            g = at[b]
            if k < m and xb[k][0] == b:
                g += xb[k][1]
                k += 1
            if acc + g >= need:
                return acc, b
            acc += g
        for xbk, g in xb[k:]:
            if acc + g >= need:
                return acc, xbk
            acc += g
        return None


def _add_at(keys: list[K], at: dict[K, int], key: K, gpus: int) -> None:
    """``gpus`` more at ``key`` (a new key goes into the sorted ``keys``)."""
    if key in at:
        at[key] += gpus
    else:
        at[key] = gpus
        insort(keys, key)


def _drop_at(keys: list[K], at: dict[K, int], key: K, gpus: int) -> None:
    """``gpus`` fewer at ``key`` (the key leaves ``keys`` when none are left)."""
    left = at[key] - gpus
    if left:
        at[key] = left
    else:
        del at[key]
        del keys[bisect_left(keys, key)]


def _merge_walk(
    keys: list[float],
    at: dict[float, int],
    extra: list[tuple[float, int]],
    i: int,
    k: int,
    now: float,
    acc: int,
    need: int,
) -> tuple[float, int]:
    """The end-by-end walk over the two sorted lists of ends, from positions ``i``, ``k``."""
    n, m = len(keys), len(extra)
    shadow = math.inf
    while True:
        if i < n and (k >= m or keys[i] <= extra[k][0]):
            end = keys[i]
            gpus = at[end]
            i += 1
        elif k < m:
            end, gpus = extra[k]
            k += 1
        else:
            break
        t = end if end > now else now
        if t > shadow:
            break
        acc += gpus
        if shadow == math.inf and acc >= need:
            shadow = t
    if shadow == math.inf:
        return math.inf, 0
    return shadow, acc - need
