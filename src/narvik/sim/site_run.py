"""A schedule on a physical site: gang placement and the facility physics, step by step.

The scheduling core decides by GPU count (:mod:`narvik.sim.flat`); gangs are
then placed on the site's NVLink domains and network blocks in event order
(:mod:`narvik.sched.placement`), and the busy GPUs of every step drive the
facility model (:mod:`narvik.physics.facility`) at that step's weather.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from narvik.physics.facility import FacilityHours, FacilityModel
from narvik.physics.weather import Weather
from narvik.sched.placement import Topology, place_schedule
from narvik.sim.flat import REJECTED, FlatResult, simulate_flat
from narvik.sim.tenancy_sim import TenancyResult, TenancySetup, simulate_tenancy
from narvik.site.model import Site
from narvik.units import SECONDS_PER_HOUR
from narvik.workload.job import JobTable


@dataclass(frozen=True, eq=False)
class SiteSteps:
    """One row per physics step of the run."""

    t_s: NDArray[np.float64]
    """Start of each step, s from the start of the run."""
    step_s: float
    span_s: float
    """End of the last step (it may be shorter than ``step_s``)."""
    gpus_total: int
    gpus_busy: NDArray[np.float64]
    """Mean busy GPUs over the step."""
    gpus_busy_by_tier: dict[str, NDArray[np.float64]]
    queued_jobs: NDArray[np.int64]
    """Jobs waiting at the end of the step."""
    power_cap_w: NDArray[np.float64]
    """Grid capacity of the phase in force on the step's day."""
    month: NDArray[np.int64]
    facility: FacilityHours


@dataclass(frozen=True, eq=False)
class SiteRun:
    schedule: FlatResult | TenancyResult
    nvlink_domains: NDArray[np.int64]
    network_blocks: NDArray[np.int64]
    steps: SiteSteps


def site_topology(site: Site, phase: str, only: str | None = None) -> Topology:
    halls = []
    for hall in site.halls_online(phase):
        if only is not None and hall.name != only:
            continue
        rack = site.rack_type(hall.rack_type)
        domains = hall.racks * rack.gpus_per_rack // rack.nvlink_domain_gpus
        per_block = max(
            1, hall.racks_per_network_block * rack.gpus_per_rack // rack.nvlink_domain_gpus
        )
        halls.append((domains, rack.nvlink_domain_gpus, per_block))
    return Topology.from_halls(halls)


