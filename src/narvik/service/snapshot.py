"""What one scheduling pass reads: tenants, running and queued jobs, bookings, grid events.

Read in one read-only transaction (a consistent snapshot). Jobs whose run time
has elapsed, whose notice has run out or whose cancel was asked for are stopped
here, in memory, at the instant they stopped; the pass writes the outcome.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from narvik.service.tables import CurtailmentRow, JobRow, ReservationRow, TenantRow


@dataclass
class RunningJob:
    id: int
    tenant_id: int
    gpus: int
    runtime_s: float
    estimate_s: float
    done_s: float
    updated_s: float
    rate: float
    saved_s: float
    stint_start_s: float
    borrowed: bool
    halls: tuple[tuple[int, int], ...]
    preempt_at_s: float | None
    preempt_for: int | None
    cancel_requested_s: float | None

    def finish_s(self) -> float:
        return self.updated_s + max(self.runtime_s - self.done_s, 0.0) / self.rate

    def done_at(self, t_s: float) -> float:
        return min(self.runtime_s, self.done_s + max(t_s - self.updated_s, 0.0) * self.rate)


@dataclass
class QueuedJob:
    id: int
    tenant_id: int
    gpus: int
    estimate_s: float
    saved_s: float
    fit_since_s: float | None


@dataclass
class Stop:
    """A running job leaving its GPUs: ``outcome`` completed, preempted or cancelled."""

    job: RunningJob
    at_s: float
    outcome: str
    kept_s: float
    lost_gpu_s: float


@dataclass
class Snapshot:
    now_s: float
    tenants: list[TenantRow]
    running: list[RunningJob]
    queued: list[QueuedJob]
    stops: list[Stop]
    reservations: list[ReservationRow]
    curtailments: list[CurtailmentRow]
    earmarks: dict[int, int] = field(default_factory=dict)
    """GPUs freed at this pass by reclaims, per tenant id they were reclaimed for."""


def quota_at(quota: list[list[object]], day: dt.date) -> int:
    gpus = 0
    for start, q in quota:
        if dt.date.fromisoformat(str(start)) <= day:
            gpus = int(q)  # type: ignore[call-overload]
    return gpus


def load_snapshot(session: Session, now_s: float, checkpoint_interval_s: float) -> Snapshot:
    tenants = list(session.scalars(select(TenantRow).order_by(TenantRow.id)))
    running: list[RunningJob] = []
    stops: list[Stop] = []
    cols = (
        JobRow.id,
        JobRow.tenant_id,
        JobRow.gpus,
        JobRow.runtime_s,
        JobRow.estimate_s,
        JobRow.done_s,
        JobRow.updated_s,
        JobRow.rate,
        JobRow.saved_s,
        JobRow.stint_start_s,
        JobRow.borrowed,
        JobRow.halls,
        JobRow.preempt_at_s,
        JobRow.preempt_for,
        JobRow.cancel_requested_s,
    )
    for row in session.execute(select(*cols).where(JobRow.state == "running")):
        (jid, tid, g, rt, est, done, upd, rate, saved, stint, bor, halls, pat, pfor, cancel) = row
        job = RunningJob(
            jid, tid, g, rt, est, done, upd, rate, saved, stint, bor,
            tuple((int(h), int(c)) for h, c in halls or ()), pat, pfor, cancel,
        )  # fmt: skip
        stop = _due_stop(job, now_s, checkpoint_interval_s)
        if stop is None:
            running.append(job)
        else:
            stops.append(stop)
    qcols = (
        JobRow.id,
        JobRow.tenant_id,
        JobRow.gpus,
        JobRow.estimate_s,
        JobRow.saved_s,
        JobRow.fit_since_s,
    )
    queued = [
        QueuedJob(*row)
        for row in session.execute(
            select(*qcols).where(JobRow.state == "queued").order_by(JobRow.submit_s, JobRow.id)
        )
    ]
    earmarks: dict[int, int] = {}
    for s in stops:
        if s.outcome == "preempted":
            j = s.job
            queued.append(QueuedJob(j.id, j.tenant_id, j.gpus, j.estimate_s, s.kept_s, None))
            if j.preempt_for is not None and j.preempt_for >= 0:
                earmarks[j.preempt_for] = earmarks.get(j.preempt_for, 0) + j.gpus
    reservations = list(
        session.scalars(
            select(ReservationRow).where(
                ReservationRow.state == "booked", ReservationRow.end_s > now_s
            )
        )
    )
    curtailments = list(
        session.scalars(
            select(CurtailmentRow).where(
                CurtailmentRow.state == "active", CurtailmentRow.end_s > now_s
            )
        )
    )
    return Snapshot(now_s, tenants, running, queued, stops, reservations, curtailments, earmarks)


def _due_stop(job: RunningJob, now_s: float, checkpoint_s: float) -> Stop | None:
    """The earliest of finish, end of notice and cancel, if it has come."""
    finish = job.finish_s()
    candidates = [(finish, 0, "completed")]
    if job.preempt_at_s is not None:
        candidates.append((job.preempt_at_s, 1, "preempted"))
    if job.cancel_requested_s is not None:
        candidates.append((job.cancel_requested_s, 2, "cancelled"))
    at, _, outcome = min(candidates)
    if at > now_s:
        return None
    at = max(at, job.stint_start_s)
    if outcome == "completed":
        return Stop(job, at, outcome, job.runtime_s, 0.0)
    done = job.done_at(at)
    if outcome == "cancelled":
        return Stop(job, at, outcome, done, 0.0)
    keep = min(job.runtime_s, max(job.saved_s, math.floor(done / checkpoint_s) * checkpoint_s))
    return Stop(job, at, outcome, keep, (done - keep) * job.gpus)
