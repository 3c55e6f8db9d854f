"""The app factory of ``narvik serve``: FastAPI over the service layer, built on demand."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from narvik import __version__
from narvik.service.api.context import ServiceContext, build_context
from narvik.service.api.errors import ApiError
from narvik.service.api.routes import bookings, dashboard, jobs, ops, state, tenants
from narvik.service.api.schemas import ERROR_RESPONSES
from narvik.service.settings import ServiceSettings

API = "/api/v1"


def create_app(
    settings: ServiceSettings | None = None, *, wall_s: Callable[[], float] = time.time
) -> FastAPI:
    """``wall_s``: the wall clock the service clock starts from (tests give a fixed one)."""
    ctx = build_context(settings or ServiceSettings(), wall_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.batcher.start()
        if ctx.settings.scheduler:
            ctx.runner.start()
        try:
            yield
        finally:
            await ctx.batcher.stop()
            ctx.runner.stop()
            ctx.db.dispose()

    app = FastAPI(
        title="narvik control plane",
        version=__version__,
        description="The live Stargate Norway scheduler: tenants, jobs, reservations, power.",
        lifespan=lifespan,
        # Metrics are narvik's own (Prometheus at /metrics); FastAPI's OpenTelemetry hooks
        # would cost a third of the time of a submission.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        max_body_size=ctx.settings.max_body_bytes,
    )
    app.state.ctx = ctx
    for module in (jobs, tenants, bookings, state):
        app.include_router(module.router, prefix=API, responses=ERROR_RESPONSES)
    app.include_router(ops.router)
    app.include_router(dashboard.router)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    return app


def context_of(app: FastAPI) -> ServiceContext:
    return app.state.ctx  # type: ignore[no-any-return]
