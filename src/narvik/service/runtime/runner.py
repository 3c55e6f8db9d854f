"""The background thread of a replica: lead (scheduling passes) or stand by.

Every ``interval_s`` wall seconds a replica that stands for the lease tries to take or
keep it (:class:`narvik.service.runtime.lease.Lease`). The leader runs a scheduling pass,
which renews the lease inside its own write transaction; a replica that lost it (its
pass fenced off) drops its mirror and stands by. A standby refreshes what it shows of the
fleet from the database. On a clean stop the leader releases the lease so that a standby
takes over at once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from narvik.service.metrics import Metrics
from narvik.service.runtime.lease import DeposedError, Lease
from narvik.service.runtime.scheduler import PassReport

log = logging.getLogger("narvik.service")

HURRY_S = 0.1
"""Wall seconds between passes while a backlog is being started."""
STANDBY_REFRESH_S = 1.0
"""Wall seconds a standby's view of the fleet is reused before it is read again."""


class PassRunner:
    def __init__(
        self,
        run: Callable[[], PassReport],
        interval_s: float,
        metrics: Metrics,
        *,
        lease: Lease | None = None,
        eligible: bool = True,
        on_elected: Callable[[], None] = lambda: None,
        standby_report: Callable[[], PassReport] | None = None,
    ):
        """``lease``: None schedules without one (tests of the pass alone);
        ``eligible``: stands for the lease (False: an API-only replica)."""
        self._run = run
        self._interval_s = interval_s
        self._metrics = metrics
        self._lease = lease
        self._eligible = eligible
        self._on_elected = on_elected
        self._standby_report = standby_report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: PassReport | None = None
        self._standby_view: tuple[float, PassReport] | None = None
        self.passes = 0
        self.terms = 0
        """How many times this replica took the lease."""

    @property
    def role(self) -> str:
        """``leader`` while this replica schedules, else ``standby``."""
        if self._lease is None:
            return "leader" if self._eligible else "standby"
        return "leader" if self._lease.leading else "standby"

    @property
    def last(self) -> PassReport | None:
        """The last pass: this replica's own while it leads (or drives passes itself),
        else the leader's as the database has it (read at most once a second)."""
        own = self.role == "leader" or (not self._eligible and self.passes > 0)
        if own or self._standby_report is None:
            return self._last
        now = time.monotonic()
        if self._standby_view is None or now - self._standby_view[0] > STANDBY_REFRESH_S:
            self._standby_view = (now, self._standby_report())
        return self._standby_view[1]

    @property
    def epoch(self) -> int | None:
        return None if self._lease is None else self._lease.epoch

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="narvik-passes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._lease is not None:
            try:
                self._lease.release()
            except Exception:  # the database may be gone; the lease then simply lapses
                log.warning("could not release the scheduler lease", exc_info=True)

    def run_once(self) -> PassReport:
        report = self._run()
        self._last = report
        self.passes += 1
        m = self._metrics
        m.pass_seconds.observe(report.duration_s)
        m.started.inc(report.started)
        m.completed.inc(report.completed)
        m.preempted.inc(report.preempted)
        m.cancelled.inc(report.cancelled)
        m.busy_gpus.set(report.busy_gpus)
        m.queued_jobs.set(report.queued_jobs)
        m.cap_fraction.set(report.cap_fraction)
        m.it_budget_w.set(report.it_budget_w if math.isfinite(report.it_budget_w) else -1)
        m.service_time.set(report.now_s)
        return report

    def tick(self) -> PassReport | None:
        """One turn: a pass if this replica leads (taking the lease if it lapsed).
        Returns the pass's report, or None (standing by)."""
        if not self._lead():
            return None
        try:
            return self.run_once()
        except DeposedError as exc:
            log.warning("scheduler deposed: %s", exc)
            self._on_elected()  # drop the mirror; a later term loads it afresh
            return None

    def _lead(self) -> bool:
        if not self._eligible:
            return False
        lease = self._lease
        if lease is None or lease.leading:
            return True
        if not lease.acquire():
            return False
        self.terms += 1
        log.warning("scheduler lease taken (epoch %s)", lease.epoch)
        self._on_elected()
        return True

    def _next_wait_s(self) -> float:
        """The policy looks at ``backfill_depth`` jobs per tenant in a pass: when a pass
        started work and work still waits, the next pass comes at once."""
        last = self._last
        if self.role == "leader" and last is not None and last.started and last.queued_jobs:
            return min(self._interval_s, HURRY_S)
        return self._interval_s

    def _loop(self) -> None:
        while not self._stop.wait(self._next_wait_s()):
            try:
                self.tick()
            except Exception:  # a failed pass is rolled back; the next one tries again
                self._metrics.pass_errors.inc()
                log.exception("scheduling pass failed")
