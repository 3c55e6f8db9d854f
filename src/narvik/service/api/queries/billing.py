"""Usage and bill of a tenant over a period, from the ledger of run segments.

GPU-hours are the exact overlap of each segment (a job's stint on a hall) with
the period; running stints count up to now. Guaranteed use is priced at the
tenant's price, borrowed use at its borrowed price.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal
from narvik.service.api.errors import InvalidError
from narvik.service.api.queries.tenants import target
from narvik.service.api.schemas import UsageOut
from narvik.service.plant import utc
from narvik.service.tables import JobRow, SegmentRow


def month_start(now_s: float) -> dt.datetime:
    return utc(now_s).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usage(
    session: Session,
    who: Principal,
    tenant_name: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    now_s: float,
) -> UsageOut:
    tenant = target(session, who, tenant_name)
    t0 = (start or month_start(now_s)).timestamp()
    t1 = min((end.timestamp() if end else now_s), now_s)
    if t1 < t0:
        raise InvalidError("the period ends before it starts", "end")
    gpu_s = {False: 0.0, True: 0.0}
    segs = session.execute(
        select(SegmentRow.start_s, SegmentRow.end_s, SegmentRow.gpus, SegmentRow.borrowed).where(
            SegmentRow.tenant_id == tenant.id, SegmentRow.end_s > t0, SegmentRow.start_s < t1
        )
    )
    for s0, s1, g, borrowed in segs:
        gpu_s[bool(borrowed)] += max(0.0, min(s1, t1) - max(s0, t0)) * g
    open_ = session.execute(
        select(JobRow.stint_start_s, JobRow.gpus, JobRow.borrowed).where(
            JobRow.tenant_id == tenant.id, JobRow.state == "running"
        )
    )
    for stint_s, g, borrowed in open_:
        gpu_s[bool(borrowed)] += max(0.0, t1 - max(stint_s or t1, t0)) * g
    done = session.scalar(
        select(func.count(JobRow.id)).where(
            JobRow.tenant_id == tenant.id,
            JobRow.state == "completed",
            JobRow.end_s >= t0,
            JobRow.end_s < t1,
        )
    )
    g_h, b_h = gpu_s[False] / 3600.0, gpu_s[True] / 3600.0
    b_price = tenant.borrowed_price_eur_per_gpu_hour
    price_b = tenant.price_eur_per_gpu_hour if b_price is None else b_price
    return UsageOut(
        tenant=tenant.name,
        start=utc(t0),
        end=utc(t1),
        guaranteed_gpu_hours=g_h,
        borrowed_gpu_hours=b_h,
        cost_eur=g_h * tenant.price_eur_per_gpu_hour + b_h * price_b,
        jobs_completed=int(done or 0),
    )
