"""The research family's jobs: one stratified sample, dealt to the research tenants.

The family is one stratified sample (size-class counts ``n * p_k`` rounded at
random; within a class the normal scores are one draw per equiprobable stratum, a
Latin hypercube); its scale is fitted to the family's GPU time on the sample; the
heaviest jobs are dealt, heaviest first, to the tenant furthest below its budget
and the rest at random (each tenant gets ``research_jobs`` split by share); a last
per-tenant scale (within a few % of 1) makes each tenant's GPU time exact.
Requested times and arrivals are drawn per tenant.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from narvik.workload.synthetic_site.arrivals import diurnal_arrivals
from narvik.workload.synthetic_site.blocks import Block, profile_rng
from narvik.workload.synthetic_site.calibration import LN2, ResearchModel
from narvik.workload.synthetic_site.numerics import fit_scale, norm_ppf
from narvik.workload.synthetic_site.parameters import (
    RESEARCH_GREEDY_MAX_JOBS,
    RESEARCH_MAX_RUNTIME_S,
    RESEARCH_MIN_RUNTIME_S,
    RESEARCH_OVERESTIMATE_MAX,
    RESEARCH_REQUEST_ROUND_S,
)
from narvik.workload.synthetic_site.spec import SiteWorkloadSpec, TenantProfile, research_job_count

RESEARCH_FAMILY = TenantProfile("research-family", "national", "EU", 0.0, "research")
"""The profile whose stream draws the family's sizes and run times and deals them."""

LO_S, HI_S = RESEARCH_MIN_RUNTIME_S, RESEARCH_MAX_RUNTIME_S


def split_counts(total: int, weights: list[float], keys: list[str]) -> list[int]:
    """Largest-remainder split of ``total`` by weights (ties by key, not position);
    every positive weight gets >= 1."""
    wsum = math.fsum(weights)
    raw = [total * w / wsum for w in weights]
    counts = [int(math.floor(x)) for x in raw]
    rest = total - sum(counts)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), keys[i]))
    for i in order[:rest]:
        counts[i] += 1
    return [max(c, 1) if w > 0 else 0 for c, w in zip(counts, weights, strict=True)]


