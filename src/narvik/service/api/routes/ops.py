"""``/healthz`` (open, for load balancers) and ``/metrics`` (Prometheus, operators)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from narvik.service.api.deps import Ctx, Reader, Who
from narvik.service.api.queries import state
from narvik.service.api.schemas import ERROR_RESPONSES
from narvik.service.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(ctx: Ctx) -> dict[str, object]:
    """Alive and the database answers; ``scheduler``: ``leader`` if this replica holds the
    scheduler lease, else ``standby``."""
    with ctx.db.read() as session:
        session.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "scheduler": ctx.runner.role,
        "epoch": ctx.runner.epoch,
        "replica": ctx.lease.name if ctx.lease is not None else None,
        "passes": ctx.runner.passes,
        "database": ctx.db.dialect,
    }


@router.get(
    "/metrics",
    response_class=Response,
    responses={c: ERROR_RESPONSES[c] for c in (401, 403, 429)},
)
def metrics(ctx: Ctx, who: Who, session: Reader) -> Response:
    """Prometheus text, for operators: this process's series, per-tenant series (label
    ``tenant``: running GPUs, queued jobs and GPUs, submissions) and the facility's (latest
    sample).

    Tenants' tokens get 403: a scrape target is the operator's, and a tenant reads the
    same figures of its own through the API (``/jobs``, ``/fleet``, ``/events/stream``).
    (:func:`narvik.service.metrics.exposition` can restrict the text to one tenant's
    series, should tenants be given their own scrape.)"""
    who.require_operator()
    return Response(
        exposition(ctx.metrics, state.metrics_state(session), None),
        media_type=CONTENT_TYPE_LATEST,
    )
