"""One scheduling pass of the control plane: the engine driven by the wall clock.

The runtime keeps one :class:`narvik.engine.Pool` (built by
:func:`narvik.service.runtime.pool.load_pool` at start, on taking the scheduler lease and
after any failed pass) and keeps no state or rule of the pool itself. A pass reads the
**news** (``job_news``: submissions and cancels committed by any replica's API since the
last pass), reads the small tables (tenants, bookings, grid events) into the pool's
configuration, runs :meth:`narvik.engine.Pool.step` — the very step
:mod:`narvik.sim.tenancy_sim` runs in virtual time — and persists what it changed in one
write transaction, under the lease's fence: stops with their run segments, guarantee
fits, re-timed work under a new GPU power cap, notices and their events, starts (guarded
by ``state = 'queued'`` so a job cancelled meanwhile is never started), fair-share usage,
energy and samples, and the deletion of the news it applied. The mirror never misses a
committed job: a load covers everything committed before it, and news stay until a pass
that applied them commits. Only the pass moves running jobs, so the allocation in the
database is always one the engine made. One scheduler runs per database (the lease).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from narvik.engine import PassOutcome, Pool, PowerModel, Stop
from narvik.sched.narvik_policy import NarvikPolicy
from narvik.sched.view import WaitingJob
from narvik.service.db import Database
from narvik.service.plant import Plant
from narvik.service.runtime.pool import (
    curtailment_specs,
    load_pool,
    placement_json,
    reservation_specs,
    tenant_spec,
)
from narvik.service.tables import (
    CurtailmentRow,
    EventRow,
    JobNewsRow,
    JobRow,
    MetaRow,
    ReservationRow,
    SampleRow,
    SegmentRow,
    TenantRow,
)

SAMPLE_EVERY_S = 60.0
SAMPLES_KEPT = 1440
BUSY_HALL = "busy_gpus_hall_"
"""Meta keys of the busy GPUs per hall after the last pass (what standbys show)."""
NEWS_CHUNK = 10_000
"""News ids deleted per statement (PostgreSQL takes at most 65,535 parameters)."""

#: A piece of news: (news id, kind, job id, cancel instant or None, the job's row or None).
News = tuple[int, str, int, float | None, Any]


@dataclass(frozen=True)
class PassReport:
    now_s: float
    started: int
    completed: int
    preempted: int
    cancelled: int
    notices: int
    busy_gpus: int
    queued_jobs: int
    cap_fraction: float
    it_budget_w: float
    duration_s: float
    busy_by_hall: tuple[int, ...] = ()
    busy_by_tenant: dict[int, int] = field(default_factory=dict)
    running_by_tenant: dict[int, int] = field(default_factory=dict)
    queued_by_tenant: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Per tenant id, (queued jobs, queued GPUs)."""


def read_meta(session: Session) -> dict[str, float]:
    return {k: v for k, v in session.execute(select(MetaRow.key, MetaRow.value))}


@dataclass(frozen=True)
class _Tables:
    meta: dict[str, float]
    tenants: list[TenantRow]
    reservations: list[ReservationRow]
    curtailments: list[CurtailmentRow]
    news: list[News]


