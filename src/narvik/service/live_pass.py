"""One scheduling pass of the control plane: the narvik policy driven by the wall clock.

A pass reads a consistent snapshot (read-only transaction), stops the jobs whose
time has come, asks :class:`narvik.sched.narvik_policy.NarvikPolicy` — the very
code :mod:`narvik.sim.tenancy_sim` drives with virtual time — for its decision,
and writes the outcome in one write transaction. Starts are guarded by
``state = 'queued'`` so a job cancelled meanwhile is never started; only the
pass moves running jobs, so the allocation in the database is always the one
the policy decided. Run passes from one thread per database.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from narvik.physics.it_power import capped_throughput_fraction
from narvik.sched.narvik_policy import Decision, NarvikPolicy
from narvik.service.live_view import LiveView, build_view
from narvik.service.plant import Plant
from narvik.service.snapshot import Snapshot, Stop, load_snapshot
from narvik.service.tables import EventRow, JobRow, MetaRow, SampleRow, SegmentRow, TenantRow

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


def read_meta(session: Session) -> dict[str, float]:
    return {k: v for k, v in session.execute(select(MetaRow.key, MetaRow.value))}


def run_pass(
    reader: sessionmaker[Session], writer: sessionmaker[Session], plant: Plant, now_s: float
) -> PassReport:
    t0 = time.perf_counter()
    tenancy = plant.tenancy
    with reader() as session, session.begin():
        meta = read_meta(session)
        now_s = max(now_s, meta.get("last_pass_s", 0.0))
        snap = load_snapshot(session, now_s, tenancy.checkpoint_interval_s)
        cap = meta.get("cap_fraction", 1.0)
        live = build_view(snap, plant, cap)
        session.expunge_all()
    decision = NarvikPolicy().decide(live.view)
    rate = float(capped_throughput_fraction(decision.cap_fraction))
    with writer() as session, session.begin():
        _write_stops(session, snap.stops)
        notices = _write_decision(session, snap, live, decision, rate, cap)
        busy = live.view.busy_gpus + sum(live.view.job_gpus[j] for j, _, _ in decision.starts)
        _write_tenants(session, snap, live)
        _write_meta_and_sample(session, plant, meta, now_s, busy, decision, live)
    outcomes = [s.outcome for s in snap.stops]
    return PassReport(
        now_s=now_s,
        started=len(decision.starts),
        completed=outcomes.count("completed"),
        preempted=outcomes.count("preempted"),
        cancelled=outcomes.count("cancelled"),
        notices=notices,
        busy_gpus=busy,
        queued_jobs=len(live.queued) - len(decision.starts),
        cap_fraction=decision.cap_fraction,
        it_budget_w=live.view.it_budget_w,
        duration_s=time.perf_counter() - t0,
    )


def _write_stops(session: Session, stops: list[Stop]) -> None:
    if not stops:
        return
    rows = []
    segs = []
    for s in stops:
        j = s.job
        row = {
            "b_id": j.id,
            "halls": None,
            "preempt_at_s": None,
            "preempt_for": None,
            "cancel_requested_s": None,
            "done_s": s.kept_s,
            "updated_s": s.at_s,
            "saved_s": s.kept_s if s.outcome == "preempted" else j.saved_s,
        }
        if s.outcome == "preempted":
            row.update(state="queued", end_s=None, lost=s.lost_gpu_s, pre=1, fit_since_s=None)
        else:
            row.update(state=s.outcome, end_s=s.at_s, lost=0.0, pre=0, fit_since_s=None)
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
            halls=bindparam("halls"),
            preempt_at_s=bindparam("preempt_at_s"),
            preempt_for=bindparam("preempt_for"),
            cancel_requested_s=bindparam("cancel_requested_s"),
            done_s=bindparam("done_s"),
            updated_s=bindparam("updated_s"),
            saved_s=bindparam("saved_s"),
            fit_since_s=bindparam("fit_since_s"),
            lost_gpu_s=t.c.lost_gpu_s + bindparam("lost"),
            preemptions=t.c.preemptions + bindparam("pre"),
        )
    )
    session.execute(stmt, rows)
    session.execute(insert(SegmentRow), segs)


def _write_decision(
    session: Session, snap: Snapshot, live: LiveView, d: Decision, rate: float, old_cap: float
) -> int:
    now = snap.now_s
    t = JobRow.__table__
    n_run = len(live.running)
    fits = [
        {"b_id": live.job_ids[j], "fit": now}
        for j in d.fitting
        if j >= n_run and math.isnan(live.view.fit_since_s[j])
    ]
    if fits:
        session.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"), t.c.state == "queued")
            .values(fit_since_s=bindparam("fit")),
            fits,
        )
    if d.cap_fraction != old_cap and live.running:
        session.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"), t.c.state == "running")
            .values(done_s=bindparam("done"), updated_s=now, rate=rate),
            [{"b_id": j.id, "done": j.done_at(now)} for j in live.running],
        )
    notices = []
    events = []
    for j, reclaim_for in d.preempt:
        job = live.running[j]
        if job.preempt_at_s is not None:
            continue
        if reclaim_for >= 0:
            when = d.stop_by_s.get(j, now + live.view.grace_period_s)
            owner = live.tenant_ids[reclaim_for]
            why = f"reclaimed for tenant #{owner}"
        else:
            when = now + min(live.view.grace_period_s, max(0.0, live.deadline_s - now))
            owner = -1
            why = "power budget"
        notices.append({"b_id": job.id, "at": when, "for": owner})
        events.append(
            {
                "t_s": now,
                "kind": "preemption",
                "tenant_id": job.tenant_id,
                "message": f"job {job.id} ({job.gpus} GPUs) given notice: {why}",
            }
        )
    if notices:
        session.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"), t.c.state == "running")
            .values(preempt_at_s=bindparam("at"), preempt_for=bindparam("for")),
            notices,
        )
        session.execute(insert(EventRow), events)
    starts = [
        {
            "b_id": live.job_ids[j],
            "borrowed": borrowed,
            "halls": [list(a) for a in alloc],
        }
        for j, borrowed, alloc in d.starts
    ]
    if starts:
        session.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"), t.c.state == "queued")
            .values(
                state="running",
                start_s=func.coalesce(t.c.start_s, now),
                stint_start_s=now,
                updated_s=now,
                done_s=t.c.saved_s,
                rate=rate,
                borrowed=bindparam("borrowed"),
                halls=bindparam("halls"),
            ),
            starts,
        )
    return len(notices)


def _write_tenants(session: Session, snap: Snapshot, live: LiveView) -> None:
    """Fair share: decayed GPU-seconds, advanced to this pass."""
    now = snap.now_s
    rows = []
    for tv, row in zip(live.view.tenants, snap.tenants, strict=True):
        dt_s = max(now - row.usage_at_s, 0.0)
        used = tv.used_guaranteed + tv.used_borrowed
        if dt_s <= 0 and not used:
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
) -> None:
    last = meta.get("last_pass_s", now_s)
    power = plant.power_now(now_s, busy, d.cap_fraction)
    dt_s = max(now_s - last, 0.0)
    new = {"last_pass_s": now_s, "cap_fraction": d.cap_fraction}
    if power is not None:
        for key, w in (
            ("it_energy_j", power.it_power_w),
            ("facility_energy_j", power.facility_power_w),
            ("heat_reused_j", power.heat_reused_w),
        ):
            new[key] = meta.get(key, 0.0) + w * dt_s
    if now_s - meta.get("last_sample_s", -math.inf) >= SAMPLE_EVERY_S:
        session.add(
            SampleRow(
                t_s=now_s,
                busy_gpus=busy,
                queued_jobs=len(live.queued) - len(d.starts),
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
    for key, value in new.items():
        if key in meta:
            session.execute(update(MetaRow).where(MetaRow.key == key).values(value=value))
        else:
            session.add(MetaRow(key=key, value=value))
