"""A seeded synthetic year (or any span) of work for a whole site and its tenants.

:func:`generate_site_jobs` turns a :class:`SiteWorkloadSpec` (fleet size, span,
offered load, research job count, seed, tenants) into a :class:`JobTable` in
submit order. Each tenant profile offers ``load_share`` of the fleet's GPU time;
the offered load is ``sum(gpus * runtime_s) / (n_gpus * span_s)`` over the jobs
submitted in ``[0, span_s)`` (full runtimes, including what runs past the end).
Each tenant's GPU time is met to a small fraction of one job (see below).

Three job-shape families (``TenantProfile.kind``):

``research`` - many small jobs, calibrated to the Seren cluster of the Acme trace
  (Hu et al., "Characterization of Large Language Model Development in the
  Datacenter", NSDI 2024; Shanghai AI Lab, 2023; figures in
  ``../shared/data/traces/acme_cluster_summary.csv``, embedded below as ``SEREN_*``).

  * Size in GPUs: ``P(1) = 0.6``; otherwise ``2**k`` GPUs, ``k = 1..10``, with
    ``P(k) ~ q**k`` and ``q`` (~0.533) solved so the mean is Seren's
    ``avg_gpu_num`` = 5.68; the cap is 1,024 GPUs (Seren's ``max_gpu``), or the
    largest power of two <= ``n_gpus`` on a smaller site.
  * Run time: ``log R = mu + beta * k * ln 2 + sigma * Z`` - lognormal within a
    size class, longer for bigger jobs. ``beta`` (~0.37) reproduces Seren's
    coupling of size and run time: its GPU time per GPU job (sum of the
    ``*_gpu_time`` columns / ``gpu_job_num`` = 32,400 GPU-s) is 4.03 times
    ``avg_gpu_num * avg_run_time_gpu``. Run times are clipped to [60 s, 14 d]
    (14 d = Seren's ``max_run_time_gpu`` of 1,209,604 s, i.e. the partition's
    time limit; jobs at the limit are jobs killed by it).
  * Scale: the median is scaled by one factor (``exp(mu)``) so the family's GPU
    time meets its tenants' shares at ``research_jobs`` jobs per 365 days.
    Acme's jobs are tiny next to a 100,000-GPU site (Seren's 664,000 GPU jobs
    of about six months kept ~1,400 GPUs busy), so the factor is large: at the default year (100,224
    GPUs, load 0.9, 40 % research share, 1,000,000 jobs) each job must carry
    ~1.14e6 GPU-s, and the scaled median is ~8,300 s (2.3 h), the mean
    ~96,000 s (27 h). The 14-day limit then cuts the lognormal tail, which would
    shrink the mean-to-median ratio from Seren's 11.6 to ~7, so ``sigma`` is
    widened (2.21 for Seren itself, ~2.6 at the default year) to keep the
    ratio of the *clipped* run times at Seren's ``avg/med`` = 1414.3 / 122 =
    11.6; about 3 % of jobs then hit the 14-day limit and 3 % the 60-s floor.
    The budget per job depends only on ``load * share * n_gpus / research_jobs``;
    :func:`describe` reports the fitted ``sigma``, median, mean and the
    clipped fractions for any spec (``research_model`` the whole fit).
  * Sampling: the family is one stratified sample (size-class counts are
    ``n * p_k`` rounded at random; within a class the normal scores are one
    draw per equiprobable stratum, a Latin hypercube), its scale is fitted to
    the family's GPU time on the sample, the heaviest jobs are dealt, heaviest
    first, to the tenant furthest below its budget and the rest at random
    (each tenant gets ``research_jobs`` split by share), and a last per-tenant
    scale (within a few % of 1) makes each tenant's GPU time exact. Without
    this a tenant's GPU time would hinge on the one or two 1,024-GPU, 14-day
    jobs it happened to draw on a small or short spec.
  * Requested time: runtime x ``U(1, 5)`` (the "f-model" of user overestimates
    of Mu'alem and Feitelson, IEEE TPDS 12(6), 2001, with f = 5), rounded up to
    a whole 15 minutes (estimates are round values: Tsafrir, Etsion and
    Feitelson, "Backfilling using system-generated predictions rather than
    user runtime estimates", IEEE TPDS 18(6), 2007), at most the 14-day limit.
  * Arrivals: a Poisson process with a daily cycle, rate ~ ``1 + 0.5 cos(2 pi
    (t - 13 h) / 1 d)``, peaking at 13:00 UTC = 14:00 Central European time
    with ``t = 0`` at 00:00 UTC (amplitude and peak are assumptions, in the
    spirit of the daily cycle of Lublin and Feitelson, JPDC 63(11), 2003).

``training`` - the anchor's pre-training and large fine-tuning runs: gangs of
  ``domain_gpus`` x a log-uniform number of NVLink domains in [16, 256]
  (1,152..18,432 GPUs on NVL72), at most 25 % of the fleet (at least one
  domain); run time lognormal, median 2 days, log-sigma 1.0 (assumption),
  clipped to [6 h, 21 d]; requested = runtime rounded up to whole hours + 10 %;
  arrivals homogeneous Poisson. Jobs are drawn until the tenant's GPU time is
  reached and the run times are then scaled by a factor close to 1 to meet it
  exactly (a Poisson process conditioned on its total work).

``inference`` - steady serving fleets: a few fleets of ``domain_gpus`` x
  U{8..32} domains (at most 25 % of the fleet). Each fleet is one job per week,
  resubmitted back to back; its first job starts at 0 and lasts a random phase
  in (0, 7 d] so the weekly renewals of the fleets are staggered; the last job
  submitted before ``span_s`` runs its full week. The fleets' sizes are chosen
  so their GPU-seconds meet the share (to half a domain); requested = runtime.
  On a site too small for a whole domain of serving the one fleet is smaller
  than a domain.

Job ids are ``f"{tenant}-{kind}-{seq}"`` with ``seq`` = 1, 2, ... in submit
order within the tenant profile. Output is sorted by ``submit_s`` (whole
seconds), then by the profile's position in ``spec.tenants``, then ``seq``.
Training and inference profiles, and each research tenant's arrivals and
estimates, draw from their own random streams (seeded by ``seed`` and the
profile's name and kind); the research sizes and run times come from one family
stream dealt to the tenants in name order. So the order of ``spec.tenants``
changes only the order of ties. Same spec: the same table, bit for bit.

Default tenants (assumptions; the mission names the tiers, not the shares):
the anchor OpenAI 60 % (45 % training, 15 % inference); the national tier 15 %
(Sigma2, the Norwegian research e-infrastructure, 8 %; Norwegian start-ups 7 %);
the regional tier buying surplus 25 % (UK public sector 7 %, Nordic private
sector 6 %, Finnish/EU-north research 6 %, Danish industry 6 %).
"""