def stratified_sizes_and_scores(
    rng: np.random.Generator, n: int, probs: tuple[float, ...]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Size classes k and normal scores z for n research jobs, stratified.

    Class counts are ``n * p_k`` rounded up or down at random (systematic sampling,
    summing to n); within a class of m jobs the scores are one draw from each of
    the m equiprobable strata of N(0, 1) (Latin hypercube); the jobs are then put
    in random order. Each job's (k, z) still has the model's distribution, but the
    sample's size histogram and run-time quantiles follow it closely, so a
    tenant's GPU time does not hinge on how many 1,024-GPU jobs it happened to draw.
    """
    cum = np.floor(n * np.concatenate(([0.0], np.cumsum(probs))) + rng.random())
    cum[-1] = n
    cum[0] = 0
    counts = np.diff(cum).astype(np.int64)
    k_sorted = np.repeat(np.arange(len(probs), dtype=np.int64), counts)
    start = np.repeat(cum[:-1], counts)
    rank = np.arange(n, dtype=np.float64) - start
    z_sorted = norm_ppf((rank + rng.random(n)) / counts[k_sorted])
    perm = rng.permutation(n)
    return k_sorted[perm], z_sorted[perm]


def deal_heaviest(
    weights: list[float], budgets: list[float], counts: list[int]
) -> tuple[list[int], list[int]]:
    """Deal jobs of the given GPU times, in order, each to the tenant furthest below its
    budget (relative) that still has jobs to take.

    Returns the tenant of each job dealt (the dealing stops early when no tenant can
    take one) and the job counts left per tenant.
    """
    left = list(counts)
    got = [0.0] * len(budgets)
    owners: list[int] = []
    for w in weights:
        best, best_gap = -1, -math.inf
        for t, (b_t, g_t) in enumerate(zip(budgets, got, strict=True)):
            if left[t] > 0 and b_t > 0 and (gap := (b_t - g_t) / b_t) > best_gap:
                best, best_gap = t, gap
        if best < 0:
            break
        owners.append(best)
        left[best] -= 1
        got[best] += w
    return owners, left


def deal_jobs(
    rng: np.random.Generator, work: NDArray[np.float64], budgets: list[float], counts: list[int]
) -> NDArray[np.int64]:
    """The tenant index of each job: the heaviest (GPU time >= 1/1000 of the smallest
    positive budget, at most ``RESEARCH_GREEDY_MAX_JOBS``) by :func:`deal_heaviest`,
    the rest at random so each tenant gets its count."""
    cut = 1e-3 * min(x for x in budgets if x > 0)
    heavy = np.flatnonzero(work >= cut)
    heavy = heavy[np.argsort(-work[heavy], kind="stable")][:RESEARCH_GREEDY_MAX_JOBS]
    owners, left = deal_heaviest(work[heavy].tolist(), budgets, counts)
    owner = np.full(len(work), -1, dtype=np.int64)
    owner[heavy[: len(owners)]] = owners
    rest = rng.permutation(np.flatnonzero(owner < 0))
    owner[rest] = np.repeat(np.arange(len(budgets), dtype=np.int64), left)
    return owner


def research_requests(
    runtime: NDArray[np.float64], factor: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Requested times: runtime x factor rounded up to 15 minutes, at most the 14-day limit."""
    q = RESEARCH_REQUEST_ROUND_S
    return np.minimum(np.ceil(runtime * factor / q) * q, RESEARCH_MAX_RUNTIME_S)


def tenant_block(
    rng: np.random.Generator,
    gpus: NDArray[np.int64],
    base: NDArray[np.float64],
    budget: float,
    span_s: float,
) -> Block:
    """A tenant's research jobs from its share of the sample: run times scaled to meet its
    budget, then its own overestimates and arrivals."""
    s_t, _ = fit_scale(gpus.astype(np.float64), base, LO_S, HI_S, budget)
    runtime = np.rint(np.clip(s_t * base, LO_S, HI_S))
    factor = rng.uniform(1.0, RESEARCH_OVERESTIMATE_MAX, len(gpus))
    submit = diurnal_arrivals(rng, len(gpus), span_s)
    return Block(gpus, submit, runtime, research_requests(runtime, factor))


def research_blocks(
    spec: SiteWorkloadSpec, profiles: list[TenantProfile], model: ResearchModel
) -> dict[str, Block]:
    """The research family's jobs, per tenant name (see the module docstring).

    Raises ``ValueError`` naming ``research_jobs`` when the sample cannot carry the
    family's GPU time within the run-time clip.
    """
    names = sorted(t.name for t in profiles)  # order-independent
    by_name = {t.name: t for t in profiles}
    budgets = [spec.budget_gpu_s(by_name[nm]) for nm in names]
    shares = [by_name[nm].load_share for nm in names]
    counts = split_counts(research_job_count(spec), shares, names)
    n = sum(counts)
    rng = profile_rng(spec.seed, RESEARCH_FAMILY)
    k, z = stratified_sizes_and_scores(rng, n, model.probs)
    gpus = np.left_shift(np.int64(1), k)
    base = np.exp(model.beta * LN2 * k + model.sigma * z)
    total = math.fsum(budgets)
    scale, ok = fit_scale(gpus.astype(np.float64), base, LO_S, HI_S, total)
    if not ok:
        raise ValueError(
            f"research_jobs={spec.research_jobs}: {n} research jobs cannot carry "
            f"{total:.3g} GPU-s within run times of [{LO_S:.0f}, {HI_S:.0f}] s"
        )
    owner = deal_jobs(rng, gpus * np.clip(scale * base, LO_S, HI_S), budgets, counts)
    out: dict[str, Block] = {}
    for t, nm in enumerate(names):
        mine = rng.permutation(np.flatnonzero(owner == t))  # random order of its jobs
        if len(mine) == 0:
            out[nm] = Block.empty()
            continue
        own_rng = profile_rng(spec.seed, by_name[nm])
        out[nm] = tenant_block(own_rng, gpus[mine], base[mine], budgets[t], spec.span_s)
    return out