class Scheduler:
    """The scheduler runtime: one pool, an inbox from the API, one pass at a time.

    ``power`` is the engine's power model (default: the plant's physics); tests give
    both drivers the same one."""

    def __init__(
        self,
        db: Database,
        plant: Plant,
        power: PowerModel | None = None,
        policy: Any | None = None,
        fence: Callable[[Session], None] | None = None,
    ) -> None:
        self.db = db
        self.plant = plant
        self.power: PowerModel = plant if power is None else power
        self.policy = NarvikPolicy() if policy is None else policy
        self.fence = fence
        """Called first in every pass's write transaction (the lease): raises when this
        replica may no longer commit."""
        self.pool: Pool | None = None
        """None until loaded (and after a failed pass): the next pass loads it."""
        self.tenant_ids: list[int] = []
        self._specs: tuple[Any, ...] = ()
        self._reservations: list[Any] = []
        self._curtailments: list[Any] = []
        self._lock = threading.Lock()

    # --- the pass ---------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self.pool is not None

    def drop(self) -> None:
        """Forget the mirror (deposed, or a new term): the next pass loads it afresh."""
        with self._lock:
            self.pool = None

    def run_pass(self, now_s: float) -> PassReport:
        with self._lock:
            t0 = time.perf_counter()
            if self.pool is None:
                self._load()
            try:
                tables = self._read(now_s)
                now_s = max(now_s, tables.meta.get("last_pass_s", -math.inf))
                return self._pass(now_s, tables, t0)
            except BaseException:
                # The pool may be ahead of the database: reload it at the next pass (the
                # news this pass read stay in the database until a pass commits).
                self.pool = None
                raise

    def _load(self) -> None:
        with self.db.read() as session:
            meta = read_meta(session)
            self.pool, self.tenant_ids = load_pool(session, self.plant, self.power, meta)
        self._specs, self._reservations, self._curtailments = (), [], []

    def _read(self, now_s: float) -> _Tables:
        with self.db.read() as session:
            meta = read_meta(session)
            now_s = max(now_s, meta.get("last_pass_s", -math.inf))
            tenants = list(session.scalars(select(TenantRow).order_by(TenantRow.id)))
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
            news = read_news(session)
            session.expunge_all()
        return _Tables(meta, tenants, reservations, curtailments, news)

    def _configure(self, pool: Pool, t: _Tables) -> dict[int, int]:
        specs = tuple(tenant_spec(row, self.plant) for row in t.tenants)
        if specs != self._specs:
            pool.set_tenants(specs)
            self._specs = specs
            self.tenant_ids = [row.id for row in t.tenants]
        index = {tid: i for i, tid in enumerate(self.tenant_ids)}
        reservations = reservation_specs(t.reservations, index)
        if reservations != self._reservations:
            pool.set_reservations(reservations)
            self._reservations = reservations
        curtailments = curtailment_specs(t.curtailments)
        if curtailments != self._curtailments:
            pool.set_curtailments(curtailments)
            self._curtailments = curtailments
        return index

    def _arrivals(self, pool: Pool, news: list[News], index: dict[int, int]) -> list[WaitingJob]:
        """Committed submissions in order (cancels applied); cancels of known jobs.

        News of jobs the pool already holds (loaded after they were committed) are
        skipped; a cancel always follows its job's submission (it is committed later)."""
        arrivals: dict[int, WaitingJob] = {}
        for _, kind, key, at_s, row in news:
            if kind == "new":
                if row is None or row.state != "queued" or row.tenant_id not in index:
                    continue
                if key not in pool.queued and key not in pool.running:
                    arrivals[key] = WaitingJob(
                        key, index[row.tenant_id], row.gpus, row.runtime_s, row.estimate_s,
                        row.submit_s,
                    )  # fmt: skip
            elif arrivals.pop(key, None) is None:
                pool.cancel(key, at_s if at_s is not None else pool.last_s)
        return list(arrivals.values())

    def _pass(self, now_s: float, t: _Tables, t0: float) -> PassReport:
        pool = self.pool
        assert pool is not None
        index = self._configure(pool, t)
        arrivals = self._arrivals(pool, t.news, index)
        out = pool.step(now_s, self.policy, arrivals)
        rejected = [a for a in arrivals if a.key not in pool.queued and a.key not in pool.running]
        ids = self.tenant_ids
        with self.db.write() as session:
            if self.fence is not None:
                self.fence(session)
            _delete_news(session, [n[0] for n in t.news])
            _write_stops(session, out.stops, ids)
            _write_rejected(session, rejected, ids, now_s)
            _write_changes(session, pool, out, ids)
            if not _write_starts(session, out, int(t.meta.get("start_seq", 0.0))):
                self.pool = None  # a start was cancelled meanwhile: reload after this pass
            _write_usage(session, pool, ids, now_s)
            busy_by_hall = [c - f for c, f in zip(pool.capacity, pool.free_by_hall, strict=True)]
            _write_meta_and_sample(session, self.plant, t.meta, out, len(pool.queued), busy_by_hall)
        outcomes = [s.outcome for s in out.stops]
        return PassReport(
            now_s=now_s,
            started=len(out.starts),
            completed=outcomes.count("completed"),
            preempted=outcomes.count("preempted"),
            cancelled=outcomes.count("cancelled"),
            notices=len(out.notices),
            busy_gpus=out.busy_gpus,
            queued_jobs=len(pool.queued),
            cap_fraction=out.cap_fraction,
            it_budget_w=out.it_budget_w,
            duration_s=time.perf_counter() - t0,
            busy_by_hall=tuple(busy_by_hall),
            busy_by_tenant={ids[i]: s.used_gpus for i, s in enumerate(pool.tenants) if s.used_gpus},
            running_by_tenant={
                ids[i]: s.running_jobs for i, s in enumerate(pool.tenants) if s.running_jobs
            },
            queued_by_tenant={
                ids[i]: (len(s.queue), s.queued_gpus) for i, s in enumerate(pool.tenants) if s.queue
            },
        )


