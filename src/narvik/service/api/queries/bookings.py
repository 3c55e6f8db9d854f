"""Advance reservations: book, list and cancel GPUs for a future window."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal
from narvik.service.api.errors import ConflictError, InvalidError, NotFoundError
from narvik.service.api.queries import rules
from narvik.service.api.queries.tenants import (
    active_bookings,
    guarantees,
    lock_tenancy,
    site_halls,
    target,
)
from narvik.service.api.schemas import ReservationIn, ReservationOut
from narvik.service.plant import Plant, utc
from narvik.service.tables import EventRow, ReservationRow, TenantRow


def book(
    session: Session, who: Principal, data: ReservationIn, plant: Plant, now_s: float
) -> tuple[ReservationRow, TenantRow]:
    """Book GPUs for a window, under the tenancy's rules; raises naming the field.

    Checked under :func:`.tenants.lock_tenancy` (concurrent bookings and quota changes
    are checked one after the other, each against what the others committed):

    - the window starts now or later (``start``);
    - the GPUs fit the halls the tenant may use (``gpus``; the loader's
      ``check_against_pool``: a reservation fits the pool);
    - with the guarantees in force and the other bookings running at each instant of the
      window, no hall set is promised more GPUs than it has in force then
      (:func:`.rules.check_booking`, 422 ``gpus``): a booking never takes GPUs a guarantee
      needs;
    - bookings overlapping the window hold at most half the fleet in force at its start
      (409 ``gpus``), so bookings alone never hold the site.
    """
    lock_tenancy(session)
    tenant = target(session, who, data.tenant)
    start_s, end_s = data.start.timestamp(), data.end.timestamp()
    if start_s < now_s:
        raise InvalidError(
            f"the window starts in the past (now is {utc(now_s):%Y-%m-%dT%H:%M:%SZ})", "start"
        )
    reach = plant.reach_gpus(tenant.allowed_halls)
    if data.gpus > reach:
        raise InvalidError(
            f"{data.gpus:,} GPUs is more than the {reach:,} the tenant may use", "gpus"
        )
    claim = rules.Claim(tuple(plant.hall_indices(tenant.allowed_halls)), data.gpus, start_s, end_s)
    everyone = list(session.scalars(select(TenantRow)))
    try:
        rules.check_booking(
            site_halls(plant),
            claim,
            guarantees(plant, everyone),
            active_bookings(session, plant, now_s),
        )
    except rules.RuleError as exc:
        raise InvalidError(exc.message, exc.field) from exc
    fleet = sum(plant.capacity_by_hall(start_s))
    overlapping = session.scalar(
        select(func.coalesce(func.sum(ReservationRow.gpus), 0)).where(
            ReservationRow.state == "booked",
            ReservationRow.start_s < end_s,
            ReservationRow.end_s > start_s,
        )
    )
    if int(overlapping or 0) + data.gpus > fleet // 2:
        raise ConflictError(
            f"bookings in this window would hold {int(overlapping or 0) + data.gpus:,} GPUs; "
            f"at most half the fleet ({fleet // 2:,}) may be booked at once",
            "gpus",
        )
    row = ReservationRow(
        tenant_id=tenant.id,
        gpus=data.gpus,
        start_s=start_s,
        end_s=end_s,
        state="booked",
        created_at_s=now_s,
    )
    session.add(row)
    session.flush()
    session.add(
        EventRow(
            t_s=now_s,
            kind="reservation",
            tenant_id=tenant.id,
            message=f"{tenant.name} booked {data.gpus:,} GPUs from "
            f"{data.start:%Y-%m-%d %H:%M} to {data.end:%Y-%m-%d %H:%M} UTC",
        )
    )
    return row, tenant


def listing(session: Session, who: Principal) -> list[tuple[ReservationRow, TenantRow]]:
    q = select(ReservationRow, TenantRow).join(TenantRow).order_by(ReservationRow.start_s)
    if not who.is_operator:
        q = q.where(ReservationRow.tenant_id == who.tenant_id)
    return [(r, t) for r, t in session.execute(q).all()]


def cancel(
    session: Session, who: Principal, rid: int, now_s: float
) -> tuple[ReservationRow, TenantRow]:
    found = session.execute(
        select(ReservationRow, TenantRow).join(TenantRow).where(ReservationRow.id == rid)
    ).first()
    if found is None or (not who.is_operator and found[0].tenant_id != who.tenant_id):
        raise NotFoundError(f"no reservation {rid}", "reservation_id")
    row, tenant = found
    if row.state != "booked" or row.end_s <= now_s:
        raise ConflictError(
            f"reservation {rid} is {row.state if row.state != 'booked' else 'over'}",
            "reservation_id",
        )
    row.state = "cancelled"
    session.add(
        EventRow(
            t_s=now_s,
            kind="reservation",
            tenant_id=tenant.id,
            message=f"{tenant.name} cancelled booking {rid}",
        )
    )
    return row, tenant


def to_out(row: ReservationRow, tenant: TenantRow) -> ReservationOut:
    return ReservationOut(
        id=row.id,
        tenant=tenant.name,
        gpus=row.gpus,
        start=utc(row.start_s),
        end=utc(row.end_s),
        state=row.state,  # type: ignore[arg-type]
    )
