"""Tenants and their quota ramps (operators), with the eligibility rules of the tenancy."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal, recheck
from narvik.service.api.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from narvik.service.api.queries import rules
from narvik.service.api.schemas import TenantIn, TenantOut
from narvik.service.plant import Plant, utc
from narvik.service.ramps import quota_at
from narvik.service.tables import EventRow, ReservationRow, TenantRow
from narvik.workload.tenancy import QuotaStep, Tenant, quota_holding_error


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


def lock_tenancy(session: Session) -> None:
    """Serialise the writers that check the tenancy's capacity and then change it.

    Quotas and bookings are checked against each other (:mod:`.rules`), so every
    check-then-write (a tenant created, a quota ramp set, a booking made) takes this
    lock first, in its own transaction, before it reads what it checks against; the
    lock is held to the commit. PostgreSQL: a transaction-scoped advisory lock (writers
    run concurrently there, and READ COMMITTED statements after the lock see every
    commit made before it). SQLite: nothing to do, a writer holds the database from
    ``BEGIN IMMEDIATE`` on (:meth:`narvik.service.db.Database.write`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TENANCY_LOCK_KEY})


TENANCY_LOCK_KEY = 0x6E61_7276_696B_0001
"""Advisory lock key of :func:`lock_tenancy` ("narvik" and 1)."""


def site_halls(plant: Plant) -> rules.Halls:
    """The plant's halls as :mod:`.rules` takes them: (name, online from, GPUs)."""
    return [(h.name, h.online_from_s, h.gpus) for h in plant.halls]


def guarantees(plant: Plant, tenants: list[TenantRow]) -> list[rules.Claim]:
    """The quota ramps of ``tenants`` as claims on the halls each may use."""
    out: list[rules.Claim] = []
    for t in tenants:
        out += rules.ramp_claims(t.quota, tuple(plant.hall_indices(t.allowed_halls)))
    return out


def active_bookings(session: Session, plant: Plant, now_s: float) -> list[rules.Claim]:
    """Bookings not cancelled and not over, as claims on their tenants' halls."""
    rows = session.execute(
        select(ReservationRow, TenantRow.allowed_halls)
        .join(TenantRow)
        .where(ReservationRow.state == "booked", ReservationRow.end_s > now_s)
    ).all()
    return [
        rules.Claim(tuple(plant.hall_indices(halls)), r.gpus, r.start_s, r.end_s)
        for r, halls in rows
    ]


def check_rules(
    data: TenantIn, plant: Plant, others: list[TenantRow], bookings: list[rules.Claim]
) -> None:
    """The tenancy's rules for a tenant as it would be (``data``), beside ``others`` and the
    ``bookings`` still to run; raises :class:`InvalidError` naming the field.

    - The scenario file's own rules (:class:`narvik.workload.tenancy.Tenant`: a known
      jurisdiction, a ramp that goes forward in time).
    - A known tier, and who may hold quota: :func:`narvik.workload.tenancy.quota_holding_error`,
      the rule :class:`narvik.workload.tenancy.Tenancy` checks scenario files with.
    - Halls that exist (the loader's ``check_against_site``).
    - Guarantees within the GPUs in force, overall and in the halls of confined tenants, at
      every step of every ramp, bookings included: :func:`.rules.check_quotas`.
    """
    try:
        tenant = Tenant.model_validate(data.model_dump())
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        field, _, rest = msg.partition(": ")
        raise InvalidError(rest or msg, field if rest else None) from exc
    tier = plant.tiers.get(data.tier)
    if tier is None:
        raise InvalidError(f"unknown tier {data.tier!r} (known: {', '.join(plant.tiers)})", "tier")
    refused = quota_holding_error(tenant, tier, plant.tenancy.quota_jurisdictions)
    if refused is not None:
        raise InvalidError(refused[1], refused[0])
    for h in data.allowed_halls:
        if h not in plant.hall_names:
            raise InvalidError(
                f"unknown hall {h!r} (known: {', '.join(plant.hall_names)})", "allowed_halls"
            )
    mine = rules.ramp_claims(_steps(data.quota), tuple(plant.hall_indices(data.allowed_halls)))
    try:
        rules.check_quotas(
            site_halls(plant), [*guarantees(plant, others), *mine], bookings, repr(data.name)
        )
    except rules.RuleError as exc:
        raise InvalidError(exc.message, exc.field) from exc


def _steps(quota: list[QuotaStep]) -> list[list[object]]:
    return [[q.start.isoformat(), q.gpus] for q in quota]


def create(
    session: Session, who: Principal, data: TenantIn, plant: Plant, now_s: float
) -> TenantRow:
    who.require_operator()
    recheck(session, who)  # a token revoked on another replica writes nothing
    lock_tenancy(session)
    others = list(session.scalars(select(TenantRow)))
    if any(o.name == data.name for o in others):
        raise ConflictError(f"tenant {data.name!r} exists", "name")
    check_rules(data, plant, others, active_bookings(session, plant, now_s))
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
    recheck(session, who)  # a token revoked on another replica writes nothing
    lock_tenancy(session)
    row = by_name(session, name)
    others = [o for o in session.scalars(select(TenantRow)) if o.id != row.id]
    data = TenantIn.model_validate({**to_in(row), "quota": [q.model_dump() for q in quota]})
    check_rules(data, plant, others, active_bookings(session, plant, now_s))
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
