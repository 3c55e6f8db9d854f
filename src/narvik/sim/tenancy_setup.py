"""Building the inputs of the multi-tenant simulation from a site, a tenancy and the weather.

The IT power budget of every hour comes from inverting the facility model
(:func:`narvik.physics.facility.it_power_budget_w`) at that hour's weather and
grid cap; each curtailment gets its own budget series with the cap lowered by
the power to shed.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from narvik.physics.facility import FacilityModel, it_power_budget_w
from narvik.physics.weather import Weather
from narvik.sim.tenancy_sim import (
    CurtailmentSetup,
    PowerSetup,
    ReservationSetup,
    TenancySetup,
    TenantSetup,
)
from narvik.site.model import Site
from narvik.workload.job import JobTable
from narvik.workload.tenancy import Curtailment, Reservation, Tenancy

OTHER_TENANT = "(other)"


def seconds_from(start_date: dt.date, when: dt.date | dt.datetime) -> float:
    t0 = dt.datetime.combine(start_date, dt.time())
    if not isinstance(when, dt.datetime):
        when = dt.datetime.combine(when, dt.time())
    return (when.replace(tzinfo=None) - t0).total_seconds()


def tenant_indices(jobs: JobTable, tenancy: Tenancy) -> tuple[np.ndarray, bool]:
    """Index of each job's tenant; jobs of unlisted tenants go to a catch-all last index."""
    names = {t.name: i for i, t in enumerate(tenancy.tenants)}
    other = len(tenancy.tenants)
    idx = np.array([names.get(str(t), other) for t in jobs.tenant.tolist()], dtype=np.int64)
    return idx, bool(np.any(idx == other))


def build_setup(
    *,
    tenancy: Tenancy,
    hall_names: list[str],
    hall_gpus: list[int],
    start_date: dt.date,
    hours: int,
    reservations: tuple[Reservation, ...] = (),
    events: tuple[Curtailment, ...] = (),
    with_other: bool = False,
    site: Site | None = None,
    phase: str | None = None,
    weather: Weather | None = None,
    busy_gpu_utilization: float = 0.85,
) -> TenancySetup:
    """Everything :func:`narvik.sim.tenancy_sim.simulate_tenancy` needs, in seconds and W."""
    hall_index = {h: i for i, h in enumerate(hall_names)}
    all_halls = tuple(range(len(hall_names)))
    tiers = {t.name: t.priority for t in tenancy.tiers}
    lowest = max(tiers.values())
    tenants = [
        TenantSetup(
            name=t.name,
            tier=t.tier,
            tier_priority=tiers[t.tier],
            quota_steps=tuple(
                (max(0.0, seconds_from(start_date, q.start)), q.gpus) for q in t.quota
            ),
            max_borrow_gpus=sum(hall_gpus) if t.max_borrow_gpus is None else t.max_borrow_gpus,
            lends=t.lends,
            weight=t.fair_share_weight,
            allowed_halls=tuple(hall_index[h] for h in t.allowed_halls if h in hall_index)
            or all_halls,
        )
        for t in tenancy.tenants
    ]
    if with_other:
        lowest_tier = next(t.name for t in tenancy.tiers if t.priority == lowest)
        tenants.append(
            TenantSetup(OTHER_TENANT, lowest_tier, lowest, (), sum(hall_gpus), True, 1.0, all_halls)
        )
    names = [t.name for t in tenancy.tenants]
    res = tuple(
        ReservationSetup(
            tenant=names.index(r.tenant),
            gpus=r.gpus,
            start_s=seconds_from(start_date, r.start),
            end_s=seconds_from(start_date, r.end),
        )
        for r in reservations
    )
    curts = tuple(
        CurtailmentSetup(
            start_s=seconds_from(start_date, c.start),
            end_s=seconds_from(start_date, c.end),
            shed_w=c.shed_mw * 1e6,
            deadline_s=c.deadline_s,
        )
        for c in events
    )
    if site is None or weather is None:
        power = PowerSetup(
            0.0, 0.0, np.full(hours, np.inf), tuple(np.full(hours, np.inf) for _ in curts)
        )
    else:
        power = _power(site, phase, weather, start_date, hours, curts, busy_gpu_utilization)
    return TenancySetup(
        hall_gpus=tuple(hall_gpus),
        tenants=tuple(tenants),
        reservations=res,
        curtailments=curts,
        power=power,
        grace_period_s=tenancy.grace_period_s,
        checkpoint_interval_s=tenancy.checkpoint_interval_s,
        fair_share_half_life_s=tenancy.fair_share_half_life_s,
        backfill_depth=tenancy.backfill_depth,
        min_cap_fraction=tenancy.min_gpu_power_cap_fraction,
    )


def _power(
    site: Site,
    phase: str | None,
    weather: Weather,
    start_date: dt.date,
    hours: int,
    curts: tuple[CurtailmentSetup, ...],
    busy_gpu_utilization: float,
) -> PowerSetup:
    model = FacilityModel.from_site(site, phase)
    idle_w = float(model.it_power_w(0.0))
    busy_w = (float(model.it_power_w(1.0)) - idle_w) / model.gpus * busy_gpu_utilization
    day0 = start_date.timetuple().tm_yday - 1
    hour = np.arange(hours)
    ambient = weather.dry_bulb_c[(day0 * 24 + hour) % weather.hours]
    when = np.datetime64(start_date, "h") + hour.astype("timedelta64[h]")
    month = when.astype("datetime64[M]").astype(np.int64) % 12 + 1
    starts = np.array([p.start_date for p in site.phases], dtype="datetime64[h]")
    in_force = np.clip(np.searchsorted(starts, when, side="right") - 1, 0, None)
    cap = np.array([p.grid_capacity_mw * 1e6 for p in site.phases])[in_force]
    budget = it_power_budget_w(model, cap, ambient, month)
    curtailed = []
    for c in curts:
        series = np.full(hours, np.inf)
        h0 = max(0, int(c.start_s // 3600))
        h1 = min(hours, int(np.ceil(c.end_s / 3600)))
        if h1 > h0:
            sl = slice(h0, h1)
            series[sl] = it_power_budget_w(model, cap[sl] - c.shed_w, ambient[sl], month[sl])
        curtailed.append(series)
    return PowerSetup(idle_w, busy_w, budget, tuple(curtailed))
