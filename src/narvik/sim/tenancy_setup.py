"""Building a simulated pool (:class:`narvik.sim.tenancy_sim.PoolSetup`) from a site, a
tenancy and the weather.

Halls come online with their phase: every hall of the site is in the pool, with the
instant its phase begins (a run that spans a phase's start date brings its halls
online then; a scenario that names a phase runs that phase's fleet throughout). The
IT power budget of every hour comes from inverting the facility model of the phase
in force (:func:`narvik.physics.facility.it_power_budget_w`) at that hour's weather
and grid cap; each curtailment's power shed gets its own budget series.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np

from narvik.engine import CurtailmentSpec, HallSpec, ReservationSpec, Rules, TenantSpec
from narvik.physics.facility import FacilityModel, it_power_budget_w
from narvik.physics.weather import Weather
from narvik.sched.placement import Topology
from narvik.sim.tenancy_sim import HourlyPower, PoolSetup
from narvik.site.model import Site
from narvik.workload.job import JobTable
from narvik.workload.tenancy import Curtailment, Reservation, Tenancy

OTHER_TENANT = "(other)"


def seconds_from(start_date: dt.date, when: dt.date | dt.datetime) -> float:
    t0 = dt.datetime.combine(start_date, dt.time())
    if not isinstance(when, dt.datetime):
        when = dt.datetime.combine(when, dt.time())
    return (when.replace(tzinfo=None) - t0).total_seconds()


def tenant_indices(jobs: JobTable, tenancy: Tenancy | None) -> tuple[np.ndarray, bool]:
    """Index of each job's tenant; jobs of unlisted tenants go to a catch-all last index."""
    names = {t.name: i for i, t in enumerate(tenancy.tenants)} if tenancy else {}
    other = len(names)
    idx = np.array([names.get(str(t), other) for t in jobs.tenant.tolist()], dtype=np.int64)
    return idx, bool(np.any(idx == other))