def busy_gpu_seconds(
    start_s: NDArray[np.float64],
    end_s: NDArray[np.float64],
    gpus: NDArray[np.int64],
    edges_s: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Exact GPU-seconds busy in each interval between consecutive ``edges_s``.

    The busy count is a step function; its integral is piecewise linear between
    job starts and ends, so sampling the cumulative integral at the edges is exact.
    ``end_s`` may be NaN (still running): the job then runs past the last edge.
    """
    ok = ~np.isnan(start_s)
    s = start_s[ok]
    e = np.where(np.isnan(end_s[ok]), np.inf, end_s[ok])
    g = gpus[ok].astype(np.float64)
    t = np.concatenate([s, e])
    d = np.concatenate([g, -g])
    finite = np.isfinite(t)
    t, d = t[finite], d[finite]
    order = np.argsort(t, kind="stable")
    t, d = t[order], d[order]
    level = np.cumsum(d)  # busy GPUs after each event
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(t))]) if t.size else t
    if t.size == 0:
        return np.zeros(edges_s.shape[0] - 1)
    cum = np.interp(edges_s, t, area, left=0.0, right=np.nan)
    after = edges_s > t[-1]
    cum[after] = area[-1] + level[-1] * (edges_s[after] - t[-1])
    return np.diff(cum)


@dataclass(frozen=True, eq=False)
class Segments:
    """Intervals during which a job held GPUs (one per job without preemption)."""

    job: NDArray[np.int64]
    start_s: NDArray[np.float64]
    end_s: NDArray[np.float64]
    """NaN: still running at the end of the run."""
    gpus: NDArray[np.int64]
    hall: NDArray[np.int64] | None = None

    @classmethod
    def of(cls, schedule: FlatResult | TenancyResult) -> Segments:
        if isinstance(schedule, TenancyResult):
            return cls(
                schedule.seg_job,
                schedule.seg_start_s,
                schedule.seg_end_s,
                schedule.seg_gpus,
                schedule.seg_hall,
            )
        started = np.flatnonzero(~np.isnan(schedule.start_s))
        return cls(
            started.astype(np.int64),
            schedule.start_s[started],
            schedule.end_s[started],
            schedule.jobs.gpus[started],
        )


def schedule_jobs(
    jobs: JobTable,
    n_gpus: int,
    policy: str,
    *,
    until_s: float | None,
    tenancy: TenancyInputs | None,
    progress: Callable[[float], None] | None,
) -> FlatResult | TenancyResult:
    """Run the scheduling core: the canonical baselines, or the multi-tenant policy."""
    if policy == "narvik":
        if tenancy is None:
            raise ValueError("policy: narvik needs a tenancy ([tenancy] in the scenario)")
        return simulate_tenancy(
            jobs, tenancy.tenant_index, tenancy.setup, until_s=until_s, progress=progress
        )
    return simulate_flat(jobs, n_gpus, policy, until_s=until_s, progress=progress)


@dataclass(frozen=True, eq=False)
class TenancyInputs:
    tenant_index: NDArray[np.int64]
    setup: TenancySetup


def simulate_on_site(
    site: Site,
    phase: str,
    jobs: JobTable,
    policy: str,
    *,
    weather: Weather,
    start_date: dt.date,
    span_s: float | None,
    step_s: float = SECONDS_PER_HOUR,
    busy_gpu_utilization: float = 0.85,
    tenancy: TenancyInputs | None = None,
    progress: Callable[[str, float, float], None] | None = None,
) -> SiteRun:
    """Schedule ``jobs`` on the site's fleet for ``span_s``, place gangs, run the physics.

    With ``span_s`` None the schedule runs until every job has ended and the
    physics covers the whole of it.
    """
    report = progress or (lambda stage, done, total: None)
    topology = site_topology(site, phase)
    n_gpus = topology.gpus
    total = span_s if span_s is not None else float(jobs.submit_s.max(initial=0.0))
    schedule = schedule_jobs(
        jobs,
        n_gpus,
        policy,
        until_s=span_s,
        tenancy=tenancy,
        progress=lambda t: report("simulate", t, total),
    )
    report("simulate", total, total)
    segments = Segments.of(schedule)
    if span_s is None:
        span_s = run_end_s(schedule, step_s)
    report("placement", 0, 1)
    domains, blocks = place_segments(site, phase, segments, len(schedule.jobs))
    report("placement", 1, 1)
    report("physics", 0, 1)
    steps = _steps(
        site, phase, schedule, segments, weather, start_date, span_s, step_s, busy_gpu_utilization
    )
    report("physics", 1, 1)
    return SiteRun(schedule=schedule, nvlink_domains=domains, network_blocks=blocks, steps=steps)


def place_segments(
    site: Site, phase: str, seg: Segments, n_jobs: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """NVLink domains and network blocks of each job's first placement (0: never started)."""
    domains = np.zeros(n_jobs, dtype=np.int64)
    blocks = np.zeros(n_jobs, dtype=np.int64)
    if seg.hall is None:
        d, b = place_schedule(site_topology(site, phase), seg.gpus, seg.start_s, seg.end_s)
        domains[seg.job] = d
        blocks[seg.job] = b
        return domains, blocks
    halls = site.halls_online(phase)
    first = np.full(n_jobs, np.inf)
    np.minimum.at(first, seg.job, seg.start_s)
    held = ~(seg.end_s <= seg.start_s)  # zero-length stints (stopped as they began) hold nothing
    for h, hall in enumerate(halls):
        m = (seg.hall == h) & held
        if not m.any():
            continue
        topo = site_topology(site, phase, only=hall.name)
        d, b = place_schedule(topo, seg.gpus[m], seg.start_s[m], seg.end_s[m])
        at_first = seg.start_s[m] == first[seg.job[m]]
        np.add.at(domains, seg.job[m][at_first], d[at_first])
        np.add.at(blocks, seg.job[m][at_first], b[at_first])
    return domains, blocks


def run_end_s(schedule: FlatResult | TenancyResult, step_s: float) -> float:
    """End of a run replayed to completion: the last job end, at least one step."""
    ends = schedule.end_s[~np.isnan(schedule.end_s)]
    last = float(ends.max()) if ends.size else float(schedule.jobs.submit_s.max(initial=0.0))
    return max(last, step_s)


def _steps(
    site: Site,
    phase: str,
    schedule: FlatResult | TenancyResult,
    seg: Segments,
    weather: Weather,
    start_date: dt.date,
    span_s: float,
    step_s: float,
    busy_gpu_utilization: float,
) -> SiteSteps:
    n_steps = int(np.ceil(span_s / step_s))
    edges = np.minimum(np.arange(n_steps + 1, dtype=np.float64) * step_s, span_s)
    width = np.diff(edges)
    j = schedule.jobs
    busy = busy_gpu_seconds(seg.start_s, seg.end_s, seg.gpus, edges) / width
    by_tier = {}
    seg_tier = j.tier[seg.job]
    for tier in sorted(set(j.tier.tolist())):
        m = seg_tier == tier
        by_tier[str(tier)] = (
            busy_gpu_seconds(seg.start_s[m], seg.end_s[m], seg.gpus[m], edges) / width
        )
    # Waiting at the end of each step: submitted and not rejected, not yet started.
    waiting = schedule.state != REJECTED
    sub = np.sort(j.submit_s[waiting])
    started = np.sort(schedule.start_s[waiting & ~np.isnan(schedule.start_s)])
    queued = np.searchsorted(sub, edges[1:], side="right") - np.searchsorted(
        started, edges[1:], side="right"
    )
    # Weather and calendar of each step: the hour of the typical year it falls in.
    day_of_year0 = start_date.timetuple().tm_yday - 1
    hour_of_run = (edges[:-1] // SECONDS_PER_HOUR).astype(np.int64)
    ambient = weather.dry_bulb_c[(day_of_year0 * 24 + hour_of_run) % weather.hours]
    when = np.datetime64(start_date, "s") + edges[:-1].astype("timedelta64[s]")
    month = when.astype("datetime64[M]").astype(np.int64) % 12 + 1
    phase_starts = np.array([p.start_date for p in site.phases], dtype="datetime64[s]")
    in_force = np.clip(np.searchsorted(phase_starts, when, side="right") - 1, 0, None)
    cap = np.array([p.grid_capacity_mw * 1e6 for p in site.phases])[in_force]
    model = FacilityModel.from_site(site, phase)
    u = busy / model.gpus * busy_gpu_utilization
    facility = model.run(u, ambient, month)
    return SiteSteps(
        t_s=edges[:-1],
        step_s=step_s,
        span_s=span_s,
        gpus_total=model.gpus,
        gpus_busy=busy,
        gpus_busy_by_tier=by_tier,
        queued_jobs=queued.astype(np.int64),
        power_cap_w=cap,
        month=month,
        facility=facility,
    )
