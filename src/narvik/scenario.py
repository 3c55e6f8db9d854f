"""Scenarios: the one entry point that runs a study.

A scenario (TOML, validated) names a site, a workload (a trace or the seeded
synthetic generator), the policy, the span, the seed and the weather.
``run_scenario(spec)`` loads everything, runs the discrete-event simulation,
places gangs on the topology, couples the schedule to the facility physics step
by step and returns :class:`Results`. Command-line options override the file
through :meth:`ScenarioSpec.with_overrides`.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from narvik.engine import HallSpec
from narvik.physics.power_profiles import (
    JOB_KINDS,
    PowerProfile,
    mean_floor_lift,
    profile_for,
    site_floor,
)
from narvik.physics.power_settings import GridCode, PowerSmoothing
from narvik.physics.weather import Weather, builtin_weather, read_epw, shifted_weather
from narvik.sched.registry import TENANCY_POLICIES, policy_names
from narvik.sim.flat import FlatResult
from narvik.sim.site_run import (
    SiteSteps,
    TenancyInputs,
    run_end_s,
    schedule_jobs,
    simulate_on_site,
)
from narvik.sim.tenancy_result import TenancyResult
from narvik.sim.tenancy_setup import build_setup, flat_halls, site_halls, tenant_indices
from narvik.site import FlatPool, Site, load_site
from narvik.site.fleet import fleet_summary
from narvik.site.loader import format_validation_error, override_site
from narvik.units import SECONDS_PER_DAY
from narvik.workload.job import JobTable
from narvik.workload.synthetic_site import SiteWorkloadSpec, generate_site_jobs
from narvik.workload.tables import read_trace
from narvik.workload.tenancy import Curtailment, Reservation, Tenancy
from narvik.workload.trace_tenants import check_tenant_map, fit_tenancy

DEFAULT_SCENARIO = "stargate-norway"
SCENARIO_PACKAGE = "narvik"


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file and field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkloadSpec(_Model):
    kind: Literal["synthetic", "trace"] = Field(description="generated or read from a file")
    trace: str | None = Field(default=None, description="trace path (relative to the scenario)")
    format: Literal["swf", "csv", "parquet"] | None = Field(
        default=None, description="trace format; inferred from the file name when absent"
    )
    skip_bad: bool = Field(default=False, description="skip malformed trace records, counted")
    tenant_map: dict[str, str] = Field(
        default_factory=dict,
        description='trace tenant -> scenario tenant ("*": every other trace tenant)',
    )
    load: float = Field(default=0.9, gt=0, le=2, description="offered GPU load, fraction of fleet")
    research_jobs_per_year: int = Field(
        default=1_000_000, ge=0, description="jobs of the research family per 365 days"
    )

    @model_validator(mode="after")
    def _trace_needs_path(self) -> WorkloadSpec:
        if self.kind == "trace" and not self.trace:
            raise ValueError("trace: a trace workload needs the path of its file")
        return self


class ScenarioSpec(_Model):
    name: str = Field(description="scenario name")
    description: str = Field(default="", description="what the scenario studies")
    site: str = Field(default="stargate-norway", description="catalogue name, flat:N or path")
    site_overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="site fields set by dotted path, e.g. cooling.supply_temp_c = 30",
    )
    phase: str | None = Field(default=None, description="build-out phase; default: at start")
    policy: str = Field(default="easy", description="scheduling policy")
    seed: int = Field(default=0, ge=0, description="seed of every random draw")
    start_date: dt.date = Field(default=dt.date(2027, 1, 1), description="first simulated day")
    days: float | None = Field(
        default=None,
        gt=0,
        le=3660,
        description="simulated span, days; default 365 for generated work, the whole trace else",
    )
    warmup_days: float = Field(
        default=0.0,
        ge=0,
        description="days at the start left out of every KPI (the fleet fills up in them)",
    )
    step_s: float = Field(default=3600.0, ge=60, le=86400, description="physics step, s")
    busy_gpu_utilization: float = Field(
        default=0.85, gt=0, le=1, description="mean utilisation of an allocated GPU (power)"
    )
    weather: str | None = Field(default=None, description="EPW file; default: site climate")
    weather_offset_k: float = Field(
        default=0.0, ge=-30, le=30, description="shift the year's temperatures by this, K"
    )
    workload: WorkloadSpec = Field(
        default=WorkloadSpec(kind="synthetic"), description="the work to simulate"
    )
    tenancy: Tenancy | None = Field(default=None, description="tenants, tiers and quotas")
    reservations: tuple[Reservation, ...] = Field(default=(), description="advance bookings")
    events: tuple[Curtailment, ...] = Field(default=(), description="grid curtailments")
    power_smoothing: PowerSmoothing = Field(
        default=PowerSmoothing(), description="GPU power floor, ramp limit, site battery"
    )
    grid_code: GridCode = Field(default=GridCode(), description="the grid operator's limits")
    power_profiles: dict[str, PowerProfile] = Field(
        default_factory=dict,
        description="power profile by tenant or job kind (training, inference, research)",
    )
    base_dir: Path | None = Field(
        default=None, exclude=True, description="folder that relative paths start from"
    )

    @property
    def span_s(self) -> float | None:
        """Simulated span, s; None replays a trace to its end."""
        if self.days is None:
            return None if self.workload.kind == "trace" else 365 * SECONDS_PER_DAY
        return self.days * SECONDS_PER_DAY

    def with_overrides(self, **changes: object) -> ScenarioSpec:
        """A copy with command-line options applied (``None`` means: keep the file's value)."""
        updates = {k: v for k, v in changes.items() if v is not None}
        workload = dict(self.workload.model_dump())
        data = {**self.model_dump(), "base_dir": self.base_dir}
        if "trace" in updates:
            # A trace given on the command line replays whole unless --days is given too,
            # and the run is named after it.
            data["days"] = None
            data["name"] = trace_name(str(updates["trace"]))
            workload["kind"] = "trace"
        if "tenant_map" in updates:
            workload["tenant_map"] = load_tenant_map(str(updates.pop("tenant_map")))
        for key in ("trace", "format", "skip_bad"):
            if key in updates:
                workload[key] = updates.pop(key)
        data.update(updates)
        data["workload"] = workload
        try:
            return ScenarioSpec.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(f"options: {format_validation_error(exc)}") from exc

    @model_validator(mode="after")
    def _site_overrides_apply(self) -> ScenarioSpec:
        if self.site_overrides:
            spec_site(self)  # names the bad path or value
        return self

    @model_validator(mode="after")
    def _warmup_within_span(self) -> ScenarioSpec:
        span = self.span_s
        if span is not None and self.warmup_days * SECONDS_PER_DAY >= span:
            raise ValueError(
                f"warmup_days: the warm-up ({self.warmup_days:g} days) must be shorter than "
                f"the simulated span ({span / SECONDS_PER_DAY:g} days)"
            )
        return self

    @model_validator(mode="after")
    def _known_policy(self) -> ScenarioSpec:
        if self.policy not in policy_names():
            raise ValueError(
                f"policy: unknown policy {self.policy!r} (known: {', '.join(policy_names())})"
            )
        if self.policy in TENANCY_POLICIES and self.tenancy is None:
            raise ValueError(f"tenancy: the {self.policy} policy needs a [tenancy] table")
        names = {t.name for t in self.tenancy.tenants} if self.tenancy else set()
        for i, r in enumerate(self.reservations):
            if r.tenant not in names:
                raise ValueError(f"reservations.{i}.tenant: unknown tenant {r.tenant!r}")
        if self.workload.tenant_map:
            check_tenant_map(self.workload.tenant_map, self.tenancy, "workload.tenant_map")
        return self

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() or self.base_dir is None else self.base_dir / p


def scenario_names() -> list[str]:
    files = resources.files(SCENARIO_PACKAGE).joinpath("scenarios").iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def load_scenario(spec: str | Path = DEFAULT_SCENARIO) -> ScenarioSpec:
    """A scenario by shipped name or TOML path."""
    text = str(spec)
    path = Path(text)
    if path.suffix == ".toml" or path.exists():
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror or exc}") from exc
        return _parse(raw, str(path), path.resolve().parent)
    if text in scenario_names():
        ref = resources.files(SCENARIO_PACKAGE).joinpath("scenarios", f"{text}.toml")
        return _parse(ref.read_text(encoding="utf-8"), f"{text} (shipped scenario)", None)
    known = ", ".join(scenario_names())
    raise ScenarioError(f"{text}: no such scenario file or name (known: {known})")