from __future__ import annotations

import csv
import math
import os
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from narvik.workload.job import JobTable, Tenant

# --- Acme / Seren (Hu et al., NSDI 2024), from acme_cluster_summary.csv --------------

SEREN_GPU_JOB_NUM = 663_813
"""Seren: number of GPU jobs (``gpu_job_num``)."""
SEREN_AVG_RUN_TIME_GPU_S = 1414.335
"""Seren: mean run time of GPU jobs, s (``avg_run_time_gpu``)."""
SEREN_MED_RUN_TIME_GPU_S = 122.0
"""Seren: median run time of GPU jobs, s (``med_run_time_gpu``)."""
SEREN_MAX_RUN_TIME_GPU_S = 1_209_604.0
"""Seren: longest GPU job, s (``max_run_time_gpu``): the 14-day limit + 4 s."""
SEREN_AVG_GPU_NUM = 5.68
"""Seren: mean GPUs per GPU job (``avg_gpu_num``)."""
SEREN_MED_GPU_NUM = 1.0
"""Seren: median GPUs per GPU job (``med_gpu_num``)."""
SEREN_MAX_GPU = 1024.0
"""Seren: largest GPU job (``max_gpu``)."""
SEREN_GPU_TIME_S = 4_560_592_618.0 + 14_274_584_510.0 + 2_675_447_459.0
"""Seren: GPU time of completed + cancelled + failed GPU jobs, GPU-s (``*_gpu_time``)."""

SEREN_RUNTIME_MEAN_TO_MEDIAN = SEREN_AVG_RUN_TIME_GPU_S / SEREN_MED_RUN_TIME_GPU_S
"""Seren's mean / median run time (11.59): the shape the research family keeps."""
SEREN_SIZE_RUNTIME_COUPLING = SEREN_GPU_TIME_S / (
    SEREN_GPU_JOB_NUM * SEREN_AVG_GPU_NUM * SEREN_AVG_RUN_TIME_GPU_S
)
"""E[gpus * runtime] / (E[gpus] E[runtime]) on Seren (4.03): big jobs run longer."""

# --- model constants ------------------------------------------------------------------

DAY_S = 86_400.0
YEAR_S = 365 * DAY_S
WEEK_S = 7 * DAY_S

TIERS = ("anchor", "national", "regional")
KINDS = ("training", "inference", "research")

RESEARCH_P_ONE_GPU = 0.6
RESEARCH_MAX_LOG2_GPUS = 10  # 1,024 GPUs
RESEARCH_MIN_RUNTIME_S = 60.0
RESEARCH_MAX_RUNTIME_S = 14 * DAY_S  # 1,209,600 s, a multiple of 900
RESEARCH_OVERESTIMATE_MAX = 5.0  # requested = runtime * U(1, 5)
RESEARCH_REQUEST_ROUND_S = 900.0
DIURNAL_AMPLITUDE = 0.5
DIURNAL_PEAK_UTC_S = 13 * 3600.0  # 14:00 CET

TRAINING_MIN_DOMAINS = 16
TRAINING_MAX_DOMAINS = 256
TRAINING_MAX_FLEET_FRACTION = 0.25
TRAINING_MEDIAN_S = 2 * DAY_S
TRAINING_SIGMA = 1.0
TRAINING_MIN_RUNTIME_S = 6 * 3600.0
TRAINING_MAX_RUNTIME_S = 21 * DAY_S
TRAINING_REQUEST_MARGIN = 1.10

INFERENCE_MIN_DOMAINS = 8
INFERENCE_MAX_DOMAINS = 32
INFERENCE_JOB_S = WEEK_S


