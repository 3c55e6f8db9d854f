"""The multi-tenant part of a run's summary: SLOs, guarantees, preemptions, fairness, power,
curtailments, reservations and the monthly ledger per tenant with the owners' split."""

from __future__ import annotations

from typing import Any

import numpy as np

from narvik.kpi.tenancy_kpis import (
    IDLE_TENANT,
    curtailment_table,
    curtailment_verdicts,
    curtailments_met,
    fairness_by_tier,
    month_edges_s,
    monthly_ledger,
    owners_split,
    preemption_summary,
    wait_and_slo_by_tier,
    waits_by_guarantee,
)
from narvik.kpi.warmup import KpiView, kpi_view
from narvik.scenario import Results
from narvik.sim.tenancy_result import TenancyResult
from narvik.sim.tenancy_setup import OTHER_TENANT
from narvik.units import SECONDS_PER_HOUR
from narvik.workload.tenancy import Tenancy


def guarantee_hours(
    fit_since_s: np.ndarray,
    first_start_s: np.ndarray,
    grace_s: float,
    span_s: float,
    start_s: float = 0.0,
) -> tuple[int, int]:
    """Hours of the run in which no job that fit the unused guarantee waited past the grace.

    A job is late from the first instant it fit its tenant's unused guarantee
    plus the grace period until it starts (or the end of the run); every hour
    that a late interval touches counts as an hour the guarantee was not met.
    Only the hours of the run that begin at or after ``start_s`` count (the end of a
    warm-up). Returns (hours met, hours counted).
    """
    hours = int(np.ceil(span_s / SECONDS_PER_HOUR))
    fits = ~np.isnan(fit_since_s)
    late_from = np.where(fits, fit_since_s, 0.0) + grace_s
    until = np.where(np.isnan(first_start_s), span_s, first_start_s)
    late = fits & (until > late_from + 1e-6)
    bad = np.zeros(hours + 1, dtype=np.int64)
    h0 = np.floor(late_from[late] / SECONDS_PER_HOUR).astype(np.int64)
    h1 = np.ceil(until[late] / SECONDS_PER_HOUR).astype(np.int64)
    np.add.at(bad, np.clip(h0, 0, hours), 1)
    np.add.at(bad, np.clip(h1, 0, hours), -1)
    first = min(int(np.ceil(start_s / SECONDS_PER_HOUR)), hours)
    violated = np.cumsum(bad)[first:hours] > 0
    return int(hours - first - violated.sum()), hours - first


def _idle_zero(row: dict[str, Any]) -> bool:
    """A ledger row of the idle pseudo-tenant with no energy: a month in which some GPU
    was busy in every step (every other figure of an idle row is 0 by definition)."""
    return row["tenant"] == IDLE_TENANT and not row["energy_mwh"] and not row["energy_cost_eur"]


def _guarantee_waits(
    sched: TenancyResult, tenancy: Tenancy, tenant: np.ndarray
) -> dict[str, dict[str, Any]]:
    """``waits_by_guarantee`` (per tenant of the tenancy, with its tier, then the others)
    and ``waits_by_guarantee_by_tier`` (per tier of the tenancy, then the others)."""
    jobs = sched.jobs
    args = (jobs.submit_s, sched.start_s, sched.fits_guarantee)
    tier_of = {t.name: t.tier for t in tenancy.tenants}
    by_tenant = waits_by_guarantee(tenant, *args, order=list(tier_of))
    return {
        "waits_by_guarantee": {n: {"tier": tier_of.get(n), **w} for n, w in by_tenant.items()},
        "waits_by_guarantee_by_tier": waits_by_guarantee(
            jobs.tier, *args, order=[t.name for t in tenancy.tiers]
        ),
    }