def site_halls(site: Site, start_date: dt.date, phase: str | None = None) -> tuple[HallSpec, ...]:
    """Every hall of the site with the instant its phase begins (-inf: from the start).

    With ``phase`` named, only that phase's halls, all online from the start."""
    halls = site.halls_online(phase) if phase else site.halls
    out = []
    for hall in halls:
        rack = site.rack_type(hall.rack_type)
        d = rack.nvlink_domain_gpus
        domains = hall.racks * rack.gpus_per_rack // d
        per_block = max(1, hall.racks_per_network_block * rack.gpus_per_rack // d)
        begins = seconds_from(start_date, site.phase(hall.phase).start_date)
        online = -math.inf if phase or begins <= 0 else begins
        out.append(HallSpec(hall.name, Topology.uniform(domains, d, per_block), online))
    return tuple(out)


def flat_halls(n_gpus: int) -> tuple[HallSpec, ...]:
    """``flat:N``: one hall, one 'domain' of N interchangeable GPU slots."""
    return (HallSpec("pool", Topology.uniform(1, n_gpus, 1)),)


def build_setup(
    *,
    tenancy: Tenancy | None,
    halls: Sequence[HallSpec],
    start_date: dt.date,
    hours: int,
    reservations: tuple[Reservation, ...] = (),
    events: tuple[Curtailment, ...] = (),
    with_other: bool = False,
    site: Site | None = None,
    phase: str | None = None,
    weather: Weather | None = None,
    busy_gpu_utilization: float = 0.85,
) -> PoolSetup:
    """Everything :func:`narvik.sim.tenancy_sim.simulate_tenancy` needs, in seconds and W."""
    tenants, tiers = _tenants(tenancy, halls, start_date, with_other or tenancy is None)
    names = [t.name for t in tenants]
    res = tuple(
        ReservationSpec(
            names.index(r.tenant),
            r.gpus,
            seconds_from(start_date, r.start),
            seconds_from(start_date, r.end),
        )
        for r in reservations
    )
    curts = tuple(
        CurtailmentSpec(
            seconds_from(start_date, c.start),
            seconds_from(start_date, c.end),
            c.shed_mw * 1e6,
            c.deadline_s,
        )
        for c in events
    )
    if site is None or weather is None:
        inf = np.full(max(hours, 1), np.inf)
        zero = np.zeros(max(hours, 1))
        power = HourlyPower(zero, zero, inf, {c.shed_w: inf for c in curts})
    else:
        power = _power(site, phase, weather, start_date, hours, curts, busy_gpu_utilization)
    rules = (
        Rules(
            grace_period_s=tenancy.grace_period_s,
            checkpoint_interval_s=tenancy.checkpoint_interval_s,
            fair_share_half_life_s=tenancy.fair_share_half_life_s,
            backfill_depth=tenancy.backfill_depth,
            min_cap_fraction=tenancy.min_gpu_power_cap_fraction,
        )
        if tenancy
        else Rules()
    )
    return PoolSetup(
        halls=tuple(halls),
        tenants=tuple(tenants),
        tenant_tiers=tuple(tiers),
        reservations=res,
        curtailments=curts,
        rules=rules,
        power=power,
        hour_ticks=site is not None and weather is not None,
    )


def _tenants(
    tenancy: Tenancy | None, halls: Sequence[HallSpec], start_date: dt.date, with_other: bool
) -> tuple[list[TenantSpec], list[str]]:
    hall_index = {h.name: i for i, h in enumerate(halls)}
    specs, tiers = [], []
    if tenancy is not None:
        prio = {t.name: t.priority for t in tenancy.tiers}
        for t in tenancy.tenants:
            specs.append(
                TenantSpec(
                    name=t.name,
                    tier_priority=prio[t.tier],
                    quota_steps=tuple(
                        (max(0.0, seconds_from(start_date, q.start)), q.gpus) for q in t.quota
                    ),
                    max_borrow_gpus=t.max_borrow_gpus,
                    lends=t.lends,
                    weight=t.fair_share_weight,
                    allowed_halls=tuple(hall_index[h] for h in t.allowed_halls if h in hall_index),
                )
            )
            tiers.append(t.tier)
    if with_other:
        lowest = max((t.priority for t in tenancy.tiers), default=0) if tenancy else 0
        tier = (
            next((t.name for t in tenancy.tiers if t.priority == lowest), "default")
            if (tenancy)
            else "default"
        )
        specs.append(TenantSpec(OTHER_TENANT, lowest, (), None, True, 1.0, ()))
        tiers.append(tier)
    return specs, tiers


def _power(
    site: Site,
    fixed_phase: str | None,
    weather: Weather,
    start_date: dt.date,
    hours: int,
    curts: tuple[CurtailmentSpec, ...],
    busy_gpu_utilization: float,
) -> HourlyPower:
    """Idle power, busy-GPU power and the IT budget of every hour, for the halls online."""
    day0 = start_date.timetuple().tm_yday - 1
    hour = np.arange(hours)
    ambient = weather.dry_bulb_c[(day0 * 24 + hour) % weather.hours]
    when = np.datetime64(start_date, "h") + hour.astype("timedelta64[h]")
    month = when.astype("datetime64[M]").astype(np.int64) % 12 + 1
    idle = np.zeros(hours)
    busy = np.zeros(hours)
    budget = np.zeros(hours)
    sheds = sorted({c.shed_w for c in curts})
    curtailed = {s: np.full(hours, np.inf) for s in sheds}
    for phase, sl in phase_hours(site, start_date, hours, fixed_phase):
        model = FacilityModel.from_site(site, phase)
        idle_w = float(model.it_power_w(0.0))
        idle[sl] = idle_w
        busy[sl] = (float(model.it_power_w(1.0)) - idle_w) / model.gpus * busy_gpu_utilization
        cap = np.full(sl.stop - sl.start, model.grid_capacity_w)
        budget[sl] = it_power_budget_w(model, cap, ambient[sl], month[sl])
        for s in sheds:
            curtailed[s][sl] = it_power_budget_w(model, cap - s, ambient[sl], month[sl])
    return HourlyPower(idle, busy, budget, curtailed)


def phase_hours(
    site: Site, start_date: dt.date, hours: int, phase: str | None = None
) -> list[tuple[str, slice]]:
    """(phase, hours of the run it is in force): the named phase throughout, or each phase
    from its start date (the first from the start of the run)."""
    if phase:
        return [(phase, slice(0, hours))]
    first = site.phase_at(start_date).name
    names = [p.name for p in site.phases]
    out = []
    for i in range(names.index(first), len(names)):
        p = site.phases[i]
        h0 = max(0, int(seconds_from(start_date, p.start_date) // 3600))
        nxt = site.phases[i + 1].start_date if i + 1 < len(names) else None
        h1 = hours if nxt is None else int(seconds_from(start_date, nxt) // 3600)
        h1 = min(h1, hours)
        if h1 > h0:
            out.append((p.name, slice(h0, h1)))
    return out
