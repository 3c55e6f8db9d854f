"""The warm-up that every KPI of a run leaves out.

A run starts from an empty fleet: in its first days the queue is short and the fleet
fills up, which flatters waits and understates utilisation and energy. A scenario's
``warmup_days`` marks that start. The simulation still runs through it; only the KPIs of
``summary.json`` ignore it:

- job KPIs (job counts, waits, slowdowns, SLOs, preemptions, per-tenant and per-tier
  figures, fairness, placement shares) count the jobs submitted at or after the
  warm-up's end;
- time-based KPIs (GPU-hours, utilisation, energy, power peaks, PUE and the other
  ISO/IEC 30134 KPIs, hours over the cap, guarantee hours, the scheduler's power passes,
  curtailments and bookings, fragmentation, the monthly ledger) count the steps, passes
  and samples at or after :attr:`KpiView.start_s`, and the GPU-hours of every job from
  that instant on. ``start_s`` is the warm-up's end, or on a physical site the start of
  the first physics step at or after it (the same instant when the warm-up is a whole
  number of steps, as whole days are of hourly steps).

:func:`kpi_view` gives the run as the KPIs see it, with the same time origin (the start
of the run); without a warm-up it is the run itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from narvik.physics.facility import FacilityHours
from narvik.scenario import Results
from narvik.sim.flat import FlatResult
from narvik.sim.site_run import SiteSteps
from narvik.sim.tenancy_result import TenancyResult
from narvik.units import SECONDS_PER_DAY, SECONDS_PER_HOUR


@dataclass(frozen=True, eq=False)
class KpiView:
    """A run and the part of it its KPIs count."""

    full: Results
    """The whole run."""
    results: Results
    """The run as the KPIs count it: the jobs submitted at or after ``warmup_s`` (their
    per-job arrays, run segments and placements), and the passes, fragmentation samples,
    physics steps, curtailments and bookings from ``start_s`` on."""
    warmup_s: float
    """End of the warm-up, s from the start of the run (0: no warm-up)."""
    start_s: float
    """Time-based KPIs count from here (see the module docstring)."""
    jobs: NDArray[np.bool_]
    """The jobs of ``full`` that count (submitted at or after ``warmup_s``)."""

    @property
    def span_s(self) -> float:
        return self.full.span_s

    def busy_segments(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """(start, end, GPUs) of every run segment of the whole run, clipped to start at
        ``start_s`` (a segment wholly before it has zero length; a segment still running
        ends at the span). A flat replay's segments are its jobs' runs."""
        sched = self.full.schedule
        if isinstance(sched, TenancyResult):
            start, end, gpus = sched.seg_start_s, sched.seg_end_s, sched.seg_gpus
        else:
            ran = ~np.isnan(sched.start_s)
            start, end, gpus = sched.start_s[ran], sched.end_s[ran], sched.jobs.gpus[ran]
        s = np.maximum(start, self.start_s)
        e = np.maximum(np.where(np.isnan(end), self.span_s, end), s)
        return s, e, gpus

    def busy_gpu_hours(self) -> float:
        """GPU-hours run from ``start_s`` to the end of the run, by every job."""
        s, e, g = self.busy_segments()
        return float(np.sum((e - s) * g)) / SECONDS_PER_HOUR

    def flat_time_kpis(self) -> dict[str, float]:
        """The time-based figures of :func:`~narvik.sim.recorders.summarize` counted from
        ``start_s``: ``gpu_hours`` from then on, ``makespan_s`` from then (or the first
        submit, if later) to the last job end, and ``utilization`` of the fleet over it."""
        sched = self.full.schedule
        gpu_hours = self.busy_gpu_hours()
        ran = ~np.isnan(sched.start_s)
        makespan_s = 0.0
        if len(sched.jobs):
            first = max(float(sched.jobs.submit_s.min()), self.start_s)
            end = np.where(np.isnan(sched.end_s), self.span_s, sched.end_s)
            last = float(end[ran].max()) if ran.any() else first
            makespan_s = max(0.0, last - first)
        hours = sched.n_gpus * makespan_s / SECONDS_PER_HOUR
        return {
            "gpu_hours": gpu_hours,
            "makespan_s": makespan_s,
            "utilization": gpu_hours / hours if hours > 0 else 0.0,
        }


def warmup_s(results: Results) -> float:
    """End of the run's warm-up, s; a warm-up not shorter than the run is an error that
    names ``warmup_days`` (the scenario checks it when the span is known beforehand)."""
    days = results.spec.warmup_days
    w = days * SECONDS_PER_DAY
    if w > 0 and w >= results.span_s:
        raise ValueError(
            f"warmup_days: the warm-up ({days:g} days) must be shorter than the simulated "
            f"span ({results.span_s / SECONDS_PER_DAY:g} days)"
        )
    return w


def kpi_view(results: Results) -> KpiView:
    """The run as its KPIs count it (the module docstring says what counts)."""
    w = warmup_s(results)
    if w <= 0:
        every = np.ones(len(results.jobs), dtype=bool)
        return KpiView(full=results, results=results, warmup_s=0.0, start_s=0.0, jobs=every)
    steps = results.steps
    start = w
    if steps is not None:
        after = steps.t_s[steps.t_s >= w]
        if not after.size:
            raise ValueError(
                f"warmup_days: the warm-up ({results.spec.warmup_days:g} days) leaves no "
                f"physics step of {steps.step_s:g} s after it"
            )
        start = float(after[0])
    jobs = results.jobs.submit_s >= w
    doms = results.nvlink_domains
    blocks = results.network_blocks
    trimmed = replace(
        results,
        jobs=results.jobs.take(jobs),
        schedule=_trim_schedule(results.schedule, jobs, start),
        steps=_trim_steps(steps, steps.t_s >= start) if steps is not None else None,
        nvlink_domains=np.asarray(doms)[jobs] if doms is not None else None,
        network_blocks=np.asarray(blocks)[jobs] if blocks is not None else None,
    )
    return KpiView(full=results, results=trimmed, warmup_s=w, start_s=start, jobs=jobs)


def _trim_schedule(
    sched: FlatResult | TenancyResult, jobs: NDArray[np.bool_], start_s: float
) -> FlatResult | TenancyResult:
    per_job: dict[str, Any] = {
        "jobs": sched.jobs.take(jobs),
        "start_s": sched.start_s[jobs],
        "end_s": sched.end_s[jobs],
        "state": sched.state[jobs],
        "preemptions": sched.preemptions[jobs],
    }
    passes = sched.t_s >= start_s
    if isinstance(sched, FlatResult):
        return replace(sched, **per_job, t_s=sched.t_s[passes], gpus_busy=sched.gpus_busy[passes])
    index = np.cumsum(jobs) - 1  # new index of every kept job
    seg = jobs[sched.seg_job]
    frag = sched.frag_t_s >= start_s
    return replace(
        sched,
        **per_job,
        **{
            name: getattr(sched, name)[jobs]
            for name in (
                "lost_gpu_s",
                "fits_guarantee",
                "fit_since_s",
                "tenant_index",
                "nvlink_domains",
                "network_blocks",
            )
        },
        seg_job=index[sched.seg_job[seg]],
        **{
            name: getattr(sched, name)[seg]
            for name in ("seg_start_s", "seg_end_s", "seg_gpus", "seg_hall", "seg_borrowed")
        },
        **{
            name: getattr(sched, name)[passes]
            for name in (
                "t_s",
                "gpus_busy",
                "it_power_w",
                "it_budget_w",
                "cap_fraction",
                "shed_w",
                "gpus_online",
            )
        },
        frag_t_s=sched.frag_t_s[frag],
        frag_free_gpus=sched.frag_free_gpus[frag],
        frag_whole_free_gpus=sched.frag_whole_free_gpus[frag],
        curtailments=[c for c in sched.curtailments if c["start_s"] >= start_s],
        reservations=[r for r in sched.reservations if r["start_s"] >= start_s],
    )


def _trim_steps(steps: SiteSteps, mask: NDArray[np.bool_]) -> SiteSteps:
    return replace(
        steps,
        t_s=steps.t_s[mask],
        gpus_busy=steps.gpus_busy[mask],
        gpus_busy_by_tier={k: v[mask] for k, v in steps.gpus_busy_by_tier.items()},
        queued_jobs=steps.queued_jobs[mask],
        power_cap_w=steps.power_cap_w[mask],
        gpu_cap_fraction=steps.gpu_cap_fraction[mask],
        gpus_online=steps.gpus_online[mask],
        month=steps.month[mask],
        facility=_trim_facility(steps.facility, mask),
        floor_power_w=steps.floor_power_w[mask],
    )


def _trim_facility(h: FacilityHours, mask: NDArray[np.bool_]) -> FacilityHours:
    """Every series of the facility (per step, or per offtaker and step) at the masked steps."""
    series = {
        f.name: getattr(h, f.name)[..., mask]
        for f in fields(h)
        if isinstance(getattr(h, f.name), np.ndarray)
    }
    mix = replace(h.mix, **{f.name: getattr(h.mix, f.name)[mask] for f in fields(h.mix)})
    return replace(h, **series, mix=mix)
