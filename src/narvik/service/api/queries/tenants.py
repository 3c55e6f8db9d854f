"""Tenants and their quota ramps (operators), with the eligibility rules of the tenancy."""

from __future__ import annotations

import datetime as dt

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal
from narvik.service.api.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from narvik.service.api.schemas import TenantIn, TenantOut
from narvik.service.plant import Plant, utc
from narvik.service.ramps import quota_at
from narvik.service.tables import EventRow, TenantRow
from narvik.workload.tenancy import QuotaStep, Tenant


def by_name(session: Session, name: str) -> TenantRow:
    row = session.scalar(select(TenantRow).where(TenantRow.name == name))
    if row is None:
        raise NotFoundError(f"no tenant {name!r}", "tenant")
    return row


def target(session: Session, who: Principal, requested: str | None) -> TenantRow:
    """The tenant a call acts for: a tenant's own, or the one an operator names."""
    if who.is_operator:
        if not requested:
            raise InvalidError("operators name the tenant they act for", "tenant")
        return by_name(session, requested)
    if requested and requested != who.tenant_name:
        raise ForbiddenError("a tenant acts for itself only", "tenant")
    assert who.tenant_id is not None
    row = session.get(TenantRow, who.tenant_id)
    assert row is not None
    return row


def check_rules(data: TenantIn, plant: Plant, others: list[TenantRow]) -> None:
    """The tenancy's rules: known tier and jurisdiction, ramps forward, quota where allowed."""
    try:
        Tenant.model_validate(data.model_dump())
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        field, _, rest = msg.partition(": ")
        raise InvalidError(rest or msg, field if rest else None) from exc
    tenancy = plant.tenancy
    tier = plant.tiers.get(data.tier)
    if tier is None:
        raise InvalidError(f"unknown tier {data.tier!r} (known: {', '.join(plant.tiers)})", "tier")
    holds = any(q.gpus > 0 for q in data.quota)
    if holds and not tier.may_hold_quota:
        raise InvalidError(f"tier {data.tier!r} may only borrow surplus, not hold quota", "quota")
    if (
        holds
        and tenancy.quota_jurisdictions
        and data.jurisdiction not in tenancy.quota_jurisdictions
    ):
        raise InvalidError(
            f"jurisdiction {data.jurisdiction!r} may not hold quota "
            f"(may: {', '.join(tenancy.quota_jurisdictions)})",
            "quota",
        )
    for h in data.allowed_halls:
        if h not in plant.hall_names:
            raise InvalidError(
                f"unknown hall {h!r} (known: {', '.join(plant.hall_names)})", "allowed_halls"
            )
    fleet = sum(plant.hall_gpus)
    days = sorted({q.start for q in data.quota} | {_d(s) for o in others for s, _ in o.quota})
    for day in days:
        total = quota_at(_steps(data.quota), day) + sum(quota_at(o.quota, day) for o in others)
        if total > fleet:
            raise InvalidError(
                f"quotas from {day} would add up to {total:,} GPUs, above the fleet of {fleet:,}",
                "quota",
            )


def _d(s: object) -> dt.date:
    return dt.date.fromisoformat(str(s))


def _steps(quota: list[QuotaStep]) -> list[list[object]]:
    return [[q.start.isoformat(), q.gpus] for q in quota]


def create(
    session: Session, who: Principal, data: TenantIn, plant: Plant, now_s: float
) -> TenantRow:
    who.require_operator()
    others = list(session.scalars(select(TenantRow)))
    if any(o.name == data.name for o in others):
        raise ConflictError(f"tenant {data.name!r} exists", "name")
    check_rules(data, plant, others)
    row = TenantRow(
        **data.model_dump(exclude={"quota"}),
        quota=_steps(data.quota),
        active=True,
        usage_gpu_s=0.0,
        usage_at_s=now_s,
        created_at_s=now_s,
    )
    session.add(row)
    session.flush()
    session.add(
        EventRow(t_s=now_s, kind="tenant", tenant_id=row.id, message=f"tenant {row.name} created")
    )
    return row


def set_quota(
    session: Session, who: Principal, name: str, quota: list[QuotaStep], plant: Plant, now_s: float
) -> TenantRow:
    who.require_operator()
    row = by_name(session, name)
    others = [o for o in session.scalars(select(TenantRow)) if o.id != row.id]
    data = TenantIn.model_validate({**to_in(row), "quota": [q.model_dump() for q in quota]})
    check_rules(data, plant, others)
    row.quota = _steps(quota)
    ramp = ", ".join(f"{q.gpus:,} from {q.start}" for q in quota) or "none"
    session.add(
        EventRow(t_s=now_s, kind="quota", tenant_id=row.id, message=f"quota of {name}: {ramp}")
    )
    return row


def to_in(row: TenantRow) -> dict[str, object]:
    return {
        "name": row.name,
        "tier": row.tier,
        "jurisdiction": row.jurisdiction,
        "quota": [{"start": s, "gpus": g} for s, g in row.quota],
        "max_borrow_gpus": row.max_borrow_gpus,
        "lends": row.lends,
        "fair_share_weight": row.fair_share_weight,
        "allowed_halls": list(row.allowed_halls),
        "price_eur_per_gpu_hour": row.price_eur_per_gpu_hour,
        "borrowed_price_eur_per_gpu_hour": row.borrowed_price_eur_per_gpu_hour,
    }


def to_out(row: TenantRow, now_s: float) -> TenantOut:
    return TenantOut.model_validate(
        {
            **to_in(row),
            "active": row.active,
            "quota_gpus_now": quota_at(row.quota, utc(now_s).date()),
        }
    )


def visible(session: Session, who: Principal) -> list[TenantRow]:
    q = select(TenantRow).order_by(TenantRow.id)
    if not who.is_operator:
        q = q.where(TenantRow.id == who.tenant_id)
    return list(session.scalars(q))


def seed(session: Session, plant: Plant, now_s: float) -> int:
    """Create the scenario's tenants in an empty database; returns how many."""
    if session.scalar(select(TenantRow.id).limit(1)) is not None:
        return 0
    for t in plant.tenancy.tenants:
        data = t.model_dump()
        session.add(
            TenantRow(
                **{k: v for k, v in data.items() if k not in ("quota", "allowed_halls")},
                quota=_steps(list(t.quota)),
                allowed_halls=list(t.allowed_halls),
                active=True,
                usage_gpu_s=0.0,
                usage_at_s=now_s,
                created_at_s=now_s,
            )
        )
    return len(plant.tenancy.tenants)
