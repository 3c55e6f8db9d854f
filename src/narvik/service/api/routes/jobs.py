"""``/api/v1/jobs``: submit (idempotent), list, read, cancel (``POST .../cancel`` or
``DELETE``: the same call). Queued jobs carry the ``reason`` they wait
(:mod:`narvik.service.api.queries.reasons`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from narvik.service.api.context import ServiceContext
from narvik.service.api.deps import Ctx, Reader, Who, get_principal
from narvik.service.api.errors import InvalidError
from narvik.service.api.queries import jobs, reasons
from narvik.service.api.ratelimit import limits_of
from narvik.service.api.schemas import NO_NUL, JobIn, JobOut, JobPage, RowId, TenantQuery
from narvik.service.tables import JobRow

router = APIRouter(prefix="/jobs", tags=["jobs"])


_SUBMIT_HEADERS = [
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "retries with the same key return the job first made with it",
        "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_NUL},
    },
    {
        "name": "Authorization",
        "in": "header",
        "required": False,
        "description": "Bearer <token>",
        "schema": {"type": "string"},
    },
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobOut,
    responses={200: {"description": "replayed: the job first made with this Idempotency-Key"}},
    openapi_extra={"parameters": _SUBMIT_HEADERS},
)
async def submit_job(data: JobIn, request: Request) -> Response:
    """Queue a job; answered once it is committed (group commit with other submissions).

    The hot path of the API: it reads its two headers itself rather than through
    dependencies, which halves the time FastAPI spends per submission.
    """
    ctx: ServiceContext = request.app.state.ctx
    who = await get_principal(ctx, request.headers.get("authorization"))
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidError("give 1 to 200 characters", "Idempotency-Key")
    if key is not None and "\x00" in key:
        raise InvalidError("may not contain NUL characters", "Idempotency-Key")
    now = ctx.now_s()
    tenant = ctx.tenants.target(who, data.tenant)
    jobs.check_eligible(tenant, data.gpus, ctx.plant)
    limits = limits_of(request.app)
    limits.queue.check(tenant.id, tenant.name)  # in memory: no database read
    job, created = await ctx.batcher.submit(jobs.new_job(tenant, data, key, now))
    # A new job has not been seen by a pass yet; a replayed one may have moved on.
    why = "scheduling" if created else await run_in_threadpool(_reason_of, ctx, job, now)
    out = jobs.to_out(job, tenant.name, ctx.plant, now, why).model_dump_json()
    if created:
        limits.queue.added(tenant.id)
        ctx.metrics.submitted.inc()
        ctx.metrics.tenant_submitted.labels(tenant=tenant.name).inc()
        return Response(out, status.HTTP_201_CREATED, media_type="application/json")
    ctx.metrics.replayed.inc()
    return Response(
        out, status.HTTP_200_OK, {"Idempotent-Replayed": "true"}, media_type="application/json"
    )


@router.get("")
def list_jobs(
    ctx: Ctx,
    who: Who,
    session: Reader,
    state: Literal["queued", "running", "completed", "cancelled"] | None = None,
    tenant: TenantQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> JobPage:
    rows, total = jobs.listing(session, who, state=state, tenant=tenant, limit=limit, offset=offset)
    now = ctx.now_s()
    why = reasons.reasons_for(session, ctx.plant, now, (j for j, _ in rows))
    return JobPage(
        jobs=[jobs.to_out(j, t.name, ctx.plant, now, why.get(j.id)) for j, t in rows],
        total=total,
    )


@router.get("/{job_id}")
def get_job(job_id: RowId, ctx: Ctx, who: Who, session: Reader) -> JobOut:
    job, tenant = jobs.get(session, who, job_id)
    now = ctx.now_s()
    why = reasons.reasons_for(session, ctx.plant, now, [job]).get(job.id)
    return jobs.to_out(job, tenant.name, ctx.plant, now, why)


def _reason_of(ctx: ServiceContext, job: JobRow, now_s: float) -> str | None:
    if job.state != "queued":
        return None
    with ctx.db.read() as session:
        return reasons.reasons_for(session, ctx.plant, now_s, [job]).get(job.id)


@router.delete("/{job_id}", summary="Cancel Job (as POST /jobs/{job_id}/cancel)")
@router.post("/{job_id}/cancel")
def cancel_job(job_id: RowId, ctx: Ctx, who: Who) -> JobOut:
    """Cancel: a queued job at once; a running one stops at this instant (next pass)."""
    now = ctx.now_s()
    with ctx.db.write() as session:
        job, tenant = jobs.cancel(session, who, job_id, now)
        out = jobs.to_out(job, tenant.name, ctx.plant, now)
    return out
