"""``/api/v1/reservations`` (tenants book) and ``/api/v1/curtailments`` (operators)."""

from __future__ import annotations

from fastapi import APIRouter, status

from narvik.service.api.deps import Ctx, Reader, Who
from narvik.service.api.queries import bookings, grid
from narvik.service.api.schemas import (
    CurtailmentIn,
    CurtailmentOut,
    ReservationIn,
    ReservationOut,
    RowId,
)

router = APIRouter(tags=["reservations and grid events"])


@router.post("/reservations", status_code=status.HTTP_201_CREATED)
def book(data: ReservationIn, ctx: Ctx, who: Who) -> ReservationOut:
    with ctx.db.write() as session:
        row, tenant = bookings.book(session, who, data, ctx.plant, ctx.now_s())
        out = bookings.to_out(row, tenant)
    ctx.refresh_tenants()
    return out


@router.get("/reservations")
def list_reservations(who: Who, session: Reader) -> list[ReservationOut]:
    return [bookings.to_out(r, t) for r, t in bookings.listing(session, who)]


@router.post("/reservations/{reservation_id}/cancel")
def cancel_reservation(reservation_id: RowId, ctx: Ctx, who: Who) -> ReservationOut:
    with ctx.db.write() as session:
        row, tenant = bookings.cancel(session, who, reservation_id, ctx.now_s())
        out = bookings.to_out(row, tenant)
    ctx.refresh_tenants()
    return out


@router.post("/curtailments", status_code=status.HTTP_201_CREATED)
def declare(data: CurtailmentIn, ctx: Ctx, who: Who) -> CurtailmentOut:
    with ctx.db.write() as session:
        return grid.to_out(grid.declare(session, who, data, ctx.now_s()))


@router.get("/curtailments")
def list_curtailments(who: Who, session: Reader) -> list[CurtailmentOut]:
    return [grid.to_out(r) for r in grid.listing(session, who)]


@router.post("/curtailments/{curtailment_id}/lift")
def lift(curtailment_id: RowId, ctx: Ctx, who: Who) -> CurtailmentOut:
    with ctx.db.write() as session:
        return grid.to_out(grid.lift(session, who, curtailment_id, ctx.now_s()))