def _parse(text: str, origin: str, base_dir: Path | None) -> ScenarioSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return ScenarioSpec.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise ScenarioError(f"{origin}: {format_validation_error(exc)}") from exc


@dataclass(frozen=True, eq=False)
class Results:
    """Everything a run produced; the kpi layer turns it into files and a report."""

    spec: ScenarioSpec
    site: Site | FlatPool
    jobs: JobTable
    schedule: FlatResult | TenancyResult
    skipped: dict[str, int]
    """Trace records skipped, by reason; ``after_span`` counts jobs submitted after the span."""
    steps: SiteSteps | None
    """Step series with physics (physical sites only)."""
    span_s: float
    """Simulated span, s (the whole replay when the scenario gave none)."""
    nvlink_domains: object | None = None
    network_blocks: object | None = None
    weather: Weather | None = None
    notices: tuple[str, ...] = ()
    """What the run changed in the scenario to fit its jobs and pool (one line each)."""

    @property
    def n_gpus(self) -> int:
        return self.schedule.n_gpus


Progress = Callable[[str, float, float], None]
"""Called as ``progress(stage, done, total)``."""


def fleet_growth(halls: Sequence[HallSpec]) -> list[tuple[float, int]]:
    """(instant, GPUs added) of every phase that comes online during the run."""
    added: dict[float, int] = {}
    for h in halls:
        if math.isfinite(h.online_from_s) and h.online_from_s > 0:
            added[h.online_from_s] = added.get(h.online_from_s, 0) + h.gpus
    return sorted(added.items())


