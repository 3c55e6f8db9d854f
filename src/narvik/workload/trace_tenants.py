"""A replayed trace's tenants: map its users or accounts onto a scenario's tenants, or run
it as one tenant when they are not the scenario's.

A trace names its own tenants (SWF: ``user-<id>``; CSV/Parquet/sacct: the ``tenant``
column). A scenario's tenancy (quotas, tiers, reservations) only means something for
jobs of its tenants; applied to a trace of other users it would report guarantees that
were never exercised. :func:`map_tenants` renames the trace's tenants with a map (exact
names, and ``"*"`` for every other one); :func:`trace_tenancy` is the one-tenant tenancy
a trace runs under when no job belongs to the scenario's tenants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from narvik.workload.job import JobTable
from narvik.workload.tenancy import Curtailment, Reservation, Tenancy, Tenant, Tier

#: Name of the tenant (and tier) a trace runs as when its tenants are not the scenario's.
TRACE_TENANT = "trace"

#: Key of a tenant map that maps every trace tenant not named otherwise.
ANY_TENANT = "*"


def map_tenants(jobs: JobTable, mapping: Mapping[str, str]) -> JobTable:
    """The jobs with their tenants renamed by ``mapping`` (``"*"``: every other tenant;
    without it, tenants not named keep their names)."""
    if not mapping:
        return jobs
    fallback = mapping.get(ANY_TENANT)
    names = [mapping.get(t, fallback if fallback is not None else t) for t in jobs.tenant.tolist()]
    return replace(jobs, tenant=np.array(names, dtype=object))


def check_tenant_map(mapping: Mapping[str, str], tenancy: Tenancy | None, field: str) -> None:
    """Every target of the map must be a tenant of the tenancy (error names the key)."""
    names = {t.name for t in tenancy.tenants} if tenancy else set()
    for key, target in mapping.items():
        if target not in names:
            known = ", ".join(sorted(names)) or "none: the scenario has no [tenancy]"
            raise ValueError(f'{field}."{key}": unknown tenant {target!r} (known: {known})')


def tenants_in(jobs: JobTable, tenancy: Tenancy | None) -> set[str]:
    """The tenancy's tenants that have at least one job in the table."""
    if tenancy is None:
        return set()
    present = set(jobs.tenant.tolist())
    return {t.name for t in tenancy.tenants if t.name in present}


def as_one_tenant(jobs: JobTable) -> JobTable:
    """Every job as the one tenant :data:`TRACE_TENANT` (tier :data:`TRACE_TENANT`)."""
    n = len(jobs)
    return replace(
        jobs,
        tenant=np.full(n, TRACE_TENANT, dtype=object),
        tier=np.full(n, TRACE_TENANT, dtype=object),
    )


def trace_tenancy(base: Tenancy | None) -> Tenancy:
    """One tenant holding no guarantee: the whole pool is shared by its jobs in order, with
    no quotas, reservations or prices to report. Pool-wide settings (grace period,
    checkpoints, backfill depth, power-cap floor, owners) are kept from ``base``."""
    tier = Tier(name=TRACE_TENANT, priority=0, may_hold_quota=False)
    tenant = Tenant(name=TRACE_TENANT, tier=TRACE_TENANT, jurisdiction="NO")
    if base is None:
        return Tenancy(tiers=(tier,), tenants=(tenant,))
    return base.model_copy(
        update={"tiers": (tier,), "tenants": (tenant,), "quota_jurisdictions": ()}
    )


@dataclass(frozen=True)
class FittedTenancy:
    """What a run applies after fitting the scenario's tenancy to its jobs and pool."""

    jobs: JobTable
    tenancy: Tenancy | None
    reservations: tuple[Reservation, ...]
    events: tuple[Curtailment, ...]
    notices: tuple[str, ...]


def fit_tenancy(
    jobs: JobTable,
    tenancy: Tenancy | None,
    reservations: tuple[Reservation, ...],
    events: tuple[Curtailment, ...],
    *,
    from_trace: bool,
    tenant_map: Mapping[str, str],
    flat_pool: str | None,
    needs_tenancy: bool,
) -> FittedTenancy:
    """Keep only the tenancy, bookings and grid events that apply to these jobs and this pool.

    ``flat_pool``: the pool's name when it has no power model (its curtailments cannot
    apply). A trace (``from_trace``) is mapped with ``tenant_map``; when none of its jobs
    belongs to a tenant of the tenancy, the scenario's tenancy and reservations are left
    out: a policy that ``needs_tenancy`` (narvik) runs the trace as one tenant without
    guarantees, the others without a tenancy (jobs keep their tenants' names). Every change
    is said in a one-line notice."""
    notices: list[str] = []
    if flat_pool is not None and events:
        notices.append(
            f"{len(events)} grid curtailment(s) of the scenario left out: {flat_pool} is a "
            "flat pool without a power model"
        )
        events = ()
    if not from_trace or tenancy is None:
        return FittedTenancy(jobs, tenancy, reservations, events, tuple(notices))
    jobs = map_tenants(jobs, tenant_map)
    if tenants_in(jobs, tenancy):
        notices.extend(_unmatched_notice(jobs, tenancy))
        return FittedTenancy(jobs, tenancy, reservations, events, tuple(notices))
    own = sorted(set(jobs.tenant.tolist()))
    shown = ", ".join(own[:3]) + (", ..." if len(own) > 3 else "")
    how = f"as one tenant {TRACE_TENANT!r}" if needs_tenancy else "without the scenario's tenancy"
    notices.append(
        f"the trace's {len(own):,} tenant(s) ({shown}) are not tenants of the scenario: "
        f"replayed {how}, with no guarantees"
        + (f" or the scenario's {len(reservations)} reservation(s)" if reservations else "")
        + " (--tenant-map maps them onto the scenario's tenants)"
    )
    if not needs_tenancy:
        return FittedTenancy(jobs, None, (), events, tuple(notices))
    return FittedTenancy(as_one_tenant(jobs), trace_tenancy(tenancy), (), events, tuple(notices))


def _unmatched_notice(jobs: JobTable, tenancy: Tenancy) -> list[str]:
    known = {t.name for t in tenancy.tenants}
    names = jobs.tenant.tolist()
    others = sorted({t for t in names if t not in known})
    if not others:
        return []
    n_jobs = sum(1 for t in names if t not in known)
    return [
        f"{len(others):,} of the trace's tenants ({n_jobs:,} jobs) are not tenants of the "
        "scenario: their jobs run as 'other', on borrowed capacity only"
    ]