@dataclass(frozen=True)
class TenantProfile:
    """One tenant's offer of work in one job-shape family.

    ``load_share`` is the share of the fleet's offered GPU time (the shares of a
    spec's profiles sum to 1). A tenant may have several profiles (one per
    ``kind``), all with the same tier and jurisdiction.
    """

    name: str
    tier: str  # "anchor" | "national" | "regional"
    jurisdiction: str  # ISO 3166 country code ("US", "NO", "GB", ...) or "EU"
    load_share: float
    kind: str  # "training" | "inference" | "research"

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"tenant name must be a non-empty string, got {self.name!r}")
        if self.tier not in TIERS:
            raise ValueError(f"tenant {self.name}: tier must be one of {TIERS}, got {self.tier!r}")
        if self.kind not in KINDS:
            raise ValueError(f"tenant {self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.jurisdiction, str) or not self.jurisdiction:
            raise ValueError(f"tenant {self.name}: jurisdiction must be a non-empty code")
        share = self.load_share
        if not (isinstance(share, int | float) and math.isfinite(share) and 0 <= share <= 1):
            raise ValueError(f"tenant {self.name}: load_share must be in [0, 1], got {share!r}")


DEFAULT_TENANTS: tuple[TenantProfile, ...] = (
    TenantProfile("openai", "anchor", "US", 0.45, "training"),
    TenantProfile("openai", "anchor", "US", 0.15, "inference"),
    TenantProfile("sigma2", "national", "NO", 0.08, "research"),
    TenantProfile("no-startups", "national", "NO", 0.07, "research"),
    TenantProfile("uk-public", "regional", "GB", 0.07, "research"),
    TenantProfile("nordic-private", "regional", "SE", 0.06, "research"),
    TenantProfile("eu-north-research", "regional", "FI", 0.06, "research"),
    TenantProfile("dk-industry", "regional", "DK", 0.06, "research"),
)
"""The mission's tenants and their shares of offered GPU time (assumptions, sum 1)."""


def _is_int(x: object) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


@dataclass(frozen=True)
class SiteWorkloadSpec:
    """What to generate: fleet, span, offered load, research job count, seed, tenants.

    ``n_gpus``: GPU slots of the fleet; ``span_s``: length of the arrival window,
    s; ``load``: offered GPU-seconds / (``n_gpus * span_s``), in (0, 2];
    ``research_jobs``: jobs of the research family per 365 days (scaled pro rata
    to ``span_s``); ``domain_gpus``: GPUs of an NVLink domain (72 for NVL72).
    Invalid values raise ``ValueError`` naming the field.
    """

    n_gpus: int
    span_s: float
    load: float = 0.9
    research_jobs: int = 1_000_000
    seed: int = 0
    tenants: tuple[TenantProfile, ...] = field(default=DEFAULT_TENANTS)
    domain_gpus: int = 72

    def __post_init__(self) -> None:
        if not _is_int(self.domain_gpus) or self.domain_gpus < 1:
            raise ValueError(f"domain_gpus must be an integer >= 1, got {self.domain_gpus!r}")
        if not _is_int(self.n_gpus) or self.n_gpus < self.domain_gpus:
            raise ValueError(
                f"n_gpus must be an integer >= domain_gpus ({self.domain_gpus}), "
                f"got {self.n_gpus!r}"
            )
        if not (isinstance(self.span_s, int | float) and math.isfinite(self.span_s)):
            raise ValueError(f"span_s must be a finite number of seconds, got {self.span_s!r}")
        if self.span_s <= 0:
            raise ValueError(f"span_s must be > 0 s, got {self.span_s!r}")
        load = self.load
        if not (isinstance(load, int | float) and math.isfinite(load) and 0 < load <= 2):
            raise ValueError(f"load must be in (0, 2], got {load!r}")
        if not _is_int(self.research_jobs) or self.research_jobs < 0:
            raise ValueError(f"research_jobs must be an integer >= 0, got {self.research_jobs!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        tenants = tuple(self.tenants)
        object.__setattr__(self, "tenants", tenants)
        if not tenants or not all(isinstance(t, TenantProfile) for t in tenants):
            raise ValueError("tenants must be a non-empty sequence of TenantProfile")
        total = math.fsum(t.load_share for t in tenants)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"tenants: load_share values must sum to 1, got {total:.6g}")
        seen: dict[str, TenantProfile] = {}
        kinds: set[tuple[str, str]] = set()
        for t in tenants:
            if (t.name, t.kind) in kinds:
                raise ValueError(f"tenants: {t.name!r} has two {t.kind!r} profiles")
            kinds.add((t.name, t.kind))
            first = seen.setdefault(t.name, t)
            if (first.tier, first.jurisdiction) != (t.tier, t.jurisdiction):
                raise ValueError(
                    f"tenants: {t.name!r} has profiles with different tier or jurisdiction"
                )
        research_share = sum(t.load_share for t in tenants if t.kind == "research")
        if research_share > 0 and self.research_jobs == 0:
            raise ValueError("research_jobs must be > 0 when research tenants have a load_share")

    def budget_gpu_s(self, profile: TenantProfile) -> float:
        """GPU-seconds the profile offers over the span: share x load x n_gpus x span_s."""
        return profile.load_share * self.load * self.n_gpus * self.span_s


# --- the research family: analytic model ------------------------------------------


def _phi(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _geometric_tail(q: float, kmax: int) -> list[float]:
    """P(size = 2**k), k = 0..kmax: 0.6 at k = 0, the rest ~ q**k."""
    w = [q**k for k in range(1, kmax + 1)]
    s = math.fsum(w)
    return [RESEARCH_P_ONE_GPU] + [(1 - RESEARCH_P_ONE_GPU) * x / s for x in w]


def _solve_size_ratio() -> float:
    """The geometric ratio q that gives Seren's mean size with sizes 1..1,024."""
    lo, hi = 0.05, 0.95
    for _ in range(200):
        q = 0.5 * (lo + hi)
        p = _geometric_tail(q, RESEARCH_MAX_LOG2_GPUS)
        mean = math.fsum(pk * 2.0**k for k, pk in enumerate(p))
        lo, hi = (q, hi) if mean < SEREN_AVG_GPU_NUM else (lo, q)
    return 0.5 * (lo + hi)


RESEARCH_SIZE_RATIO = _solve_size_ratio()
"""q of ``P(2**k GPUs) ~ q**k`` (~0.533): mean 5.68 GPUs with sizes 1..1,024."""


@dataclass(frozen=True)
class ResearchModel:
    """The research family's fitted model for one spec (all times in s).

    Size ``2**k`` with probability ``p_k``; ``log R = mu + beta k ln2 + sigma Z``
    clipped to [``min_runtime_s``, ``max_runtime_s``].
    """

    probs: tuple[float, ...]
    beta: float
    sigma: float
    mu: float
    gpu_s_per_job: float
    median_runtime_s: float
    mean_runtime_s: float
    frac_at_limit: float
    frac_at_floor: float
    shape_kept: bool

    @property
    def mean_gpus(self) -> float:
        """Expected GPUs per job."""
        return math.fsum(p * 2.0**k for k, p in enumerate(self.probs))

    @property
    def mean_to_median(self) -> float:
        """Mean / median run time (after clipping)."""
        return self.mean_runtime_s / self.median_runtime_s


def _coupling(probs: list[float], beta: float) -> float:
    g = [2.0**k for k in range(len(probs))]
    e = [math.exp(beta * k * math.log(2.0)) for k in range(len(probs))]
    eg = math.fsum(p * x for p, x in zip(probs, g, strict=True))
    ee = math.fsum(p * x for p, x in zip(probs, e, strict=True))
    egx = math.fsum(p * x * y for p, x, y in zip(probs, g, e, strict=True))
    return egx / (eg * ee)


def _solve_beta(probs: list[float]) -> float:
    """beta such that the model's size/run-time coupling equals Seren's (4.03)."""
    if len(probs) < 2:
        return 0.0
    lo, hi = 0.0, 3.0
    if _coupling(probs, hi) < SEREN_SIZE_RUNTIME_COUPLING:
        return hi
    for _ in range(200):
        b = 0.5 * (lo + hi)
        lo, hi = (b, hi) if _coupling(probs, b) < SEREN_SIZE_RUNTIME_COUPLING else (lo, b)
    return 0.5 * (lo + hi)


def _clipped_mean(loc: float, sigma: float, a: float, b: float) -> float:
    """E[clip(exp(loc + sigma Z), a, b)] for standard normal Z."""
    za = (math.log(a) - loc) / sigma
    zb = (math.log(b) - loc) / sigma
    body = math.exp(loc + 0.5 * sigma * sigma) * (_phi(zb - sigma) - _phi(za - sigma))
    return a * _phi(za) + body + b * (1.0 - _phi(zb))


def _mixture_median_offset(probs: list[float], beta: float, sigma: float) -> float:
    """x with sum_k p_k Phi((x - beta k ln2) / sigma) = 1/2 (the median of log R at mu=0)."""
    locs = [beta * k * math.log(2.0) for k in range(len(probs))]
    lo, hi = min(locs) - 10 * sigma, max(locs) + 10 * sigma
    for _ in range(200):
        x = 0.5 * (lo + hi)
        f = math.fsum(p * _phi((x - loc) / sigma) for p, loc in zip(probs, locs, strict=True))
        lo, hi = (x, hi) if f < 0.5 else (lo, x)
    return 0.5 * (lo + hi)


def _gpu_s_per_job(probs: list[float], beta: float, sigma: float, mu: float) -> float:
    a, b = RESEARCH_MIN_RUNTIME_S, RESEARCH_MAX_RUNTIME_S
    ln2 = math.log(2.0)
    return math.fsum(
        p * 2.0**k * _clipped_mean(mu + beta * k * ln2, sigma, a, b) for k, p in enumerate(probs)
    )


def _solve_mu(probs: list[float], beta: float, sigma: float, target: float) -> float:
    lo, hi = -40.0, 40.0
    for _ in range(100):
        mu = 0.5 * (lo + hi)
        lo, hi = (mu, hi) if _gpu_s_per_job(probs, beta, sigma, mu) < target else (lo, mu)
    return 0.5 * (lo + hi)


def _research_probs(n_gpus: int) -> list[float]:
    kmax = min(RESEARCH_MAX_LOG2_GPUS, int(math.floor(math.log2(n_gpus))))
    return _geometric_tail(RESEARCH_SIZE_RATIO, kmax) if kmax >= 1 else [1.0]


def research_model(spec: SiteWorkloadSpec) -> ResearchModel | None:
    """Fit the research family for ``spec`` (None when it has no research share).

    Solves ``mu`` (the median's scale) so the expected GPU time per job equals
    the family's budget / job count, and ``sigma`` so the clipped run times keep
    Seren's mean-to-median ratio (11.6); ``beta`` is Seren's size/run-time
    coupling. Raises ``ValueError`` naming ``research_jobs`` when no scale can
    carry the budget (every job at 60 s is too much, or every job at 14 days too
    little).
    """
    share = math.fsum(t.load_share for t in spec.tenants if t.kind == "research")
    if share <= 0:
        return None
    probs = _research_probs(spec.n_gpus)
    beta = _solve_beta(probs)
    target = share * spec.load * spec.n_gpus * YEAR_S / spec.research_jobs
    mean_g = math.fsum(p * 2.0**k for k, p in enumerate(probs))
    lo_t, hi_t = mean_g * RESEARCH_MIN_RUNTIME_S, mean_g * RESEARCH_MAX_RUNTIME_S
    if not lo_t * 1.0001 < target < hi_t * 0.9999:
        budget = share * spec.load * spec.n_gpus * YEAR_S
        raise ValueError(
            f"research_jobs={spec.research_jobs} cannot carry the research share "
            f"({share:.3g} of load {spec.load} on {spec.n_gpus} GPUs): each job would need "
            f"{target:.3g} GPU-s, outside ({lo_t:.3g}, {hi_t:.3g}); use research_jobs "
            f"between {budget / hi_t:.0f} and {budget / lo_t:.0f} per 365 days"
        )
    a, b = RESEARCH_MIN_RUNTIME_S, RESEARCH_MAX_RUNTIME_S

    def fit(sigma: float) -> tuple[float, float, float, float]:
        mu = _solve_mu(probs, beta, sigma, target)
        med = min(max(math.exp(mu + _mixture_median_offset(probs, beta, sigma)), a), b)
        mean = math.fsum(
            p * _clipped_mean(mu + beta * k * math.log(2.0), sigma, a, b)
            for k, p in enumerate(probs)
        )
        return mu, med, mean, mean / med

    s_lo, s_hi = 0.3, 6.0
    ratio_target = SEREN_RUNTIME_MEAN_TO_MEDIAN
    shape_kept = True
    if fit(s_hi)[3] < ratio_target:
        sigma, shape_kept = s_hi, False
    elif fit(s_lo)[3] > ratio_target:
        sigma, shape_kept = s_lo, False
    else:
        for _ in range(60):
            sigma = 0.5 * (s_lo + s_hi)
            s_lo, s_hi = (sigma, s_hi) if fit(sigma)[3] < ratio_target else (s_lo, sigma)
        sigma = 0.5 * (s_lo + s_hi)
    mu, med, mean, _ = fit(sigma)
    ln2 = math.log(2.0)
    cap = math.fsum(
        p * (1 - _phi((math.log(b) - mu - beta * k * ln2) / sigma)) for k, p in enumerate(probs)
    )
    floor = math.fsum(
        p * _phi((math.log(a) - mu - beta * k * ln2) / sigma) for k, p in enumerate(probs)
    )
    return ResearchModel(
        probs=tuple(probs),
        beta=beta,
        sigma=sigma,
        mu=mu,
        gpu_s_per_job=target,
        median_runtime_s=med,
        mean_runtime_s=mean,
        frac_at_limit=cap,
        frac_at_floor=floor,
        shape_kept=shape_kept,
    )


# --- sampling helpers --------------------------------------------------------------


def _rng(seed: int, profile: TenantProfile) -> np.random.Generator:
    """The profile's own stream: independent of the other profiles and their order."""
    key = zlib.crc32(f"{profile.name}\x00{profile.kind}".encode())
    return np.random.default_rng(np.random.SeedSequence([seed, key]))


def _fit_scale(
    gpus: NDArray[np.float64],
    base: NDArray[np.float64],
    lo: float,
    hi: float,
    target: float,
    guess: float,
) -> tuple[float, bool]:
    """Scale s with sum(gpus * clip(s * base, lo, hi)) == target (safeguarded Newton).

    Returns ``(s, feasible)``; when the target lies outside what clipping allows,
    s is the bound that comes closest and ``feasible`` is False.
    """
    g_total = float(gpus.sum())
    if target <= g_total * lo:
        return float(lo / base.max()), False
    if target >= g_total * hi:
        return float(hi / base.min()), False
    gb = gpus * base

    def f(s: float) -> tuple[float, float]:
        x = s * base
        inside = (x > lo) & (x < hi)
        val = float(np.dot(gpus, np.clip(x, lo, hi)))
        return val - target, float(gb[inside].sum())

    s_lo, s_hi = lo / base.max(), hi / base.min()  # f(s_lo) <= 0 <= f(s_hi)
    s = min(max(guess, s_lo), s_hi)
    for _ in range(200):
        val, slope = f(s)
        if abs(val) <= 1e-12 * target:
            break
        if val < 0:
            s_lo = s
        else:
            s_hi = s
        nxt = s - val / slope if slope > 0 else math.nan
        if not (s_lo < nxt < s_hi):
            nxt = math.sqrt(s_lo * s_hi)
        if nxt == s or s_hi <= s_lo * (1 + 1e-15):
            break
        s = nxt
    return s, True


def _diurnal_arrivals(rng: np.random.Generator, n: int, span_s: float) -> NDArray[np.float64]:
    """n sorted whole-second arrival times in [0, span_s) with the daily cycle (thinning)."""
    parts: list[NDArray[np.float64]] = []
    got = 0
    while got < n:
        m = int((n - got) * (1 + DIURNAL_AMPLITUDE) * 1.05) + 64
        t = rng.random(m) * span_s
        u = rng.random(m) * (1 + DIURNAL_AMPLITUDE)
        rate = 1 + DIURNAL_AMPLITUDE * np.cos(2 * np.pi * (t - DIURNAL_PEAK_UTC_S) / DAY_S)
        keep = t[u < rate]
        parts.append(keep)
        got += len(keep)
    t = np.floor(np.concatenate(parts)[:n])
    t.sort()
    return t


def _uniform_arrivals(rng: np.random.Generator, n: int, span_s: float) -> NDArray[np.float64]:
    t = np.floor(rng.random(n) * span_s)
    t.sort()
    return t


@dataclass
class _Block:
    """One profile's jobs, in submit order."""

    gpus: NDArray[np.int64]
    submit_s: NDArray[np.float64]
    runtime_s: NDArray[np.float64]
    requested_s: NDArray[np.float64]

    @staticmethod
    def empty() -> _Block:
        z = np.zeros(0)
        return _Block(np.zeros(0, dtype=np.int64), z, z.copy(), z.copy())


def _split_counts(total: int, weights: list[float], keys: list[str]) -> list[int]:
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


_ACKLAM_A = (
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.3577518672690,
    -30.66479806614716,
    2.506628277459239,
)
_ACKLAM_B = (
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
)
_ACKLAM_C = (
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
)
_ACKLAM_D = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)


def _poly(coef: tuple[float, ...], x: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.full_like(x, coef[0])
    for c in coef[1:]:
        out = out * x + c
    return out


def _norm_ppf(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse standard normal CDF, vectorised (P. J. Acklam's rational approximation,
    relative error < 1.2e-9; numpy has no ``ndtri``)."""
    p = np.clip(p, 1e-300, 1 - 1e-16)
    out = np.empty_like(p)
    low, high = p < 0.02425, p > 1 - 0.02425
    mid = ~(low | high)
    q = p[mid] - 0.5
    r = q * q
    out[mid] = q * _poly(_ACKLAM_A, r) / (_poly(_ACKLAM_B, r) * r + 1.0)
    for mask, sign, tail in ((low, 1.0, p[low]), (high, -1.0, 1.0 - p[high])):
        t = np.sqrt(-2.0 * np.log(tail))
        out[mask] = sign * _poly(_ACKLAM_C, t) / (_poly(_ACKLAM_D, t) * t + 1.0)
    return out


def _stratified_sizes_and_scores(
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
    z_sorted = _norm_ppf((rank + rng.random(n)) / counts[k_sorted])
    perm = rng.permutation(n)
    return k_sorted[perm], z_sorted[perm]


RESEARCH_GREEDY_MAX_JOBS = 50_000
"""At most this many of the heaviest research jobs are dealt out by deficit (the rest at random)."""


def _research_blocks(
    spec: SiteWorkloadSpec, profiles: list[TenantProfile], model: ResearchModel
) -> dict[str, _Block]:
    """The research family's jobs, per tenant name.

    One stratified sample for the family, one scale fitted to the family's GPU
    time; then the heaviest jobs (GPU time >= 1/1000 of the smallest tenant's
    budget, at most ``RESEARCH_GREEDY_MAX_JOBS``) go, heaviest first, to the
    tenant furthest below its budget (relative), and the rest are dealt at
    random, each tenant getting its job count (``research_jobs`` split by
    share). A last per-tenant scale (close to 1) makes each tenant's GPU time
    exact. Arrivals and overestimates are drawn per tenant.
    """
    names = sorted(t.name for t in profiles)  # order-independent
    by_name = {t.name: t for t in profiles}
    budgets = [spec.budget_gpu_s(by_name[nm]) for nm in names]
    counts = _split_counts(
        research_job_count(spec), [by_name[nm].load_share for nm in names], names
    )
    n = sum(counts)
    family = TenantProfile("research-family", "national", "EU", 0.0, "research")
    rng = _rng(spec.seed, family)
    k, z = _stratified_sizes_and_scores(rng, n, model.probs)
    gpus = np.left_shift(np.int64(1), k)
    gf = gpus.astype(np.float64)
    base = np.exp(model.beta * math.log(2.0) * k + model.sigma * z)
    lo, hi = RESEARCH_MIN_RUNTIME_S, RESEARCH_MAX_RUNTIME_S
    total = math.fsum(budgets)
    scale, ok = _fit_scale(gf, base, lo, hi, total, math.exp(model.mu))
    if not ok:
        raise ValueError(
            f"research_jobs={spec.research_jobs}: {n} research jobs cannot carry "
            f"{total:.3g} GPU-s within run times of [{lo:.0f}, {hi:.0f}] s"
        )
    w = gf * np.clip(scale * base, lo, hi)
    # deal the heaviest jobs by relative deficit
    cut = 1e-3 * min(x for x in budgets if x > 0)
    heavy = np.flatnonzero(w >= cut)
    heavy = heavy[np.argsort(-w[heavy], kind="stable")][:RESEARCH_GREEDY_MAX_JOBS]
    owner = np.full(n, -1, dtype=np.int64)
    left = list(counts)
    got = [0.0] * len(names)
    for i, wi in zip(heavy.tolist(), w[heavy].tolist(), strict=True):
        best, best_gap = -1, -math.inf
        for t, (b_t, g_t) in enumerate(zip(budgets, got, strict=True)):
            if left[t] > 0 and b_t > 0 and (gap := (b_t - g_t) / b_t) > best_gap:
                best, best_gap = t, gap
        if best < 0:
            break
        owner[i] = best
        left[best] -= 1
        got[best] += wi
    rest = rng.permutation(np.flatnonzero(owner < 0))
    owner[rest] = np.repeat(np.arange(len(names), dtype=np.int64), left)
    out: dict[str, _Block] = {}
    q = RESEARCH_REQUEST_ROUND_S
    for t, nm in enumerate(names):
        mine = rng.permutation(np.flatnonzero(owner == t))  # random order of its jobs
        own_rng = _rng(spec.seed, by_name[nm])
        if len(mine) == 0:
            out[nm] = _Block.empty()
            continue
        s_t, _ = _fit_scale(gf[mine], base[mine], lo, hi, budgets[t], scale)
        runtime = np.rint(np.clip(s_t * base[mine], lo, hi))
        factor = own_rng.uniform(1.0, RESEARCH_OVERESTIMATE_MAX, len(mine))
        requested = np.minimum(np.ceil(runtime * factor / q) * q, RESEARCH_MAX_RUNTIME_S)
        submit = _diurnal_arrivals(own_rng, len(mine), spec.span_s)
        out[nm] = _Block(gpus[mine], submit, runtime, requested)
    return out


def _domain_cap(spec: SiteWorkloadSpec) -> int:
    """Most NVLink domains one gang may take: 25 % of the fleet, at least one domain."""
    return max(1, int(TRAINING_MAX_FLEET_FRACTION * spec.n_gpus) // spec.domain_gpus)


def _training_block(spec: SiteWorkloadSpec, profile: TenantProfile) -> _Block:
    rng = _rng(spec.seed, profile)
    budget = spec.budget_gpu_s(profile)
    if budget <= 0:
        return _Block.empty()
    dmax = _domain_cap(spec)
    d_lo, d_hi = min(TRAINING_MIN_DOMAINS, dmax), min(TRAINING_MAX_DOMAINS, dmax)
    mean_d = (d_hi - d_lo) / math.log(d_hi / d_lo) if d_hi > d_lo else float(d_lo)
    mean_rt = TRAINING_MEDIAN_S * math.exp(0.5 * TRAINING_SIGMA**2)
    expect = budget / (mean_d * spec.domain_gpus * mean_rt)
    a, b = TRAINING_MIN_RUNTIME_S, TRAINING_MAX_RUNTIME_S
    gpus_parts: list[NDArray[np.int64]] = []
    base_parts: list[NDArray[np.float64]] = []
    work = 0.0
    while work < budget:  # draw until the candidates' work passes the budget (usually once)
        m = int(2 * expect) + 16
        u = rng.random(m)
        domains = np.floor(d_lo * ((d_hi + 1.0) / d_lo) ** u).astype(np.int64)
        domains = np.clip(domains, d_lo, d_hi)
        g = domains * spec.domain_gpus
        base = np.exp(math.log(TRAINING_MEDIAN_S) + TRAINING_SIGMA * rng.standard_normal(m))
        gpus_parts.append(g)
        base_parts.append(base)
        work += float(np.dot(g, np.clip(base, a, b)))
    gpus = np.concatenate(gpus_parts)
    base = np.concatenate(base_parts)
    cum = np.cumsum(gpus * np.clip(base, a, b))
    k = int(np.searchsorted(cum, budget))  # cum[k] >= budget
    prev = float(cum[k - 1]) if k > 0 else 0.0
    n = k + 1 if float(cum[k]) - budget < budget - prev else k
    if n == 0:
        return _Block.empty()
    gpus, base = gpus[:n], base[:n]
    scale, _ = _fit_scale(gpus.astype(np.float64), base, a, b, budget, 1.0)
    runtime = np.rint(np.clip(scale * base, a, b))
    requested = np.ceil(runtime / 3600.0) * 3600.0 * TRAINING_REQUEST_MARGIN
    submit = _uniform_arrivals(rng, n, spec.span_s)
    return _Block(gpus, submit, runtime, requested)


def _inference_block(spec: SiteWorkloadSpec, profile: TenantProfile) -> _Block:
    rng = _rng(spec.seed, profile)
    budget = spec.budget_gpu_s(profile)
    if budget <= 0:
        return _Block.empty()
    span, week, dg = spec.span_s, INFERENCE_JOB_S, spec.domain_gpus
    dmax = _domain_cap(spec)
    d_lo, d_hi = min(INFERENCE_MIN_DOMAINS, dmax), min(INFERENCE_MAX_DOMAINS, dmax)
    m = int(budget / (d_lo * dg * span)) + 4
    domains = rng.integers(d_lo, d_hi + 1, size=m)
    phase = rng.integers(1, int(week) + 1, size=m).astype(np.float64)  # first job, s
    n_full = np.maximum(0.0, np.ceil((span - phase) / week))  # later jobs of one week
    covered = phase + week * n_full  # every fleet runs from 0 to covered (>= span)
    cum = np.cumsum(domains * dg * covered)
    if budget < 0.5 * dg * covered[0]:  # less than half a domain of serving: one small fleet
        sizes = [max(1, int(math.floor(budget / covered[0] + 0.5)))]
    else:
        k = int(np.searchsorted(cum, budget))  # fleets 0..k-1 fit, fleet k closes the gap
        prev = float(cum[k - 1]) if k > 0 else 0.0
        last = int(math.floor((budget - prev) / (dg * covered[k]) + 0.5))
        sizes = [int(d) * dg for d in domains[:k]] + ([last * dg] if last > 0 else [])
    gpus_l, submit_l, runtime_l = [], [], []
    for f, g in enumerate(sizes):  # a handful of fleets; their jobs are vectorised
        nf = int(n_full[f])
        submit = np.concatenate(([0.0], phase[f] + week * np.arange(nf)))
        runtime = np.concatenate(([phase[f]], np.full(nf, week)))
        gpus_l.append(np.full(nf + 1, g, dtype=np.int64))
        submit_l.append(submit)
        runtime_l.append(runtime)
    gpus = np.concatenate(gpus_l)
    submit = np.concatenate(submit_l)
    runtime = np.concatenate(runtime_l)
    fleet = np.repeat(np.arange(len(sizes)), [len(s) for s in submit_l])
    order = np.lexsort((fleet, submit))
    return _Block(gpus[order], submit[order], runtime[order], runtime[order].copy())


# --- public API ---------------------------------------------------------------------


def research_job_count(spec: SiteWorkloadSpec) -> int:
    """Research jobs over the span: ``research_jobs`` x ``span_s`` / 365 d, rounded."""
    return int(round(spec.research_jobs * spec.span_s / YEAR_S))


def generate_site_jobs(spec: SiteWorkloadSpec) -> JobTable:
    """Generate the site's jobs for ``spec`` (see the module docstring for the model).

    Returns a :class:`JobTable` sorted by ``submit_s`` (whole seconds in
    ``[0, span_s)``), then profile position in ``spec.tenants``, then ``seq``.
    Runtimes and requested times are whole seconds (training requests are whole
    hours x 1.1). Same spec: the same arrays, bit for bit.
    """
    model = research_model(spec)
    research = [t for t in spec.tenants if t.kind == "research"]
    research_jobs = _research_blocks(spec, research, model) if model is not None else {}
    blocks: list[_Block] = []
    for profile in spec.tenants:
        if profile.kind == "research":
            blocks.append(research_jobs.get(profile.name, _Block.empty()))
        elif profile.kind == "training":
            blocks.append(_training_block(spec, profile))
        else:
            blocks.append(_inference_block(spec, profile))
    sizes = [len(b.gpus) for b in blocks]
    group = np.repeat(np.arange(len(blocks), dtype=np.int64), sizes)
    seq = np.concatenate([np.arange(1, s + 1, dtype=np.int64) for s in sizes])
    submit = np.concatenate([b.submit_s for b in blocks])
    order = np.lexsort((seq, group, submit))
    ids: list[str] = []
    for profile, s in zip(spec.tenants, sizes, strict=True):
        prefix = f"{profile.name}-{profile.kind}-"
        ids.extend([prefix + str(i) for i in range(1, s + 1)])
    job_id = np.empty(len(ids), dtype=object)
    job_id[:] = ids
    names = np.empty(len(blocks), dtype=object)
    names[:] = [p.name for p in spec.tenants]
    tiers = np.empty(len(blocks), dtype=object)
    tiers[:] = [p.tier for p in spec.tenants]
    g_sorted = group[order]
    return JobTable(
        job_id=job_id[order],
        tenant=names[g_sorted],
        tier=tiers[g_sorted],
        gpus=np.concatenate([b.gpus for b in blocks])[order],
        submit_s=submit[order],
        runtime_s=np.concatenate([b.runtime_s for b in blocks])[order],
        requested_s=np.concatenate([b.requested_s for b in blocks])[order],
    )


def site_tenants(spec: SiteWorkloadSpec) -> list[Tenant]:
    """The distinct tenants of ``spec`` (first-seen order) with tier and jurisdiction."""
    seen: dict[str, Tenant] = {}
    for t in spec.tenants:
        seen.setdefault(t.name, Tenant(name=t.name, tier=t.tier, jurisdiction=t.jurisdiction))
    return list(seen.values())


def describe(spec: SiteWorkloadSpec) -> dict[str, Any]:
    """The model's figures for ``spec`` without generating it (times in s, work in GPU-s).

    ``research``: job count, GPU-s per job, ``beta``, ``sigma``, median and
    mean run time (after the [60 s, 14 d] clip), their ratio, the fractions
    at the limit and the floor, mean GPUs, and whether Seren's mean-to-median
    ratio could be kept. ``training`` / ``inference``: size ranges and
    expected counts. ``budgets_gpu_s``: each profile's offered GPU-seconds.
    """
    out: dict[str, Any] = {
        "n_gpus": spec.n_gpus,
        "span_s": spec.span_s,
        "load": spec.load,
        "offered_gpu_s": spec.load * spec.n_gpus * spec.span_s,
        "budgets_gpu_s": {f"{t.name}/{t.kind}": spec.budget_gpu_s(t) for t in spec.tenants},
    }
    model = research_model(spec)
    if model is not None:
        out["research"] = {
            "jobs": research_job_count(spec),
            "gpu_s_per_job": model.gpu_s_per_job,
            "mean_gpus": model.mean_gpus,
            "max_gpus": 2 ** (len(model.probs) - 1),
            "beta": model.beta,
            "sigma": model.sigma,
            "median_runtime_s": model.median_runtime_s,
            "mean_runtime_s": model.mean_runtime_s,
            "mean_to_median": model.mean_to_median,
            "seren_mean_to_median": SEREN_RUNTIME_MEAN_TO_MEDIAN,
            "frac_at_limit": model.frac_at_limit,
            "frac_at_floor": model.frac_at_floor,
            "shape_kept": model.shape_kept,
        }
    dmax = _domain_cap(spec)
    t_lo, t_hi = min(TRAINING_MIN_DOMAINS, dmax), min(TRAINING_MAX_DOMAINS, dmax)
    mean_d = (t_hi - t_lo) / math.log(t_hi / t_lo) if t_hi > t_lo else float(t_lo)
    train = math.fsum(spec.budget_gpu_s(t) for t in spec.tenants if t.kind == "training")
    mean_rt = TRAINING_MEDIAN_S * math.exp(0.5 * TRAINING_SIGMA**2)
    out["training"] = {
        "gang_gpus": (t_lo * spec.domain_gpus, t_hi * spec.domain_gpus),
        "median_runtime_s": TRAINING_MEDIAN_S,
        "expected_jobs": train / (mean_d * spec.domain_gpus * mean_rt),
    }
    inf_share = math.fsum(t.load_share for t in spec.tenants if t.kind == "inference")
    i_lo, i_hi = min(INFERENCE_MIN_DOMAINS, dmax), min(INFERENCE_MAX_DOMAINS, dmax)
    out["inference"] = {
        "fleet_gpus": (i_lo * spec.domain_gpus, i_hi * spec.domain_gpus),
        "steady_gpus_upper": inf_share * spec.load * spec.n_gpus,
        "job_s": INFERENCE_JOB_S,
    }
    return out


def acme_statistics(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """Read ``acme_cluster_summary.csv`` (Hu et al., NSDI 2024): per cluster id, its figures.

    Every column but ``id`` is a float (an empty cell - a figure the trace
    lacks, e.g. Philly's CPU jobs - is NaN). Raises ``ValueError`` naming the
    file and 1-based line for a missing header or column, a row of the wrong
    width, a duplicate or empty id, or a value that is not a number.
    """
    required = (
        "avg_run_time_gpu",
        "avg_gpu_num",
        "med_run_time_gpu",
        "med_gpu_num",
        "max_run_time_gpu",
        "max_gpu",
    )
    name = os.fspath(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{name}:1: empty file, expected a header row") from None
        if not header or header[0] != "id":
            raise ValueError(f"{name}:1: the first column must be 'id', got {header[:1]}")
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{name}:1: missing column(s) {', '.join(missing)}")
        if len(set(header)) != len(header):
            raise ValueError(f"{name}:1: duplicate column names")
        out: dict[str, dict[str, float]] = {}
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{name}:{line}: expected {len(header)} fields, got {len(row)}")
            cid = row[0].strip()
            if not cid:
                raise ValueError(f"{name}:{line}: empty id")
            if cid in out:
                raise ValueError(f"{name}:{line}: duplicate id {cid!r}")
            values: dict[str, float] = {}
            for col, cell in zip(header[1:], row[1:], strict=True):
                text = cell.strip()
                if not text:
                    values[col] = math.nan
                    continue
                try:
                    values[col] = float(text)
                except ValueError:
                    raise ValueError(
                        f"{name}:{line}: column {col!r}: not a number: {text!r}"
                    ) from None
            out[cid] = values
    return out