def busy_by_hall(meta: dict[str, float]) -> list[int]:
    """Busy GPUs per hall after the last pass, as it wrote them into ``meta`` (only the
    pass moves running jobs, so this is the jobs table's too)."""
    halls = {
        int(k.removeprefix(BUSY_HALL)): int(v) for k, v in meta.items() if k.startswith(BUSY_HALL)
    }
    return [halls.get(h, 0) for h in range(max(halls, default=-1) + 1)]


def read_news(session: Session) -> list[News]:
    """Every submission and cancel not yet applied, in commit order of each job's news."""
    q = (
        select(JobNewsRow.id, JobNewsRow.kind, JobNewsRow.job_id, JobNewsRow.at_s, JobRow)
        .outerjoin(JobRow, JobRow.id == JobNewsRow.job_id)
        .order_by(JobNewsRow.id)
    )
    return [(i, kind, job_id, at_s, row) for i, kind, job_id, at_s, row in session.execute(q)]


def _delete_news(session: Session, ids: list[int]) -> None:
    t = JobNewsRow.__table__
    for i in range(0, len(ids), NEWS_CHUNK):
        session.execute(delete(t).where(t.c.id.in_(ids[i : i + NEWS_CHUNK])))


def _write_stops(session: Session, stops: list[Stop], ids: list[int]) -> None:
    if not stops:
        return
    rows = []
    segs: list[dict[str, Any]] = []
    for s in stops:
        j = s.job
        row: dict[str, Any] = {
            "b_id": j.key,
            "done_s": s.kept_s,
            "updated_s": s.at_s,
            "saved_s": s.kept_s if s.outcome == "preempted" else j.saved_s,
        }
        if s.outcome == "preempted":
            row.update(state="queued", end_s=None, lost=s.lost_gpu_s, pre=1)
        else:
            row.update(state=s.outcome, end_s=s.at_s, lost=0.0, pre=0)
        rows.append(row)
        segs.extend(
            {
                "job_id": j.key,
                "tenant_id": ids[j.tenant],
                "hall": h,
                "gpus": c,
                "borrowed": j.borrowed,
                "start_s": j.stint_start_s,
                "end_s": s.at_s,
            }
            for h, c in j.view.halls
        )
    t = JobRow.__table__
    stmt = (
        update(t)
        .where(t.c.id == bindparam("b_id"), t.c.state == "running")
        .values(
            state=bindparam("state"),
            end_s=bindparam("end_s"),
            halls=None,
            domains=None,
            start_order=None,
            preempt_at_s=None,
            preempt_for=None,
            cancel_requested_s=None,
            fit_since_s=None,
            done_s=bindparam("done_s"),
            updated_s=bindparam("updated_s"),
            saved_s=bindparam("saved_s"),
            lost_gpu_s=t.c.lost_gpu_s + bindparam("lost"),
            preemptions=t.c.preemptions + bindparam("pre"),
        )
    )
    session.execute(stmt, rows)
    session.execute(insert(SegmentRow), segs)


