"""The background thread that runs a scheduling pass every ``interval_s`` wall seconds."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from narvik.service.metrics import Metrics
from narvik.service.runtime.scheduler import PassReport

log = logging.getLogger("narvik.service")

HURRY_S = 0.1
"""Wall seconds between passes while a backlog is being started."""


class PassRunner:
    def __init__(self, run: Callable[[], PassReport], interval_s: float, metrics: Metrics):
        self._run = run
        self._interval_s = interval_s
        self._metrics = metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: PassReport | None = None
        self.passes = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="narvik-passes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_once(self) -> PassReport:
        report = self._run()
        self.last = report
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

    def _next_wait_s(self) -> float:
        """The policy looks at ``backfill_depth`` jobs per tenant in a pass: when a pass
        started work and work still waits, the next pass comes at once."""
        last = self.last
        if last is not None and last.started and last.queued_jobs:
            return min(self._interval_s, HURRY_S)
        return self._interval_s

    def _loop(self) -> None:
        while not self._stop.wait(self._next_wait_s()):
            try:
                self.run_once()
            except Exception:  # a failed pass is rolled back; the next one tries again
                self._metrics.pass_errors.inc()
                log.exception("scheduling pass failed")
