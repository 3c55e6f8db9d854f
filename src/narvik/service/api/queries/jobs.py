"""Jobs: submit (idempotent), list, read and cancel; each tenant sees only its own."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal
from narvik.service.api.directory import TenantInfo
from narvik.service.api.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from narvik.service.api.queries import rules
from narvik.service.api.schemas import JobIn, JobOut
from narvik.service.news import announce
from narvik.service.plant import Plant, utc
from narvik.service.tables import JobRow, TenantRow


def request_digest(data: JobIn) -> str:
    return hashlib.sha256(json.dumps(data.model_dump(), sort_keys=True).encode()).hexdigest()


def check_eligible(tenant: TenantInfo, gpus: int, plant: Plant) -> None:
    """Refuse, with the reason, work the tenancy rules would never let run.

    - A suspended tenant submits nothing (403 ``tenant``).
    - A job larger than the halls the tenant may use once every phase is online is
      refused (422 ``gpus``): the engine's own rule (:meth:`narvik.engine.pool.Pool.submit`
      rejects it).
    - A job larger than the tenant can ever hold through its guarantee or its borrowing is
      refused (422 ``gpus``): :func:`.rules.job_size_limit`, the engine's rule that a job
      starts within the quota in force or within the borrowing limit, in its halls in force.
    - Bookings do not raise that limit (a booking years ahead must not let work larger
      than the tenant could otherwise hold be queued now), except for a tenant that can
      neither hold quota nor borrow: it runs only in its bookings, so up to its largest.
      See :mod:`.rules`.
    """
    if not tenant.active:
        raise ForbiddenError(f"tenant {tenant.name!r} is suspended", "tenant")
    reach = plant.reach_gpus(tenant.allowed_halls)
    confined = plant.hall_indices(tenant.allowed_halls)
    where = f"halls {', '.join(tenant.allowed_halls)}" if confined else "the fleet"
    if gpus > reach:
        raise InvalidError(
            f"{gpus:,} GPUs is more than the {reach:,} GPUs of {where}, "
            f"where tenant {tenant.name!r} may run",
            "gpus",
        )
    halls = [(h.name, h.online_from_s, h.gpus) for h in plant.halls]
    most = rules.job_size_limit(halls, tenant.quota, tuple(confined), tenant.max_borrow_gpus)
    booked = tenant.booked_gpus
    if most == 0 and not booked:
        raise ForbiddenError(f"tenant {tenant.name!r} holds no quota and may not borrow", "tenant")
    if most == 0:
        most = min(booked, reach)
    if gpus > most:
        quota_peak = max((int(g) for _, g in tenant.quota), default=0)
        borrow = "none" if tenant.max_borrow_gpus is None else f"{tenant.max_borrow_gpus:,}"
        raise InvalidError(
            f"{gpus:,} GPUs is more than tenant {tenant.name!r} can ever hold ({most:,}): "
            f"guarantee up to {quota_peak:,}, borrowing limit {borrow}, in {where} as "
            "they come online (bookings do not raise this limit)",
            "gpus",
        )


def new_job(tenant: TenantInfo, data: JobIn, key: str | None, now_s: float) -> dict[str, Any]:
    """The row of a new job, as the batcher inserts it."""
    return {
        "tenant_id": tenant.id,
        "name": data.name,
        "gpus": data.gpus,
        "runtime_s": data.runtime_s,
        "estimate_s": data.estimate_s or data.runtime_s,
        "submit_s": now_s,
        "state": "queued",
        "idempotency_key": key,
        "request_sha256": request_digest(data),
        "borrowed": False,
        "done_s": 0.0,
        "updated_s": now_s,
        "rate": 1.0,
        "saved_s": 0.0,
        "preemptions": 0,
        "lost_gpu_s": 0.0,
    }


def get(session: Session, who: Principal, job_id: int) -> tuple[JobRow, TenantRow]:
    row = session.execute(
        select(JobRow, TenantRow).join(TenantRow).where(JobRow.id == job_id)
    ).first()
    if row is None or (not who.is_operator and row[0].tenant_id != who.tenant_id):
        raise NotFoundError(f"no job {job_id}", "job_id")
    return row[0], row[1]


def listing(
    session: Session,
    who: Principal,
    *,
    state: str | None,
    tenant: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[JobRow, TenantRow]], int]:
    q = select(JobRow, TenantRow).join(TenantRow)
    count = select(func.count(JobRow.id)).join(TenantRow)
    if not who.is_operator:
        if tenant and tenant != who.tenant_name:
            raise ForbiddenError("a tenant lists its own jobs only", "tenant")
        q = q.where(JobRow.tenant_id == who.tenant_id)
        count = count.where(JobRow.tenant_id == who.tenant_id)
    elif tenant:
        q = q.where(TenantRow.name == tenant)
        count = count.where(TenantRow.name == tenant)
    if state:
        q = q.where(JobRow.state == state)
        count = count.where(JobRow.state == state)
    rows = session.execute(q.order_by(JobRow.id.desc()).limit(limit).offset(offset)).all()
    return [(r[0], r[1]) for r in rows], int(session.scalar(count) or 0)


def cancel(session: Session, who: Principal, job_id: int, now_s: float) -> tuple[JobRow, TenantRow]:
    """Queued jobs are cancelled at once; running ones at this instant by the next pass."""
    job, tenant = get(session, who, job_id)
    if job.state == "queued":
        done = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.state == "queued")
            .values(state="cancelled", end_s=now_s)
        )
        if done.rowcount:  # type: ignore[attr-defined]
            announce(session, "cancel", [job_id], now_s)
            session.refresh(job)
            return job, tenant
        session.refresh(job)
    if job.state == "running" and job.cancel_requested_s is None:
        job.cancel_requested_s = now_s
        announce(session, "cancel", [job_id], now_s)
    elif job.state in ("completed", "cancelled"):
        raise ConflictError(f"job {job_id} has already ended ({job.state})", "job_id")
    return job, tenant


def to_out(
    job: JobRow, tenant: str, plant: Plant, now_s: float, reason: str | None = None
) -> JobOut:
    """``reason``: why a queued job waits (:mod:`narvik.service.api.queries.reasons`);
    ignored unless the job is queued."""
    state = job.state
    done = job.done_s
    if state == "running":
        done = min(job.runtime_s, job.done_s + max(now_s - job.updated_s, 0.0) * job.rate)
    return JobOut(
        id=job.id,
        tenant=tenant,
        name=job.name,
        gpus=job.gpus,
        runtime_s=job.runtime_s,
        estimate_s=job.estimate_s,
        state=state,  # type: ignore[arg-type]
        cancel_requested=job.cancel_requested_s is not None,
        submitted_at=utc(job.submit_s),
        started_at=None if job.start_s is None else utc(job.start_s),
        ended_at=None if job.end_s is None else utc(job.end_s),
        borrowed=job.borrowed,
        halls={plant.hall_names[h]: c for h, c in (job.halls or [])},
        preemptions=job.preemptions,
        lost_gpu_s=job.lost_gpu_s,
        work_done_s=done,
        preempting_at=None if job.preempt_at_s is None else utc(job.preempt_at_s),
        reason=reason if state == "queued" else None,  # type: ignore[arg-type]
    )