def _write_rejected(
    session: Session, rejected: list[WaitingJob], ids: list[int], now_s: float
) -> None:
    """Jobs the engine refused (more GPUs than their tenant's halls will ever hold)."""
    if not rejected:
        return
    t = JobRow.__table__
    session.execute(
        update(t)
        .where(t.c.id == bindparam("b_id"), t.c.state == "queued")
        .values(state="cancelled", end_s=now_s),
        [{"b_id": q.key} for q in rejected],
    )
    session.execute(
        insert(EventRow),
        [
            {
                "t_s": now_s,
                "kind": "rejection",
                "tenant_id": ids[q.tenant],
                "message": f"job {q.key} ({q.gpus} GPUs) can never run in its tenant's halls",
            }
            for q in rejected
        ],
    )


def _write_changes(session: Session, pool: Pool, out: PassOutcome, ids: list[int]) -> None:
    """Guarantee fits, re-timed work (a new GPU power cap) and notices with their events."""
    t = JobRow.__table__
    now_s = out.now_s
    if out.fitting:
        session.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"), t.c.state == "queued")
            .values(fit_since_s=now_s),
            [{"b_id": k} for k in out.fitting],
        )
    started = {j.key for j in out.starts}
    if out.retimed:
        rows = [
            {"b_id": k, "done": j.done_s, "upd": j.updated_s, "rate": j.rate}
            for k, j in pool.running.items()
            if k not in started
        ]
        if rows:
            session.execute(
                update(t)
                .where(t.c.id == bindparam("b_id"), t.c.state == "running")
                .values(
                    done_s=bindparam("done"), updated_s=bindparam("upd"), rate=bindparam("rate")
                ),
                rows,
            )
    if out.notices:
        session.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"), t.c.state == "running")
            .values(preempt_at_s=bindparam("at"), preempt_for=bindparam("for")),
            [{"b_id": k, "at": at, "for": ids[o] if o >= 0 else -1} for k, at, o in out.notices],
        )
        events = []
        for k, _, owner in out.notices:
            job = pool.running[k]
            why = f"reclaimed for tenant #{ids[owner]}" if owner >= 0 else "power budget"
            events.append(
                {
                    "t_s": now_s,
                    "kind": "preemption",
                    "tenant_id": ids[job.tenant],
                    "message": f"job {k} ({job.gpus} GPUs) given notice: {why}",
                }
            )
        session.execute(insert(EventRow), events)


def _write_starts(session: Session, out: PassOutcome, seq: int) -> bool:
    """The starts, each only if its job is still queued; False if one was not."""
    if not out.starts:
        return True
    t = JobRow.__table__
    done = session.execute(
        update(t)
        .where(t.c.id == bindparam("b_id"), t.c.state == "queued")
        .values(
            state="running",
            start_s=func.coalesce(t.c.start_s, out.now_s),
            stint_start_s=out.now_s,
            updated_s=bindparam("upd"),
            done_s=bindparam("done"),
            rate=bindparam("rate"),
            borrowed=bindparam("borrowed"),
            halls=bindparam("halls"),
            domains=bindparam("domains"),
            start_order=bindparam("order"),
        ),
        [
            {
                "b_id": j.key,
                "upd": j.updated_s,
                "done": j.done_s,
                "rate": j.rate,
                "borrowed": j.borrowed,
                "halls": [list(a) for a in j.view.halls],
                "domains": placement_json(j.placement),
                "order": i,
            }
            for i, j in enumerate(out.starts, start=seq)
        ],
    )
    return done.rowcount in (-1, len(out.starts))  # type: ignore[attr-defined]


