"""``/api/v1/jobs``: submit (idempotent), list, read, cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from narvik.service.deps import Ctx, Reader, Who, Writer
from narvik.service.queries import jobs
from narvik.service.schemas import JobIn, JobOut, JobPage

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "replayed: the job first made with this Idempotency-Key"}},
)
def submit_job(
    data: JobIn,
    ctx: Ctx,
    who: Who,
    session: Writer,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=200, description="retries with the same key are safe"),
    ] = None,
) -> JobOut:
    now = ctx.now_s()
    job, tenant, created = jobs.submit(session, who, data, idempotency_key, ctx.plant, now)
    session.flush()
    if created:
        ctx.metrics.submitted.inc()
    else:
        ctx.metrics.replayed.inc()
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return jobs.to_out(job, tenant, ctx.plant, now)


@router.get("")
def list_jobs(
    ctx: Ctx,
    who: Who,
    session: Reader,
    state: Literal["queued", "running", "completed", "cancelled"] | None = None,
    tenant: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> JobPage:
    rows, total = jobs.listing(session, who, state=state, tenant=tenant, limit=limit, offset=offset)
    return jobs.page(rows, total, ctx.plant, ctx.now_s())


@router.get("/{job_id}")
def get_job(job_id: int, ctx: Ctx, who: Who, session: Reader) -> JobOut:
    job, tenant = jobs.get(session, who, job_id)
    return jobs.to_out(job, tenant, ctx.plant, ctx.now_s())


@router.post("/{job_id}/cancel")
def cancel_job(job_id: int, ctx: Ctx, who: Who, session: Writer) -> JobOut:
    now = ctx.now_s()
    job, tenant = jobs.cancel(session, who, job_id, now)
    return jobs.to_out(job, tenant, ctx.plant, now)
