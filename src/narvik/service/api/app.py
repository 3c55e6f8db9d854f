"""The app factory of ``narvik serve``: FastAPI over the service layer, built on demand."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from narvik import __version__
from narvik.service.api import docs_local, events_stream, problems, ratelimit
from narvik.service.api.context import ServiceContext, build_context
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
        # What start-up made (modules, the app, the site) lives as long as the process:
        # moved out of the collector's generations, a full collection no longer scans it
        # (measured: 30-100 ms pauses of every request otherwise; docs/benchmarks.md).
        gc.freeze()
        if ctx.settings.scheduler:
            ctx.runner.start()
        try:
            yield
        finally:
            await ctx.batcher.stop()
            ctx.runner.stop()
            ctx.db.dispose()
            if ctx.scheduler_lock is not None:
                ctx.scheduler_lock.close()  # another process may schedule this SQLite file

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
    app.include_router(events_stream.router, prefix=API, responses=ERROR_RESPONSES)
    ratelimit.install(app)
    docs_local.install(app)

    problems.install(app)  # every error answer is an RFC 9457 problem

    return app


def context_of(app: FastAPI) -> ServiceContext:
    return app.state.ctx  # type: ignore[no-any-return]
