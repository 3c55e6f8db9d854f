"""One scheduling pass of the control plane: the narvik policy driven by the wall clock.

A pass reads the small tables (tenants, bookings, grid events) in a read-only
transaction, takes the API's news from the mirror's inbox, stops the jobs whose
time has come, asks :class:`narvik.sched.narvik_policy.NarvikPolicy` — the very
code :mod:`narvik.sim.tenancy_sim` drives with virtual time — for its decision,
and writes the outcome in one write transaction. Starts are guarded by
``state = 'queued'`` so a job cancelled meanwhile is never started; only the
pass moves running jobs, so the allocation in the database is always the one
the policy decided. If anything fails the mirror is reloaded at the next pass.
Run passes from one thread per database.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from narvik.physics.it_power import capped_throughput_fraction
from narvik.sched.narvik_policy import Decision, NarvikPolicy
from narvik.service.db import Database
from narvik.service.live_state import LiveState, Stop, due_stop
from narvik.service.live_view import LiveView, build_view, tenant_maps
from narvik.service.plant import Plant
from narvik.service.tables import (
    CurtailmentRow,
    EventRow,
    JobRow,
    MetaRow,
    ReservationRow,
    SampleRow,
    SegmentRow,
    TenantRow,
)

SAMPLE_EVERY_S = 60.0
SAMPLES_KEPT = 1440


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


def run_pass(db: Database, plant: Plant, state: LiveState, now_s: float) -> PassReport:
    t0 = time.perf_counter()
    with db.read() as session:
        meta = read_meta(session)
        now_s = max(now_s, meta.get("last_pass_s", 0.0))
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
        state.set_tenants(*tenant_maps(tenants, plant))
        if not state.loaded:
            state.load(session)
        session.expunge_all()
    inputs = _Inputs(now_s, meta, tenants, reservations, curtailments, t0)
    try:
        return _decide_and_write(db, plant, state, inputs)
    except BaseException:
        state.loaded = False  # the mirror may be ahead of the database: reload it
        raise


@dataclass(frozen=True)
class _Inputs:
    now_s: float
    meta: dict[str, float]
    tenants: list[TenantRow]
    reservations: list[ReservationRow]
    curtailments: list[CurtailmentRow]
    t0: float


def _decide_and_write(db: Database, plant: Plant, state: LiveState, inp: _Inputs) -> PassReport:
    now_s, meta, tenants = inp.now_s, inp.meta, inp.tenants
    ckpt = plant.tenancy.checkpoint_interval_s
    state.drain_inbox()
    stops = state.due_stops(now_s, ckpt)
    earmarks: dict[int, int] = {}
    for s in stops:
        state.stop(s)
        j = s.job
        if s.outcome == "preempted" and j.preempt_for is not None and j.preempt_for >= 0:
            earmarks[j.preempt_for] = earmarks.get(j.preempt_for, 0) + j.gpus
    cap = meta.get("cap_fraction", 1.0)
    live = build_view(
        state, tenants, inp.reservations, inp.curtailments, plant, now_s, cap, earmarks
    )
    last_s = meta.get("last_pass_s", now_s)
    opened = [r for r in inp.reservations if last_s < r.start_s <= now_s]
    if opened:
        freed = _honour_reservations(state, live, opened, now_s, ckpt)
        if freed:
            stops.extend(freed)
            live = build_view(
                state, tenants, inp.reservations, inp.curtailments, plant, now_s, cap, earmarks
            )
    decision = NarvikPolicy().decide(live.view)
    rate = float(capped_throughput_fraction(decision.cap_fraction))
    fits = [
        j for j in decision.fitting if j in state.queued and state.queued[j].fit_since_s is None
    ]
    for j in fits:
        state.mark_fitting(j, now_s)
    if decision.cap_fraction != cap:
        state.retime(now_s, rate)
    notices = _notices(state, live, decision, now_s)
    for job_id, at, owner, _ in notices:
        state.notice(job_id, at, owner)
    starts = [
        state.start(state.queued[j], now_s, rate, borrowed, alloc)
        for j, borrowed, alloc in decision.starts
    ]
    with db.write() as session:
        _write_stops(session, stops)
        t = JobRow.__table__
        if fits:
            session.execute(
                update(t)
                .where(t.c.id == bindparam("b_id"), t.c.state == "queued")
                .values(fit_since_s=now_s),
                [{"b_id": j} for j in fits],
            )
        if decision.cap_fraction != cap and state.running:
            session.execute(
                update(t)
                .where(t.c.id == bindparam("b_id"), t.c.state == "running")
                .values(done_s=bindparam("done"), updated_s=now_s, rate=rate),
                [{"b_id": j.id, "done": j.done_s} for j in state.running.values()],
            )
        if notices:
            session.execute(
                update(t)
                .where(t.c.id == bindparam("b_id"), t.c.state == "running")
                .values(preempt_at_s=bindparam("at"), preempt_for=bindparam("for")),
                [{"b_id": j, "at": at, "for": owner} for j, at, owner, _ in notices],
            )
            session.execute(insert(EventRow), [e for *_, e in notices])
        if starts:
            done = session.execute(
                update(t)
                .where(t.c.id == bindparam("b_id"), t.c.state == "queued")
                .values(
                    state="running",
                    start_s=func.coalesce(t.c.start_s, now_s),
                    stint_start_s=now_s,
                    updated_s=now_s,
                    done_s=t.c.saved_s,
                    rate=rate,
                    borrowed=bindparam("borrowed"),
                    halls=bindparam("halls"),
                ),
                [
                    {"b_id": j.id, "borrowed": j.borrowed, "halls": [list(a) for a in j.halls]}
                    for j in starts
                ],
            )
            if done.rowcount not in (-1, len(starts)):  # cancelled meanwhile: reload after
                state.loaded = False
        _write_tenants(session, state, tenants, live, now_s)
        busy = sum(state.used_by_hall)
        _write_meta_and_sample(session, plant, meta, now_s, busy, decision, live, len(state.queued))
    outcomes = [s.outcome for s in stops]
    return PassReport(
        now_s=now_s,
        started=len(starts),
        completed=outcomes.count("completed"),
        preempted=outcomes.count("preempted"),
        cancelled=outcomes.count("cancelled"),
        notices=len(notices),
        busy_gpus=busy,
        queued_jobs=len(state.queued),
        cap_fraction=decision.cap_fraction,
        it_budget_w=live.view.it_budget_w,
        duration_s=time.perf_counter() - inp.t0,
        busy_by_hall=tuple(state.used_by_hall),
        busy_by_tenant={tid: g + b for tid, (g, b) in state.used.items() if g + b},
        running_by_tenant={tid: n for tid, n in state.running_jobs.items() if n},
        queued_by_tenant={
            tid: (len(q), state.queued_gpus.get(tid, 0)) for tid, q in state.queues.items() if q
        },
    )


def _honour_reservations(
    state: LiveState, live: LiveView, opened: list[ReservationRow], now: float, ckpt: float
) -> list[Stop]:
    """At a window's start, stop others' work still on booked GPUs (it overran its
    estimate): borrowed first, lowest tier first, the most recently started first, as
    :mod:`narvik.sim.tenancy_sim` does."""
    short = live.view.reservation_holds - sum(live.view.free_by_hall)
    if short <= 0:
        return []
    owners = {r.tenant_id for r in opened} | {
        live.tenant_ids[t.index] for t in live.view.tenants if t.reserved_gpus
    }
    candidates = sorted(
        (j for j in state.running.values() if j.tenant_id not in owners),
        key=lambda j: (not j.borrowed, -state.tier_priority.get(j.tenant_id, 0),
                       -j.stint_start_s, j.id),
    )  # fmt: skip
    stops = []
    for job in candidates:
        if short <= 0:
            break
        job.preempt_at_s, job.preempt_for = now, -1
        stop = due_stop(job, now, ckpt)
        assert stop is not None
        state.stop(stop)
        stops.append(stop)
        short -= job.gpus
    return stops


def _notices(
    state: LiveState, live: LiveView, d: Decision, now: float
) -> list[tuple[int, float, int, dict[str, object]]]:
    """(job id, stop at, reclaimed for tenant id or -1, event) of new preemption notices."""
    out = []
    grace = live.view.grace_period_s
    for j, reclaim_for in d.preempt:
        job = state.running.get(j)
        if job is None or job.preempt_at_s is not None:
            continue
        if reclaim_for >= 0:
            when = d.stop_by_s.get(j, now + grace)
            owner = live.tenant_ids[reclaim_for]
            why = f"reclaimed for tenant #{owner}"
        else:
            when = now + min(grace, max(0.0, live.deadline_s - now))
            owner = -1
            why = "power budget"
        event = {
            "t_s": now,
            "kind": "preemption",
            "tenant_id": job.tenant_id,
            "message": f"job {job.id} ({job.gpus} GPUs) given notice: {why}",
        }
        out.append((j, when, owner, event))
    return out


def _write_stops(session: Session, stops: list[Stop]) -> None:
    if not stops:
        return
    rows = []
    segs = []
    for s in stops:
        j = s.job
        row = {
            "b_id": j.id,
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
                "job_id": j.id,
                "tenant_id": j.tenant_id,
                "hall": h,
                "gpus": c,
                "borrowed": j.borrowed,
                "start_s": j.stint_start_s,
                "end_s": s.at_s,
            }
            for h, c in j.halls
        )
    t = JobRow.__table__
    stmt = (
        update(t)
        .where(t.c.id == bindparam("b_id"), t.c.state == "running")
        .values(
            state=bindparam("state"),
            end_s=bindparam("end_s"),
            halls=None,
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


def _write_tenants(
    session: Session, state: LiveState, tenants: list[TenantRow], live: LiveView, now: float
) -> None:
    """Fair share: decayed GPU-seconds, advanced to this pass."""
    rows = []
    for tv, row in zip(live.view.tenants, tenants, strict=True):
        dt_s = max(now - row.usage_at_s, 0.0)
        used = sum(state.used.get(row.id, (0, 0)))
        if dt_s <= 0:
            continue
        decayed = tv.fair_share_key * row.fair_share_weight
        rows.append({"b_id": row.id, "u": decayed + used * dt_s, "at": now})
    if rows:
        t = TenantRow.__table__
        session.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"))
            .values(usage_gpu_s=bindparam("u"), usage_at_s=bindparam("at")),
            rows,
        )


def _write_meta_and_sample(
    session: Session,
    plant: Plant,
    meta: dict[str, float],
    now_s: float,
    busy: int,
    d: Decision,
    live: LiveView,
    queued: int,
) -> None:
    """Integrate IT, facility and reused-heat energy over the time since the last pass;
    keep a sample a minute.

    IT power is exact every pass (idle fleet plus busy GPUs at the power cap, the linear
    model of :mod:`narvik.physics.it_power`); the facility model itself (PUE, heat reuse at
    this hour's weather) runs when a sample is due, and its ratios to IT power carry the
    integral between samples.
    """
    last = meta.get("last_pass_s", now_s)
    dt_s = max(now_s - last, 0.0)
    new = {"last_pass_s": now_s, "cap_fraction": d.cap_fraction}
    idle_w, busy_w = plant.gpu_power_w(now_s)
    it_w = idle_w + busy * busy_w * d.cap_fraction
    if now_s - meta.get("last_sample_s", -math.inf) >= SAMPLE_EVERY_S:
        power = plant.power_now(now_s, busy, d.cap_fraction)
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
                it_budget_w=min(live.view.it_budget_w, 1e18),
                grid_cap_w=power.grid_cap_w - live.shed_w if power else 0.0,
                heat_reused_w=power.heat_reused_w if power else 0.0,
                cap_fraction=d.cap_fraction,
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
