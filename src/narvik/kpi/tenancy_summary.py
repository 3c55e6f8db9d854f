"""The multi-tenant part of a run's summary: SLOs, guarantees, preemptions, fairness, power,
curtailments, reservations and the monthly ledger per tenant with the owners' split."""

from __future__ import annotations

from typing import Any

import numpy as np

from narvik.kpi.tenancy_kpis import (
    curtailment_table,
    curtailment_verdicts,
    curtailments_met,
    fairness_by_tier,
    monthly_ledger,
    owners_split,
    preemption_summary,
    wait_and_slo_by_tier,
)
from narvik.scenario import Results
from narvik.sim.tenancy_result import TenancyResult
from narvik.sim.tenancy_setup import OTHER_TENANT
from narvik.units import SECONDS_PER_HOUR


def guarantee_hours(
    fit_since_s: np.ndarray,
    first_start_s: np.ndarray,
    grace_s: float,
    span_s: float,
) -> tuple[int, int]:
    """Hours of the run in which no job that fit the unused guarantee waited past the grace.

    A job is late from the first instant it fit its tenant's unused guarantee
    plus the grace period until it starts (or the end of the run); every hour
    that a late interval touches counts as an hour the guarantee was not met.
    Returns (hours met, hours in the run).
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
    violated = np.cumsum(bad)[:hours] > 0
    return int(hours - violated.sum()), hours


def tenancy_summary(results: Results) -> dict[str, Any]:
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
    for i, t in enumerate(tenancy.tenants):
        if not any(q.gpus for q in t.quota):
            continue
        m = sched.tenant_index == i
        met, total = guarantee_hours(
            sched.fit_since_s[m],
            sched.start_s[m],
            tenancy.grace_period_s,
            span,
        )
        guarantees[t.name] = {"hours_met": met, "hours": total, "share_met": met / total}
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
        known = seg_tenant != OTHER_TENANT  # work of unlisted tenants is not billed
        ledger = monthly_ledger(
            tenancy,
            seg_tenant[known],
            sched.seg_start_s[known],
            sched.seg_end_s[known],
            sched.seg_gpus[known],
            sched.seg_borrowed[known],
            spec.start_date,
            span,
            steps.t_s,
            steps.step_s,
            steps.facility.facility_power_w,
            steps.facility.mix.price_eur_per_mwh,
        )
        split = owners_split(ledger, tenancy.owners)
    within = sched.t_s >= 0
    for c in sched.curtailments:  # all of them: their deadline windows excuse the passes
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