def load_workload(
    spec: ScenarioSpec,
    n_gpus: int,
    domain_gpus: int = 72,
    growth: Sequence[tuple[float, int]] = (),
) -> tuple[JobTable, dict[str, int]]:
    """The scenario's jobs: its trace, or the synthetic generator sized to the fleet.

    Generated work follows the fleet: for every phase that comes online during the run
    (``growth``: instant, GPUs added), work for the added GPUs at the same offered load
    arrives from that instant (its own seeded stream), so a run across a build-out
    offers the new halls their share instead of spreading the old fleet's work thin."""
    w = spec.workload
    if w.kind == "trace":
        assert w.trace is not None
        path = spec.resolve(w.trace)
        jobs, skipped, _ = read_trace(path, w.format, skip_bad=w.skip_bad)
        if len(jobs) == 0:
            bad = sum(skipped.values())
            raise ScenarioError(
                f"{path}: the trace has no jobs to replay"
                + (f" ({bad:,} records skipped: {_counts(skipped)})" if bad else "")
            )
        first_s = float(jobs.submit_s.min())
        if spec.span_s is not None and first_s >= spec.span_s:
            raise ScenarioError(
                f"{path}: no job is submitted within the span of {spec.span_s / 86400:g} days "
                f"(the trace's first job arrives at day {first_s / 86400:.2f}); give more --days"
            )
        return jobs, skipped
    if spec.span_s is None:
        raise ValueError(f"scenario {spec.name!r}: a synthetic workload needs a span (days)")
    gen = SiteWorkloadSpec(
        n_gpus=n_gpus,
        span_s=spec.span_s,
        load=w.load,
        research_jobs=w.research_jobs_per_year,
        seed=spec.seed,
        domain_gpus=domain_gpus,
    )
    parts = [generate_site_jobs(gen)]
    for k, (at_s, gpus) in enumerate(growth, start=1):
        if at_s >= spec.span_s:
            continue
        more = replace(
            gen,
            n_gpus=gpus,
            span_s=spec.span_s - at_s,
            research_jobs=round(w.research_jobs_per_year * gpus / max(n_gpus, 1)),
            seed=spec.seed + 7919 * k,
        )
        parts.append(_shifted(generate_site_jobs(more), at_s, f"phase{k}-"))
    return (parts[0] if len(parts) == 1 else concat_jobs(parts)), {}


