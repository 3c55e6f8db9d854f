"""What a replica that does not schedule shows of the fleet: the last pass, from the database.

The leader writes the busy GPUs per hall, the GPU power cap and the IT budget into
``meta`` at every pass; the per-tenant counts come from the jobs table. A standby
builds the same :class:`PassReport` the leader keeps in memory, so ``/api/v1/state``
and the dashboard answer alike on every replica.
"""

from __future__ import annotations

import math

from sqlalchemy import func, select

from narvik.service.db import Database
from narvik.service.runtime.scheduler import PassReport, busy_by_hall, read_meta
from narvik.service.tables import JobRow


def read_report(db: Database) -> PassReport:
    with db.read() as session:
        meta = read_meta(session)
        counts = session.execute(
            select(JobRow.tenant_id, JobRow.state, func.count(), func.sum(JobRow.gpus))
            .where(JobRow.state.in_(("queued", "running")))
            .group_by(JobRow.tenant_id, JobRow.state)
        ).all()
    halls = busy_by_hall(meta)
    busy_by_tenant: dict[int, int] = {}
    running_by_tenant: dict[int, int] = {}
    queued_by_tenant: dict[int, tuple[int, int]] = {}
    for tid, state, n, gpus in counts:
        if state == "running":
            busy_by_tenant[tid], running_by_tenant[tid] = int(gpus or 0), int(n)
        else:
            queued_by_tenant[tid] = (int(n), int(gpus or 0))
    budget = meta.get("it_budget_w", math.inf)
    return PassReport(
        now_s=meta.get("last_pass_s", 0.0),
        started=0,
        completed=0,
        preempted=0,
        cancelled=0,
        notices=0,
        busy_gpus=sum(halls),
        queued_jobs=sum(n for n, _ in queued_by_tenant.values()),
        cap_fraction=meta.get("cap_fraction", 1.0),
        it_budget_w=math.inf if budget >= 1e18 else budget,
        duration_s=0.0,
        busy_by_hall=tuple(halls),
        busy_by_tenant=busy_by_tenant,
        running_by_tenant=running_by_tenant,
        queued_by_tenant=queued_by_tenant,
    )
