"""The jobs of a pool: waiting, running (with the work model), and how a running job stops.

Work model: a job needs ``runtime_s`` of work at full speed; power-capped GPUs
run at ``rate`` (a fraction of full speed, :func:`narvik.physics.it_power.
capped_throughput_fraction`). Jobs checkpoint every ``checkpoint_interval_s`` of
work: a preempted job keeps the work up to its last checkpoint and loses the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from narvik.sched.placement import Placement
from narvik.sched.view import RunningView, WaitingJob

QueuedJob = WaitingJob
"""A waiting job: the record the policies read (:class:`narvik.sched.view.WaitingJob`)."""


@dataclass(slots=True)
class RunningJob:
    key: int
    tenant: int
    gpus: int
    runtime_s: float
    estimate_s: float
    submit_s: float
    done_s: float
    """Work done (s at full speed) as of ``updated_s``."""
    updated_s: float
    rate: float
    saved_s: float
    stint_start_s: float
    borrowed: bool
    placement: Placement
    view: RunningView
    preempt_at_s: float | None = None
    preempt_for: int | None = None
    """Tenant index it is reclaimed for (-1: power or a booking)."""
    cancel_at_s: float | None = None

    def finish_s(self) -> float:
        return self.updated_s + max(self.runtime_s - self.done_s, 0.0) / self.rate

    def done_at(self, t_s: float) -> float:
        return min(self.runtime_s, self.done_s + max(t_s - self.updated_s, 0.0) * self.rate)

    def est_end_s(self) -> float:
        return self.updated_s + max(self.estimate_s - self.done_s, 0.0) / self.rate

    def queued(self, saved_s: float) -> QueuedJob:
        return QueuedJob(
            self.key, self.tenant, self.gpus, self.runtime_s, self.estimate_s, self.submit_s,
            saved_s,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Stop:
    """A running job leaving its GPUs: ``outcome`` completed, preempted or cancelled."""

    job: RunningJob
    at_s: float
    outcome: str
    kept_s: float
    """Work kept (s at full speed): all of it when completed."""
    lost_gpu_s: float


def due_stop(job: RunningJob, now_s: float, checkpoint_s: float) -> Stop | None:
    """The earliest of its finish, the end of its notice and its cancel, if it has come."""
    candidates = [(job.finish_s(), 0, "completed")]
    if job.preempt_at_s is not None:
        candidates.append((job.preempt_at_s, 1, "preempted"))
    if job.cancel_at_s is not None:
        candidates.append((job.cancel_at_s, 2, "cancelled"))
    at, _, outcome = min(candidates)
    if at > now_s:
        return None
    return stop_now(job, max(at, job.stint_start_s), outcome, checkpoint_s)


def stop_now(job: RunningJob, at_s: float, outcome: str, checkpoint_s: float) -> Stop:
    """The stop of ``job`` at ``at_s`` with ``outcome``: the work kept and the work lost."""
    if outcome == "completed":
        return Stop(job, at_s, outcome, job.runtime_s, 0.0)
    done = job.done_at(at_s)
    if outcome == "cancelled":
        return Stop(job, at_s, outcome, done, 0.0)
    keep = min(job.runtime_s, max(job.saved_s, math.floor(done / checkpoint_s) * checkpoint_s))
    return Stop(job, at_s, outcome, keep, (done - keep) * job.gpus)