def _counts(skipped: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {reason}" for reason, n in sorted(skipped.items()))


def _shifted(jobs: JobTable, by_s: float, prefix: str) -> JobTable:
    """The jobs submitted ``by_s`` later, their ids prefixed (ids stay unique)."""
    return replace(
        jobs,
        job_id=np.array([prefix + str(j) for j in jobs.job_id], dtype=object),
        submit_s=jobs.submit_s + by_s,
    )


def concat_jobs(parts: Sequence[JobTable]) -> JobTable:
    """The jobs of several tables in submit order (stable: ties keep the tables' order)."""
    names = ("job_id", "tenant", "tier", "gpus", "submit_s", "runtime_s", "requested_s")
    cols = {n: np.concatenate([getattr(p, n) for p in parts]) for n in names}
    order = np.argsort(cols["submit_s"], kind="stable")
    return JobTable(**{n: c[order] for n, c in cols.items()})


def spec_site(spec: ScenarioSpec) -> Site | FlatPool:
    """The scenario's site, with its ``site_overrides`` applied."""
    site = load_site(spec.resolve(spec.site) if spec.site.endswith(".toml") else spec.site)
    if not spec.site_overrides:
        return site
    if isinstance(site, FlatPool):
        raise ScenarioError(f"site_overrides: {spec.site} is a flat pool, it has no fields")
    return override_site(site, spec.site_overrides, "site_overrides")


def run_scenario(spec: ScenarioSpec, progress: Progress | None = None) -> Results:
    """Run a scenario end to end (deterministic for its seed and inputs)."""
    site = spec_site(spec)
    report = progress or (lambda stage, done, total: None)
    if isinstance(site, FlatPool):
        return _run_flat(spec, site, report)
    weather = (
        read_epw(spec.resolve(spec.weather))
        if spec.weather
        else builtin_weather(site.location.climate, spec.seed)
    )
    weather = shifted_weather(weather, spec.weather_offset_k)
    phase = spec.phase or site.phase_at(spec.start_date).name
    n_gpus = fleet_summary(site, phase).gpus
    # Halls whose phase begins within the run (all of them online by its end); a whole
    # trace replayed without a span runs on the fleet in force at its start.
    horizon_s = spec.span_s if spec.span_s is not None else 0.0
    halls = tuple(
        h
        for h in site_halls(site, spec.start_date, spec.phase)
        if h.online_from_s < horizon_s or h.online_from_s == -math.inf
    )
    report("workload", 0, 1)
    jobs, skipped = load_workload(
        spec, n_gpus, site.rack_types[0].nvlink_domain_gpus, fleet_growth(halls)
    )
    spec, jobs, notices = fitted(spec, jobs, None)
    check_against_site(spec, site, phase)
    inputs = _pool_inputs(spec, jobs, halls, site, weather)
    run = simulate_on_site(
        site,
        jobs,
        spec.policy,
        inputs,
        weather=weather,
        start_date=spec.start_date,
        span_s=spec.span_s,
        phase=spec.phase,
        step_s=spec.step_s,
        busy_gpu_utilization=spec.busy_gpu_utilization,
        floor_lift_by_kind=floor_lifts(spec, site),
        progress=lambda stage, done, total: report(stage, done, total),
    )
    return Results(
        spec=spec,
        site=site,
        jobs=run.schedule.jobs,
        schedule=run.schedule,
        skipped=_with_after_span(skipped, jobs, run.schedule),
        steps=run.steps,
        span_s=run.steps.span_s,
        nvlink_domains=run.nvlink_domains,
        network_blocks=run.network_blocks,
        weather=weather,
        notices=notices,
    )


def _run_flat(spec: ScenarioSpec, site: FlatPool, report: Progress) -> Results:
    """``flat:N``: the exact reference replays of fcfs/easy, or the engine for narvik."""
    report("workload", 0, 1)
    jobs, skipped = load_workload(spec, site.n_gpus, domain_gpus=1)
    spec, jobs, notices = fitted(spec, jobs, site)
    check_against_pool(spec, site.n_gpus, site.name)
    total = spec.span_s or float(jobs.submit_s.max(initial=0.0))
    report("simulate", 0, total)
    inputs = (
        _pool_inputs(spec, jobs, flat_halls(site.n_gpus), None, None)
        if spec.policy in TENANCY_POLICIES
        else None
    )
    sched = schedule_jobs(
        jobs,
        site.n_gpus,
        spec.policy,
        until_s=spec.span_s,
        tenancy=inputs,
        progress=lambda t: report("simulate", t, total),
    )
    span = spec.span_s if spec.span_s is not None else run_end_s(sched, 1.0)
    return Results(
        spec=spec,
        site=site,
        jobs=sched.jobs,
        schedule=sched,
        skipped=_with_after_span(skipped, jobs, sched),
        steps=None,
        span_s=span,
        notices=notices,
    )


def _with_after_span(
    skipped: dict[str, int], jobs: JobTable, sched: FlatResult | TenancyResult
) -> dict[str, int]:
    """Jobs submitted after the simulated span are not part of the run; say how many."""
    after = len(jobs) - len(sched.jobs)
    return {**skipped, "after_span": after} if after else dict(skipped)


def _pool_inputs(
    spec: ScenarioSpec,
    jobs: JobTable,
    halls: tuple[HallSpec, ...],
    site: Site | None,
    weather: Weather | None,
) -> TenancyInputs:
    tenancy = spec.tenancy
    if spec.policy in TENANCY_POLICIES and tenancy is None:
        raise ScenarioError(f"policy: {spec.policy} needs a tenancy ([tenancy] in the scenario)")
    index, has_other = tenant_indices(jobs, tenancy)
    last_s = spec.span_s or float(jobs.submit_s.max(initial=0.0) + jobs.runtime_s.sum())
    hours = int(last_s // 3600) + 2
    setup = build_setup(
        tenancy=tenancy,
        halls=halls,
        start_date=spec.start_date,
        hours=hours,
        reservations=spec.reservations if tenancy else (),
        events=spec.events,
        with_other=has_other,
        site=site,
        phase=spec.phase,
        weather=weather,
        busy_gpu_utilization=spec.busy_gpu_utilization,
    )
    return TenancyInputs(tenant_index=index, setup=setup)


def fitted(
    spec: ScenarioSpec, jobs: JobTable, flat: FlatPool | None
) -> tuple[ScenarioSpec, JobTable, tuple[str, ...]]:
    """The scenario with the tenancy, bookings and grid events that apply to these jobs
    on this pool (:func:`narvik.workload.trace_tenants.fit_tenancy`), and its notices."""
    fit = fit_tenancy(
        jobs,
        spec.tenancy,
        spec.reservations,
        spec.events,
        from_trace=spec.workload.kind == "trace",
        tenant_map=spec.workload.tenant_map,
        flat_pool=flat.name if flat is not None else None,
        needs_tenancy=spec.policy in TENANCY_POLICIES,
    )
    changed = spec.model_copy(
        update={"tenancy": fit.tenancy, "reservations": fit.reservations, "events": fit.events}
    )
    return changed, fit.jobs, fit.notices


def check_against_pool(spec: ScenarioSpec, n_gpus: int, pool: str) -> None:
    """A flat pool under narvik: quotas and reservations must fit its GPU slots."""
    if spec.tenancy is None or spec.policy not in TENANCY_POLICIES:
        return
    _check_quota_sums(
        spec.tenancy,
        n_gpus,
        f"the {n_gpus:,} GPU slots of {pool}; give a scenario whose tenancy fits the pool",
    )
    for i, r in enumerate(spec.reservations):
        if r.gpus > n_gpus:
            raise ScenarioError(
                f"reservations.{i}.gpus: {r.gpus:,} GPUs is above the {n_gpus:,} GPU slots "
                f"of {pool}"
            )


def _check_quota_sums(tenancy: Tenancy, gpus: int, what: str) -> None:
    """The guaranteed quotas in force on any day must add up to at most ``gpus``."""
    for day in sorted({q.start for t in tenancy.tenants for q in t.quota}):
        total = sum(t.quota_at(day) for t in tenancy.tenants)
        if total > gpus:
            raise ScenarioError(
                f"tenancy.tenants: quotas from {day} add up to {total:,} GPUs, above {what}"
            )


def check_against_site(spec: ScenarioSpec, site: Site, phase: str) -> None:
    """Checks that need the site: quotas within the fleet, halls that exist (narvik only)."""
    if spec.tenancy is None or spec.policy not in TENANCY_POLICIES:
        return
    fleet = fleet_summary(site, phase).gpus
    halls = {h.name for h in site.halls_online(phase)}
    _check_quota_sums(spec.tenancy, fleet, f"the fleet of {fleet:,} GPUs in {phase}")
    for i, t in enumerate(spec.tenancy.tenants):
        for h in t.allowed_halls:
            if h not in halls:
                raise ScenarioError(
                    f"tenancy.tenants.{i}.allowed_halls: unknown hall {h!r} "
                    f"(online in {phase}: {', '.join(sorted(halls))})"
                )
        for q in t.quota:
            if q.gpus > fleet:
                raise ScenarioError(
                    f"tenancy.tenants.{i}.quota: {q.gpus:,} GPUs is above the fleet of {fleet:,}"
                )


def trace_name(trace: str) -> str:
    """A run's name from its trace file: ``lublin_256.swf.gz`` -> ``lublin_256``."""
    name = Path(trace).name
    for suffix in (".gz", ".swf", ".csv", ".parquet", ".txt"):
        name = name.removesuffix(suffix)
    return name or "trace"


def load_tenant_map(path: str) -> dict[str, str]:
    """A tenant map file (TOML): trace tenant = scenario tenant, at the top level or in a
    ``[tenant_map]`` table; ``"*"`` maps every other trace tenant."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read tenant map: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    table = data.get("tenant_map", data)
    if not isinstance(table, dict) or not table:
        raise ScenarioError(f'{path}: a tenant map needs lines like "user-3" = "openai"')
    for key, value in table.items():
        if not isinstance(value, str):
            raise ScenarioError(f'{path}: "{key}": the tenant must be a string, got {value!r}')
    return dict(table)


def floor_lifts(spec: ScenarioSpec, site: Site) -> dict[str, float]:
    """By job kind, how much the scenario's GPU power floor raises a busy GPU's mean
    utilisation (its profile: the scenario's for the kind, else the default; research
    jobs are steady at the busy utilisation). Tenant-level profiles apply only to
    ``narvik power-quality``'s rebuild, not to the hourly energy."""
    floor = site_floor(site, spec.power_smoothing.gpu_power_floor_fraction)
    if floor <= 0:
        return {}
    steady = spec.busy_gpu_utilization
    return {
        k: mean_floor_lift(profile_for(k, "", spec.power_profiles, steady), floor)
        for k in sorted(JOB_KINDS)
    }
