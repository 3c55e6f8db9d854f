"""The service clock: wall time, optionally accelerated, that never runs backwards.

``now_s()`` is seconds since the Unix epoch on the service's time line:
``origin_s + (wall - wall0_s) * speed``. With ``speed`` 1 it follows the wall
clock; demos and tests set a larger speed so that hours pass in seconds. On a
cold restart the origin is never before the last instant the scheduler saw, so job
times stay ordered across crashes. Replicas share one anchor (origin, wall0, speed),
kept in the database with the scheduler lease, so every replica, and the scheduler
that takes over from a dead one, tells the same time (to the wall clocks' agreement).

Where the time line starts (:func:`clock_start`): the ``--clock-start`` given, or
now; but a wall clock before the scenario's ``start_date`` (before any tenant's quota
is in force, so every tenant would hold 0 GPUs) starts it at that date instead.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field


@dataclass
class Clock:
    speed: float = 1.0
    origin_s: float = field(default_factory=time.time)
    wall0_s: float = field(default_factory=time.time)
    """Wall time (s since the epoch) at which the service time was ``origin_s``."""

    def now_s(self) -> float:
        return self.origin_s + (time.time() - self.wall0_s) * self.speed

    def resume_after(self, last_seen_s: float) -> bool:
        """Restart the time line no earlier than ``last_seen_s``; True if it moved on."""
        now = self.now_s()
        if now < last_seen_s:
            self.origin_s = last_seen_s
            self.wall0_s = time.time()
            return True
        return False

    def adopt(self, origin_s: float, wall0_s: float, speed: float) -> None:
        """Follow another replica's anchor (the running cluster's time line)."""
        self.origin_s, self.wall0_s, self.speed = origin_s, wall0_s, speed


@dataclass(frozen=True)
class ClockStart:
    origin_s: float
    """Service time at start, s since the Unix epoch (UTC)."""
    notice: str | None = None
    """Why the clock does not start at the time given or now (None: it does)."""


def clock_start(given: dt.datetime | None, scenario_start: dt.date, wall_s: float) -> ClockStart:
    """The service time at start: ``given`` if set; else the wall clock ``wall_s``, unless
    it precedes the scenario's ``start_date``: then that date at 00:00 UTC, with a notice."""
    if given is not None:
        return ClockStart(given.timestamp())
    start = dt.datetime.combine(scenario_start, dt.time(), tzinfo=dt.UTC)
    if wall_s >= start.timestamp():
        return ClockStart(wall_s)
    return ClockStart(
        start.timestamp(),
        f"clock starts at {start:%Y-%m-%dT%H:%MZ}, the scenario's start "
        "(today precedes its quotas); --clock-start to choose",
    )