def tenancy_summary(run: Results | KpiView) -> dict[str, Any]:
    """The ``tenancy`` part of the summary, without the warm-up (:mod:`narvik.kpi.warmup`):
    job figures count the jobs submitted after it; guarantee hours, power passes,
    curtailments, bookings and the ledger count the time after it.

    ``waits_by_guarantee`` (per tenant, with its tier) and ``waits_by_guarantee_by_tier``
    split the waits between the jobs that fit the tenant's unused guarantee when
    submitted (``inside``: the work the start SLO and the guarantee hours judge) and the
    rest (``beyond``: work on borrowed capacity, with no promise of a start); see
    :func:`~narvik.kpi.tenancy_kpis.waits_by_guarantee`. The ledger leaves out the idle
    rows of months whose every step had a GPU busy (all their figures are 0)."""
    view = run if isinstance(run, KpiView) else kpi_view(run)
    results = view.results
    full = view.full.schedule
    sched = results.schedule
    spec = results.spec
    assert isinstance(sched, TenancyResult) and spec.tenancy is not None
    tenancy = spec.tenancy
    jobs = sched.jobs
    names = [t.name for t in tenancy.tenants] + [OTHER_TENANT]
    tenant = np.array(names, dtype=object)[sched.tenant_index]
    tier_of = {t.name: t.tier for t in tenancy.tenants}
    slo = {t.name: t.start_slo_s for t in tenancy.tiers}
    span = results.span_s
    waits = wait_and_slo_by_tier(
        jobs.tier, jobs.submit_s, sched.start_s, sched.fits_guarantee, slo, span
    )
    guarantees = {}
    assert isinstance(full, TenancyResult)
    for i, t in enumerate(tenancy.tenants):
        if not any(q.gpus for q in t.quota):
            continue
        m = full.tenant_index == i  # every job: one waiting since the warm-up counts after it
        met, total = guarantee_hours(
            full.fit_since_s[m],
            full.start_s[m],
            tenancy.grace_period_s,
            span,
            view.start_s,
        )
        share = met / total if total else None
        guarantees[t.name] = {"hours_met": met, "hours": total, "share_met": share}
    seg_gpu_h = (
        (np.where(np.isnan(sched.seg_end_s), span, sched.seg_end_s) - sched.seg_start_s)
        * sched.seg_gpus
        / SECONDS_PER_HOUR
    )
    seg_tenant = tenant[sched.seg_job]
    served = {n: float(seg_gpu_h[seg_tenant == n].sum()) for n in names}
    demanded = {
        n: float(np.sum((jobs.gpus * jobs.runtime_s)[tenant == n]) / SECONDS_PER_HOUR)
        for n in names
    }
    weights = {t.name: t.fair_share_weight for t in tenancy.tenants}
    fairness = fairness_by_tier(tier_of, served, demanded, weights)
    steps = results.steps
    ledger: list[dict[str, Any]] = []
    split: list[dict[str, Any]] = []
    if steps is not None:
        # Billed by the time run: every job's GPU-hours from the warm-up's end on.
        full_tenant = np.array(names, dtype=object)[full.tenant_index][full.seg_job]
        known = full_tenant != OTHER_TENANT  # work of unlisted tenants is not billed
        seg_start, seg_end, _ = view.busy_segments()
        ledger = monthly_ledger(
            tenancy,
            full_tenant[known],
            seg_start[known],
            seg_end[known],
            full.seg_gpus[known],
            full.seg_borrowed[known],
            spec.start_date,
            span,
            steps.t_s,
            steps.step_s,
            steps.facility.facility_power_w,
            steps.facility.mix.price_eur_per_mwh,
        )
        labels, edges = month_edges_s(spec.start_date, span)
        counted = {m for m, end in zip(labels, edges[1:], strict=True) if end > view.start_s}
        ledger = [row for row in ledger if row["month"] in counted and not _idle_zero(row)]
        split = owners_split(ledger, tenancy.owners)
    within = sched.t_s >= 0
    for c in full.curtailments:  # all of them: their deadline windows excuse the passes
        within &= ~((sched.t_s >= c["start_s"]) & (sched.t_s < c["deadline_s"]))
    over = sched.it_power_w > sched.it_budget_w + 1e-6
    # Events and bookings after the end of the run did not happen in it.
    curtailments = [c for c in sched.curtailments if c["start_s"] < span]
    if steps is not None:  # judged on the very series timeseries.parquet holds
        curtailments = curtailment_verdicts(
            curtailments, steps.t_s, steps.step_s, steps.facility.facility_power_w,
            steps.power_cap_w,
        )  # fmt: skip
    bookings = [r for r in sched.reservations if r["start_s"] < span]
    met, total = curtailments_met(curtailments)
    return {
        "wait_slo_by_tier": waits,
        **_guarantee_waits(sched, tenancy, tenant),
        "guarantee_hours": guarantees,
        "preemptions": preemption_summary(tenant, sched.preemptions, sched.lost_gpu_s),
        "fairness_jain_by_tier": fairness,
        "power": {
            "passes": int(sched.t_s.shape[0]),
            "passes_over_budget_outside_deadlines": int(np.sum(over & within)),
            "min_gpu_cap_fraction": float(sched.cap_fraction.min(initial=1.0)),
            "max_it_power_mw": float(sched.it_power_w.max(initial=0.0)) / 1e6,
        },
        "curtailments": curtailment_table(curtailments, spec.start_date),
        "curtailments_met": {"met": met, "total": total},
        "reservations": [{**r, "tenant": names[int(r["tenant"])]} for r in bookings],
        "ledger": ledger,
        "owners": split,
    }
