"""The scheduler's in-memory mirror of the jobs it decides about, kept by deltas.

The database is the truth; this mirror makes a pass cost what changed, not the
size of the fleet. It is loaded whole at start (and again after any failed
pass), then kept up to date by the pass itself (starts, stops, notices) and by
the API through :meth:`LiveState.post` (new jobs once committed, cancels).
Only the pass thread touches the mirror; the inbox is the one shared structure.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from narvik.sched.narvik_policy import RunningView
from narvik.service.tables import JobRow


@dataclass
class RunningJob:
    id: int
    tenant_id: int
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
    halls: tuple[tuple[int, int], ...]
    preempt_at_s: float | None = None
    preempt_for: int | None = None
    cancel_at_s: float | None = None

    def finish_s(self) -> float:
        return self.updated_s + max(self.runtime_s - self.done_s, 0.0) / self.rate

    def done_at(self, t_s: float) -> float:
        return min(self.runtime_s, self.done_s + max(t_s - self.updated_s, 0.0) * self.rate)

    def est_end_s(self) -> float:
        return self.updated_s + max(self.estimate_s - self.done_s, 0.0) / self.rate


@dataclass
class QueuedJob:
    id: int
    tenant_id: int
    gpus: int
    runtime_s: float
    estimate_s: float
    submit_s: float
    saved_s: float
    fit_since_s: float | None


@dataclass(frozen=True)
class Stop:
    """A running job leaving its GPUs: ``outcome`` completed, preempted or cancelled."""

    job: RunningJob
    at_s: float
    outcome: str
    kept_s: float
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
    at = max(at, job.stint_start_s)
    if outcome == "completed":
        return Stop(job, at, outcome, job.runtime_s, 0.0)
    done = job.done_at(at)
    if outcome == "cancelled":
        return Stop(job, at, outcome, done, 0.0)
    keep = min(job.runtime_s, max(job.saved_s, math.floor(done / checkpoint_s) * checkpoint_s))
    return Stop(job, at, outcome, keep, (done - keep) * job.gpus)


_RUN_COLS = (
    JobRow.id,
    JobRow.tenant_id,
    JobRow.gpus,
    JobRow.runtime_s,
    JobRow.estimate_s,
    JobRow.submit_s,
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
_QUEUE_COLS = (
    JobRow.id,
    JobRow.tenant_id,
    JobRow.gpus,
    JobRow.runtime_s,
    JobRow.estimate_s,
    JobRow.submit_s,
    JobRow.saved_s,
    JobRow.fit_since_s,
)


class LiveState:
    def __init__(self, n_halls: int):
        self.n_halls = n_halls
        self.loaded = False
        self.inbox: deque[tuple[str, object]] = deque()
        self._reset()

    def _reset(self) -> None:
        self.running: dict[int, RunningJob] = {}
        self.views: dict[int, RunningView] = {}
        self.queued: dict[int, QueuedJob] = {}
        self.queues: dict[int, list[tuple[float, int]]] = {}
        """Per tenant id, (submit_s, job id) of its queued jobs in order."""
        self.used_by_hall = [0] * self.n_halls
        self.used: dict[int, list[int]] = {}
        """Per tenant id, [guaranteed, borrowed] GPUs running."""
        self.est_gpus: dict[float, int] = {}
        self.est_keys: list[float] = []
        self.timers: list[tuple[float, int]] = []
        """(instant, job id): when a running job may stop; stale entries are skipped."""
        self.cancelled: set[int] = set()
        """Jobs whose cancel came before their "new" (kept only until it arrives)."""
        self.noticed: set[int] = set()
        """Running jobs under notice (preemption announced)."""
        self.promised: dict[int, list[tuple[float, int]]] = {}
        """Per tenant id, (fit since, job id) of queued jobs that fit its guarantee."""
        self.queued_gpus: dict[int, int] = {}
        self.running_jobs: dict[int, int] = {}
        self.tenant_index: dict[int, int] = {}
        self.tier_priority: dict[int, int] = {}

    def set_tenants(self, index: dict[int, int], priority: dict[int, int]) -> None:
        """Tenant id -> position in the policy's list, and tier priority (per pass)."""
        changed = index != self.tenant_index or priority != self.tier_priority
        self.tenant_index, self.tier_priority = index, priority
        if changed:
            for view in self.views.values():
                tid = self.running[view.job].tenant_id
                view.tenant = index.get(tid, -1)
                view.tier_priority = priority.get(tid, 0)

    # --- the API's side -------------------------------------------------------------
    def post(self, kind: str, payload: object) -> None:
        """Tell the pass thread: ``new`` (a committed QueuedJob) or ``cancel`` ((id, at_s))."""
        self.inbox.append((kind, payload))

    # --- loading --------------------------------------------------------------------
    def load(self, session: Session) -> None:
        self._reset()
        self.inbox.clear()
        for row in session.execute(select(*_RUN_COLS).where(JobRow.state == "running")):
            (
                jid,
                tid,
                g,
                rt,
                est,
                sub,
                done,
                upd,
                rate,
                saved,
                stint,
                bor,
                halls,
                pat,
                pfor,
                can,
            ) = row
            job = RunningJob(
                jid, tid, g, rt, est, sub, done, upd, rate, saved, stint, bor,
                tuple((int(h), int(c)) for h, c in halls or ()), pat, pfor, can,
            )  # fmt: skip
            self._add_running(job)
        for row in session.execute(select(*_QUEUE_COLS).where(JobRow.state == "queued")):
            self.enqueue(QueuedJob(*row))
        self.loaded = True

    def drain_inbox(self) -> None:
        while self.inbox:
            kind, payload = self.inbox.popleft()
            if kind == "new":
                assert isinstance(payload, QueuedJob)
                if payload.id in self.cancelled:  # its cancel overtook it
                    self.cancelled.discard(payload.id)
                elif payload.id not in self.running:
                    self.enqueue(payload)
            elif kind == "cancel":
                job_id, at_s = payload  # type: ignore[misc]
                if job_id in self.queued:
                    self.dequeue(job_id)
                elif job_id in self.running:
                    job = self.running[job_id]
                    job.cancel_at_s = at_s if job.cancel_at_s is None else job.cancel_at_s
                    heapq.heappush(self.timers, (max(at_s, job.stint_start_s), job_id))
                else:  # not seen yet (or already ended): drop its "new" when it comes
                    self.cancelled.add(job_id)

    # --- the queue ------------------------------------------------------------------
    def enqueue(self, q: QueuedJob) -> None:
        if q.id in self.queued:
            return
        self.queued[q.id] = q
        insort(self.queues.setdefault(q.tenant_id, []), (q.submit_s, q.id))
        self.queued_gpus[q.tenant_id] = self.queued_gpus.get(q.tenant_id, 0) + q.gpus
        if q.fit_since_s is not None:
            insort(self.promised.setdefault(q.tenant_id, []), (q.fit_since_s, q.id))

    def dequeue(self, job_id: int) -> QueuedJob:
        q = self.queued.pop(job_id)
        lst = self.queues[q.tenant_id]
        del lst[bisect_left(lst, (q.submit_s, q.id))]
        self.queued_gpus[q.tenant_id] -= q.gpus
        if q.fit_since_s is not None:
            lst = self.promised[q.tenant_id]
            del lst[bisect_left(lst, (q.fit_since_s, q.id))]
        return q

    def mark_fitting(self, job_id: int, now_s: float) -> None:
        q = self.queued[job_id]
        if q.fit_since_s is None:
            q.fit_since_s = now_s
            insort(self.promised.setdefault(q.tenant_id, []), (now_s, job_id))

    # --- running jobs ---------------------------------------------------------------
    def _add_running(self, job: RunningJob) -> None:
        self.running[job.id] = job
        if job.preempt_at_s is not None:
            self.noticed.add(job.id)
        self.running_jobs[job.tenant_id] = self.running_jobs.get(job.tenant_id, 0) + 1
        for h, c in job.halls:
            self.used_by_hall[h] += c
        u = self.used.setdefault(job.tenant_id, [0, 0])
        u[1 if job.borrowed else 0] += job.gpus
        est = job.est_end_s()
        self._add_est(est, job.gpus)
        self.views[job.id] = RunningView(
            job=job.id,
            tenant=self.tenant_index.get(job.tenant_id, -1),
            tier_priority=self.tier_priority.get(job.tenant_id, 0),
            gpus=job.gpus,
            borrowed=job.borrowed,
            start_s=job.stint_start_s,
            est_end_s=est,
            halls=job.halls,
            being_preempted=job.preempt_at_s is not None,
        )
        self._arm(job)

    def _arm(self, job: RunningJob) -> None:
        heapq.heappush(self.timers, (job.finish_s(), job.id))
        for t in (job.preempt_at_s, job.cancel_at_s):
            if t is not None:
                heapq.heappush(self.timers, (max(t, job.stint_start_s), job.id))

    def start(
        self,
        q: QueuedJob,
        now_s: float,
        rate: float,
        borrowed: bool,
        halls: tuple[tuple[int, int], ...],
    ) -> RunningJob:
        self.dequeue(q.id)
        job = RunningJob(
            q.id, q.tenant_id, q.gpus, q.runtime_s, q.estimate_s, q.submit_s,
            q.saved_s, now_s, rate, q.saved_s, now_s, borrowed, halls,
        )  # fmt: skip
        self._add_running(job)
        return job

    def stop(self, stop: Stop) -> None:
        job = self.running.pop(stop.job.id)
        view = self.views.pop(job.id)
        self.noticed.discard(job.id)
        for h, c in job.halls:
            self.used_by_hall[h] -= c
        self.used[job.tenant_id][1 if job.borrowed else 0] -= job.gpus
        self.running_jobs[job.tenant_id] -= 1
        self._drop_est(view.est_end_s, job.gpus)
        if stop.outcome == "preempted":
            self.enqueue(
                QueuedJob(
                    job.id, job.tenant_id, job.gpus, job.runtime_s, job.estimate_s,
                    job.submit_s, stop.kept_s, None,
                )
            )  # fmt: skip

    def due_stops(self, now_s: float, checkpoint_s: float) -> list[Stop]:
        stops: list[Stop] = []
        seen: set[int] = set()
        while self.timers and self.timers[0][0] <= now_s:
            _, job_id = heapq.heappop(self.timers)
            job = self.running.get(job_id)
            if job is None or job_id in seen:
                continue
            stop = due_stop(job, now_s, checkpoint_s)
            if stop is not None:
                seen.add(job_id)
                stops.append(stop)
        return stops

    def notice(self, job_id: int, at_s: float, reclaim_for: int) -> None:
        job = self.running[job_id]
        job.preempt_at_s = at_s
        job.preempt_for = reclaim_for
        self.noticed.add(job_id)
        self.views[job_id].being_preempted = True
        heapq.heappush(self.timers, (max(at_s, job.stint_start_s), job_id))

    def retime(self, now_s: float, rate: float) -> None:
        """A new GPU power cap: every running job goes on at ``rate`` of full speed."""
        self.est_gpus.clear()
        self.est_keys.clear()
        for job in self.running.values():
            job.done_s = job.done_at(now_s)
            job.updated_s = now_s
            job.rate = rate
            est = job.est_end_s()
            self.views[job.id].est_end_s = est
            self._add_est(est, job.gpus)
            heapq.heappush(self.timers, (job.finish_s(), job.id))

    def _add_est(self, e: float, g: int) -> None:
        if e in self.est_gpus:
            self.est_gpus[e] += g
        else:
            self.est_gpus[e] = g
            insort(self.est_keys, e)

    def _drop_est(self, e: float, g: int) -> None:
        left = self.est_gpus[e] - g
        if left:
            self.est_gpus[e] = left
        else:
            del self.est_gpus[e]
            del self.est_keys[bisect_left(self.est_keys, e)]
