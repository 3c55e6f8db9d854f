"""The ``slurm`` emulation's backfill availability profile: GPUs free over time, pool-wide.

Slurm's backfill scheduler (sched/backfill; https://slurm.schedmd.com/sched_config.html#backfill
and the ``bf_*`` parameters of slurm.conf(5)) walks the pending jobs in priority order, at
most ``bf_max_job_test`` of them, over a map of the resources free in the future built
from the running jobs' expected ends (their time limits). Every job it tests that cannot
start now gets a reservation at its earliest start within ``bf_window``, and a later job
starts now only if it does not delay any of those reservations: unlike EASY's single
reservation, every blocked job tested is protected (conservative-like).

:class:`Profile` is that map, simplified: the GPUs free pool-wide (not per hall) in each
``bf_resolution`` slot of the window, as one numpy array. A slot counts the GPUs free for
its whole length: a job ending inside a slot frees its GPUs from the next one (a running
job whose estimate has passed frees them now). A job's own run is checked in the slots of
the window it overlaps; past the window's end nothing is known, so nothing is checked
(as in Slurm, whose map ends with the window).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from narvik.sched.ends import EstimatedEnds


class Profile:
    """GPUs free in each ``resolution_s`` slot of ``[now, now + window_s)``."""

    def __init__(
        self,
        now_s: float,
        free_now: int,
        ends: EstimatedEnds,
        started: Iterable[tuple[float, int]],
        *,
        window_s: float,
        resolution_s: float,
        upcoming: Iterable[tuple[float, int]] = (),
    ) -> None:
        self.now_s = now_s
        self.res = max(resolution_s, 1.0)
        self.n = max(1, math.ceil(window_s / self.res))
        horizon = now_s + self.n * self.res
        keys = ends.keys
        hi = bisect_right(keys, horizon)
        at = np.array(keys[:hi], dtype=np.float64)
        gpus = np.array([ends.gpus[k] for k in keys[:hi]], dtype=np.int64)
        more = [(e, g) for e, g in started if e <= horizon]
        if more:
            at = np.concatenate([at, np.array([e for e, _ in more], dtype=np.float64)])
            gpus = np.concatenate([gpus, np.array([g for _, g in more], dtype=np.int64)])
        step = np.zeros(self.n + 1, dtype=np.int64)
        np.add.at(step, self.slot_of(at), gpus)
        for start_s, g in upcoming:  # booked GPUs are nobody's from the booking's start
            k = int(self.slot_of(np.array([start_s]))[0])
            if k < self.n:
                step[k] -= g
        self.free: NDArray[np.int64] = free_now + np.cumsum(step[: self.n])
        """GPUs free in each slot (may go negative once bookings and reservations count)."""
        self._pm: NDArray[np.int64] | None = None
        self._sm: NDArray[np.int64] | None = None

    def slot_of(self, t_s: NDArray[np.float64]) -> NDArray[np.int64]:
        """The first slot in which GPUs freed at ``t_s`` are free for the whole slot."""
        k = np.ceil((t_s - self.now_s) / self.res)
        return np.clip(k, 0, self.n).astype(np.int64)

    def slots(self, duration_s: float) -> int:
        """Slots a run of ``duration_s`` overlaps (at least one)."""
        return max(1, math.ceil(duration_s / self.res))

    def _mins(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(prefix minima, suffix minima) of the free GPUs, kept until the next change."""
        if self._pm is None or self._sm is None:
            f = self.free
            self._pm = np.minimum.accumulate(f)
            self._sm = np.minimum.accumulate(f[::-1])[::-1]
        return self._pm, self._sm

    def fits_now(self, gpus: int, m: int, extra: int = 0) -> bool:
        """Whether ``gpus`` can run from now for ``m`` slots without delaying any
        reservation (``extra``: GPUs free for this job only, e.g. its booking's)."""
        pm, _ = self._mins()
        return int(pm[min(m, self.n) - 1]) + extra >= gpus

    def earliest(self, gpus: int, m: int, first: int = 0) -> int | None:
        """The first slot (from ``first``) at which ``gpus`` are free for ``m`` slots (or
        to the window's end), None when there is none within the window."""
        n = self.n
        if first >= n:
            return None
        _, sm = self._mins()
        if first + m >= n:  # every start runs to the window's end: suffix minima rise
            k = first + int(np.searchsorted(sm[first:], gpus, side="left"))
            return k if k < n else None
        bad = np.flatnonzero(self.free[first:] < gpus)
        if bad.shape[0] == 0 or bad[0] >= m:
            return first
        gap = np.flatnonzero(np.diff(bad) > m)
        if gap.shape[0]:
            return first + int(bad[gap[0]]) + 1
        k = first + int(bad[-1]) + 1
        return k if k < n else None

    def take(self, gpus: int, start: int, m: int) -> None:
        """``gpus`` busy from slot ``start`` for ``m`` slots (a start or a reservation)."""
        self.free[start : start + m] -= gpus
        self._pm = self._sm = None

    def slot_start_s(self, k: int) -> float:
        return self.now_s + k * self.res
