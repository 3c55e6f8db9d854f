"""The anchor's training gangs: NVLink domains x a log-uniform count, lognormal run times.

Gangs of ``domain_gpus`` x a log-uniform number of NVLink domains in [16, 256]
(1,152..18,432 GPUs on NVL72), at most 25 % of the fleet (at least one domain); run
time lognormal, median 2 days, log-sigma 1.0 (assumption), clipped to [6 h, 21 d];
requested = runtime rounded up to whole hours + 10 %; arrivals homogeneous Poisson.
Jobs are drawn until the tenant's GPU time is reached and the run times are then
scaled by a factor close to 1 to meet it exactly (a Poisson process conditioned on
its total work).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from narvik.workload.synthetic_site.arrivals import uniform_arrivals
from narvik.workload.synthetic_site.blocks import Block, profile_rng
from narvik.workload.synthetic_site.numerics import fit_scale
from narvik.workload.synthetic_site.parameters import (
    TRAINING_MAX_DOMAINS,
    TRAINING_MAX_RUNTIME_S,
    TRAINING_MEDIAN_S,
    TRAINING_MIN_DOMAINS,
    TRAINING_MIN_RUNTIME_S,
    TRAINING_REQUEST_MARGIN,
    TRAINING_SIGMA,
)
from narvik.workload.synthetic_site.spec import SiteWorkloadSpec, TenantProfile, domain_range

LO_S, HI_S = TRAINING_MIN_RUNTIME_S, TRAINING_MAX_RUNTIME_S


def log_uniform_mean(lo: float, hi: float) -> float:
    """Mean of the log-uniform distribution on [lo, hi] (lo itself when hi <= lo)."""
    return (hi - lo) / math.log(hi / lo) if hi > lo else float(lo)


def training_domains(spec: SiteWorkloadSpec) -> tuple[int, int]:
    """The range of NVLink domains of a gang on this fleet."""
    return domain_range(spec, TRAINING_MIN_DOMAINS, TRAINING_MAX_DOMAINS)


def mean_gang_gpu_s(spec: SiteWorkloadSpec) -> float:
    """Expected GPU-s of one gang (unclipped lognormal run time)."""
    d_lo, d_hi = training_domains(spec)
    mean_rt = TRAINING_MEDIAN_S * math.exp(0.5 * TRAINING_SIGMA**2)
    return log_uniform_mean(d_lo, d_hi) * spec.domain_gpus * mean_rt


def draw_gangs(
    rng: np.random.Generator, m: int, d_lo: int, d_hi: int, domain_gpus: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """m gangs: their GPUs and their unscaled, unclipped run times, s."""
    u = rng.random(m)
    domains = np.floor(d_lo * ((d_hi + 1.0) / d_lo) ** u).astype(np.int64)
    gpus = np.clip(domains, d_lo, d_hi) * domain_gpus
    base = np.exp(math.log(TRAINING_MEDIAN_S) + TRAINING_SIGMA * rng.standard_normal(m))
    return gpus, base


def draw_until(
    rng: np.random.Generator, spec: SiteWorkloadSpec, budget: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Candidate gangs, drawn in batches until their work passes the budget (usually once)."""
    d_lo, d_hi = training_domains(spec)
    m = int(2 * (budget / mean_gang_gpu_s(spec))) + 16
    gpus_parts: list[NDArray[np.int64]] = []
    base_parts: list[NDArray[np.float64]] = []
    work = 0.0
    while work < budget:
        g, base = draw_gangs(rng, m, d_lo, d_hi, spec.domain_gpus)
        gpus_parts.append(g)
        base_parts.append(base)
        work += float(np.dot(g, np.clip(base, LO_S, HI_S)))
    return np.concatenate(gpus_parts), np.concatenate(base_parts)


def closest_prefix(work: NDArray[np.float64], budget: float) -> int:
    """How many of the jobs, in order, bring the total work closest to the budget
    (the total of all of them must reach it)."""
    cum = np.cumsum(work)
    k = int(np.searchsorted(cum, budget))  # cum[k] >= budget
    prev = float(cum[k - 1]) if k > 0 else 0.0
    return k + 1 if float(cum[k]) - budget < budget - prev else k


def training_requests(runtime: NDArray[np.float64]) -> NDArray[np.float64]:
    """Requested times: the run time rounded up to whole hours, plus 10 %."""
    return np.ceil(runtime / 3600.0) * 3600.0 * TRAINING_REQUEST_MARGIN


def training_block(spec: SiteWorkloadSpec, profile: TenantProfile) -> Block:
    """The profile's gangs, their GPU time scaled to its budget exactly."""
    rng = profile_rng(spec.seed, profile)
    budget = spec.budget_gpu_s(profile)
    if budget <= 0:
        return Block.empty()
    gpus, base = draw_until(rng, spec, budget)
    n = closest_prefix(np.asarray(gpus * np.clip(base, LO_S, HI_S), dtype=np.float64), budget)
    if n == 0:
        return Block.empty()
    gpus, base = gpus[:n], base[:n]
    scale, _ = fit_scale(gpus.astype(np.float64), base, LO_S, HI_S, budget)
    runtime = np.rint(np.clip(scale * base, LO_S, HI_S))
    submit = uniform_arrivals(rng, n, spec.span_s)
    return Block(gpus, submit, runtime, training_requests(runtime))
