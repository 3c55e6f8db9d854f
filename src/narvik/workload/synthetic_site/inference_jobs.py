"""The anchor's serving fleets: steady, each one job per week resubmitted back to back.

A few fleets of ``domain_gpus`` x U{8..32} domains (at most 25 % of the fleet).
Each fleet's first job starts at 0 and lasts a random phase in (0, 7 d] so the
weekly renewals of the fleets are staggered; the last job submitted before
``span_s`` runs its full week. The fleets' sizes are chosen so their GPU-seconds
meet the share (to half a domain); requested = runtime. On a site too small for a
whole domain of serving the one fleet is smaller than a domain.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from narvik.workload.synthetic_site.blocks import Block, profile_rng
from narvik.workload.synthetic_site.parameters import (
    INFERENCE_JOB_S,
    INFERENCE_MAX_DOMAINS,
    INFERENCE_MIN_DOMAINS,
)
from narvik.workload.synthetic_site.spec import SiteWorkloadSpec, TenantProfile, domain_range


def inference_domains(spec: SiteWorkloadSpec) -> tuple[int, int]:
    """The range of NVLink domains of a serving fleet on this site."""
    return domain_range(spec, INFERENCE_MIN_DOMAINS, INFERENCE_MAX_DOMAINS)


def fleet_sizes(
    budget: float, domains: NDArray[np.int64], covered: NDArray[np.float64], domain_gpus: int
) -> list[int]:
    """GPUs of each fleet: candidate fleets of ``domains`` serving from 0 to ``covered`` s,
    taken in order while they fit the budget, the last one sized to close the gap (to
    half a domain); below half a domain of serving, one fleet smaller than a domain."""
    dg = domain_gpus
    if budget < 0.5 * dg * covered[0]:
        return [max(1, int(math.floor(budget / covered[0] + 0.5)))]
    cum = np.cumsum(domains * dg * covered)
    k = int(np.searchsorted(cum, budget))  # fleets 0..k-1 fit, fleet k closes the gap
    prev = float(cum[k - 1]) if k > 0 else 0.0
    last = int(math.floor((budget - prev) / (dg * covered[k]) + 0.5))
    return [int(d) * dg for d in domains[:k]] + ([last * dg] if last > 0 else [])


def fleet_jobs(
    gpus: int, phase: float, n_full: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """One fleet's jobs: a first one from 0 lasting ``phase`` s, then ``n_full`` weeks."""
    submit = np.concatenate(([0.0], phase + INFERENCE_JOB_S * np.arange(n_full)))
    runtime = np.concatenate(([phase], np.full(n_full, INFERENCE_JOB_S)))
    return np.full(n_full + 1, gpus, dtype=np.int64), submit, runtime


def inference_block(spec: SiteWorkloadSpec, profile: TenantProfile) -> Block:
    """The profile's fleets and their weekly jobs, in submit order (then fleet)."""
    rng = profile_rng(spec.seed, profile)
    budget = spec.budget_gpu_s(profile)
    if budget <= 0:
        return Block.empty()
    span, week, dg = spec.span_s, INFERENCE_JOB_S, spec.domain_gpus
    d_lo, d_hi = inference_domains(spec)
    m = int(budget / (d_lo * dg * span)) + 4
    domains = rng.integers(d_lo, d_hi + 1, size=m)
    phase = rng.integers(1, int(week) + 1, size=m).astype(np.float64)  # first job, s
    n_full = np.maximum(0.0, np.ceil((span - phase) / week))  # later jobs of one week
    covered = phase + week * n_full  # every fleet runs from 0 to covered (>= span)
    sizes = fleet_sizes(budget, domains, covered, dg)
    parts = [fleet_jobs(g, phase[f], int(n_full[f])) for f, g in enumerate(sizes)]
    gpus = np.concatenate([p[0] for p in parts])
    submit = np.concatenate([p[1] for p in parts])
    runtime = np.concatenate([p[2] for p in parts])
    fleet = np.repeat(np.arange(len(sizes)), [len(p[1]) for p in parts])
    order = np.lexsort((fleet, submit))
    return Block(gpus[order], submit[order], runtime[order], runtime[order].copy())