def _write_usage(session: Session, pool: Pool, ids: list[int], now_s: float) -> None:
    """Fair share (the pool's decayed GPU-seconds per tenant, as of this pass) and
    earmarks."""
    t = TenantRow.__table__
    session.execute(
        update(t)
        .where(t.c.id == bindparam("b_id"))
        .values(usage_gpu_s=bindparam("u"), usage_at_s=now_s, earmarked_gpus=bindparam("e")),
        [
            {"b_id": ids[i], "u": s.usage_gpu_s, "e": s.view.earmarked_gpus}
            for i, s in enumerate(pool.tenants)
        ],
    )


def _write_meta_and_sample(
    session: Session,
    plant: Plant,
    meta: dict[str, float],
    out: PassOutcome,
    queued: int,
    busy_by_hall: list[int],
) -> None:
    """Integrate IT, facility and reused-heat energy over the time since the last pass;
    keep a sample a minute.

    IT power is the engine's, exact every pass (idle fleet plus busy GPUs at the power
    cap); the facility model itself (PUE, heat reuse at this hour's weather) runs when a
    sample is due, and its ratios to IT power carry the integral between samples.
    """
    now_s, busy, cap = out.now_s, out.busy_gpus, out.cap_fraction
    last = meta.get("last_pass_s", now_s)
    dt_s = max(now_s - last, 0.0)
    # start_seq: a counter of starts (their order, for the engine's latest-started-first).
    new = {
        "last_pass_s": now_s,
        "cap_fraction": cap,
        "start_seq": meta.get("start_seq", 0.0) + len(out.starts),
        "it_budget_w": min(out.it_budget_w, 1e18),
        **{f"{BUSY_HALL}{h}": float(b) for h, b in enumerate(busy_by_hall)},
    }
    it_w = out.it_power_w
    if now_s - meta.get("last_sample_s", -math.inf) >= SAMPLE_EVERY_S:
        power = plant.power_now(now_s, busy, cap, out.shed_w)
        if power is not None and power.it_power_w > 0:
            new["facility_per_it"] = power.facility_power_w / power.it_power_w
            new["heat_per_it"] = power.heat_reused_w / power.it_power_w
        session.add(
            SampleRow(
                t_s=now_s,
                busy_gpus=busy,
                queued_jobs=queued,
                it_power_w=power.it_power_w if power else 0.0,
                facility_power_w=power.facility_power_w if power else 0.0,
                it_budget_w=min(out.it_budget_w, 1e18),
                grid_cap_w=power.grid_cap_w if power else 0.0,
                heat_reused_w=power.heat_reused_w if power else 0.0,
                cap_fraction=cap,
            )
        )
        new["last_sample_s"] = now_s
        cutoff = now_s - SAMPLE_EVERY_S * SAMPLES_KEPT
        session.execute(SampleRow.__table__.delete().where(SampleRow.t_s < cutoff))
    if it_w > 0:
        fac = new.get("facility_per_it", meta.get("facility_per_it", 1.0))
        heat = new.get("heat_per_it", meta.get("heat_per_it", 0.0))
        new["it_energy_j"] = meta.get("it_energy_j", 0.0) + it_w * dt_s
        new["facility_energy_j"] = meta.get("facility_energy_j", 0.0) + it_w * fac * dt_s
        new["heat_reused_j"] = meta.get("heat_reused_j", 0.0) + it_w * heat * dt_s
    known = [{"k": k, "v": v} for k, v in new.items() if k in meta]
    if known:
        t = MetaRow.__table__
        session.execute(
            update(t).where(t.c.key == bindparam("k")).values(value=bindparam("v")), known
        )
    fresh = [{"key": k, "value": v} for k, v in new.items() if k not in meta]
    if fresh:
        session.execute(insert(MetaRow), fresh)
