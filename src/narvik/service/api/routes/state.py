"""``/api/v1/fleet``, ``/power``, ``/samples``, ``/events``, ``/usage``: the site now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from narvik.service.api.deps import Ctx, Reader, Who
from narvik.service.api.queries import billing, state
from narvik.service.api.schemas import (
    EventOut,
    FleetOut,
    PowerOut,
    SampleOut,
    TenantQuery,
    UsageOut,
    UtcTime,
)

router = APIRouter(tags=["state"])


@router.get("/fleet")
async def fleet(ctx: Ctx, who: Who) -> FleetOut:
    """GPUs in use by hall, tier and tenant, and the queue, as of the last pass.

    Tenants see their own GPUs and queue, and a tier's GPUs only where at least two other
    tenants run work (or it is the tier's only member)."""
    return state.fleet(ctx.runner.last, ctx.tenants, who, ctx.plant, ctx.now_s())


@router.get("/power")
def power(ctx: Ctx, who: Who, session: Reader) -> PowerOut:
    return state.power(session, ctx.plant, ctx.now_s())


@router.get("/samples")
def samples(
    who: Who, session: Reader, limit: Annotated[int, Query(ge=1, le=1440)] = 240
) -> list[SampleOut]:
    """The site a minute apart, oldest first: the fleet's power and occupancy; tenants see
    their own queue in ``queued_jobs``, operators the fleet's."""
    return state.samples(session, limit, who)


@router.get("/events")
def events(
    who: Who, session: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[EventOut]:
    return state.events(session, who, limit)


@router.get("/usage")
def usage(
    ctx: Ctx,
    who: Who,
    session: Reader,
    tenant: TenantQuery = None,
    start: UtcTime | None = None,
    end: UtcTime | None = None,
) -> UsageOut:
    """GPU-hours and the bill of a tenant (default: this month so far)."""
    return billing.usage(session, who, tenant, start, end, ctx.now_s())
