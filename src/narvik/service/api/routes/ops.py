"""``/healthz`` (open, for load balancers) and ``/metrics`` (Prometheus, operators)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from narvik.service.api.deps import Ctx, Who
from narvik.service.api.schemas import ERROR_RESPONSES

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(ctx: Ctx) -> dict[str, object]:
    with ctx.db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "passes": ctx.runner.passes, "database": ctx.db.dialect}


@router.get(
    "/metrics",
    response_class=Response,
    responses={c: ERROR_RESPONSES[c] for c in (401, 403)},
)
def metrics(ctx: Ctx, who: Who) -> Response:
    who.require_operator()
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
