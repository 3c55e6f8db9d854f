"""The research family's calibration: size distribution, size/run-time coupling, and
the run-time lognormal fitted to a spec's GPU-time budget and Seren's shape.

Size ``2**k`` GPUs with probability ``p_k`` (``p_0 = 0.6``, the rest ``~ q**k``);
``log R = mu + beta k ln2 + sigma Z``, clipped to [60 s, 14 d]. ``q`` gives Seren's
mean size, ``beta`` Seren's size/run-time coupling, ``mu`` the budget per job and
``sigma`` Seren's mean-to-median run time (of the clipped run times). Every
equation is solved with :func:`~narvik.workload.synthetic_site.numerics.find_root`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from narvik.workload.synthetic_site.acme import (
    SEREN_AVG_GPU_NUM,
    SEREN_RUNTIME_MEAN_TO_MEDIAN,
    SEREN_SIZE_RUNTIME_COUPLING,
)
from narvik.workload.synthetic_site.numerics import clipped_lognormal_mean, find_root, norm_cdf
from narvik.workload.synthetic_site.parameters import (
    RESEARCH_MAX_LOG2_GPUS,
    RESEARCH_MAX_RUNTIME_S,
    RESEARCH_MIN_RUNTIME_S,
    RESEARCH_P_ONE_GPU,
    YEAR_S,
)
from narvik.workload.synthetic_site.spec import SiteWorkloadSpec, research_share

LN2 = math.log(2.0)
SIGMA_RANGE = (0.3, 6.0)
"""The run-time log-sigma is sought in this range (and pinned to its ends when it must be)."""

# --- sizes ---------------------------------------------------------------------------------


def geometric_tail(q: float, kmax: int) -> list[float]:
    """P(size = 2**k), k = 0..kmax: 0.6 at k = 0, the rest ~ q**k."""
    w = [q**k for k in range(1, kmax + 1)]
    s = math.fsum(w)
    return [RESEARCH_P_ONE_GPU] + [(1 - RESEARCH_P_ONE_GPU) * x / s for x in w]


def mean_gpus(probs: list[float] | tuple[float, ...]) -> float:
    """Expected GPUs per job when ``probs[k]`` is P(2**k GPUs)."""
    return math.fsum(p * 2.0**k for k, p in enumerate(probs))


def solve_size_ratio(mean: float = SEREN_AVG_GPU_NUM) -> float:
    """The geometric ratio q that gives ``mean`` GPUs per job with sizes 1..1,024."""

    def excess(q: float) -> float:
        return mean_gpus(geometric_tail(q, RESEARCH_MAX_LOG2_GPUS)) - mean

    return find_root(excess, 0.05, 0.95)


RESEARCH_SIZE_RATIO = solve_size_ratio()
"""q of ``P(2**k GPUs) ~ q**k`` (~0.533): mean 5.68 GPUs with sizes 1..1,024."""


def research_probs(n_gpus: int) -> list[float]:
    """Size-class probabilities on a fleet of ``n_gpus`` (the cap: the largest power of
    two <= ``n_gpus``, at most 1,024)."""
    kmax = min(RESEARCH_MAX_LOG2_GPUS, int(math.floor(math.log2(n_gpus))))
    return geometric_tail(RESEARCH_SIZE_RATIO, kmax) if kmax >= 1 else [1.0]


# --- size/run-time coupling ----------------------------------------------------------------


def size_runtime_coupling(probs: list[float], beta: float) -> float:
    """E[gpus x 2**(beta k)] / (E[gpus] E[2**(beta k)]): how much longer big jobs run."""
    g = [2.0**k for k in range(len(probs))]
    e = [math.exp(beta * k * LN2) for k in range(len(probs))]
    eg = math.fsum(p * x for p, x in zip(probs, g, strict=True))
    ee = math.fsum(p * x for p, x in zip(probs, e, strict=True))
    egx = math.fsum(p * x * y for p, x, y in zip(probs, g, e, strict=True))
    return egx / (eg * ee)


def solve_beta(probs: list[float], coupling: float = SEREN_SIZE_RUNTIME_COUPLING) -> float:
    """beta in [0, 3] whose coupling is ``coupling`` (Seren's 4.03); 3 if out of reach."""
    if len(probs) < 2:
        return 0.0
    hi = 3.0
    if size_runtime_coupling(probs, hi) < coupling:
        return hi
    return find_root(lambda b: size_runtime_coupling(probs, b) - coupling, 0.0, hi)


# --- run times -----------------------------------------------------------------------------


def mixture_median_offset(probs: list[float], beta: float, sigma: float) -> float:
    """x with sum_k p_k Phi((x - beta k ln2) / sigma) = 1/2 (the median of log R at mu=0)."""
    locs = [beta * k * LN2 for k in range(len(probs))]

    def excess(x: float) -> float:  # the mixture's CDF at x, less 1/2
        cdf = math.fsum(p * norm_cdf((x - c) / sigma) for p, c in zip(probs, locs, strict=True))
        return cdf - 0.5

    return find_root(excess, min(locs) - 10 * sigma, max(locs) + 10 * sigma)


def mean_runtime(probs: list[float], beta: float, sigma: float, mu: float) -> float:
    """Expected clipped run time, s."""
    a, b = RESEARCH_MIN_RUNTIME_S, RESEARCH_MAX_RUNTIME_S
    return math.fsum(
        p * clipped_lognormal_mean(mu + beta * k * LN2, sigma, a, b) for k, p in enumerate(probs)
    )


def gpu_s_per_job(probs: list[float], beta: float, sigma: float, mu: float) -> float:
    """Expected GPU time per job, GPU-s (clipped run times)."""
    a, b = RESEARCH_MIN_RUNTIME_S, RESEARCH_MAX_RUNTIME_S
    return math.fsum(
        p * 2.0**k * clipped_lognormal_mean(mu + beta * k * LN2, sigma, a, b)
        for k, p in enumerate(probs)
    )


def solve_mu(probs: list[float], beta: float, sigma: float, target: float) -> float:
    """mu in [-40, 40] whose expected GPU time per job is ``target`` GPU-s."""
    return find_root(lambda mu: gpu_s_per_job(probs, beta, sigma, mu) - target, -40.0, 40.0)


def clipped_fractions(
    probs: list[float], beta: float, sigma: float, mu: float
) -> tuple[float, float]:
    """The fractions of jobs at the 14-day limit and at the 60-s floor."""
    log_a, log_b = math.log(RESEARCH_MIN_RUNTIME_S), math.log(RESEARCH_MAX_RUNTIME_S)
    cap = math.fsum(
        p * (1 - norm_cdf((log_b - mu - beta * k * LN2) / sigma)) for k, p in enumerate(probs)
    )
    floor = math.fsum(
        p * norm_cdf((log_a - mu - beta * k * LN2) / sigma) for k, p in enumerate(probs)
    )
    return cap, floor


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
        return mean_gpus(self.probs)

    @property
    def mean_to_median(self) -> float:
        """Mean / median run time (after clipping)."""
        return self.mean_runtime_s / self.median_runtime_s


@dataclass(frozen=True)
class RuntimeFit:
    """The run-time lognormal at one sigma: its mu, and its clipped median and mean, s."""

    mu: float
    median_s: float
    mean_s: float

    @property
    def ratio(self) -> float:
        """Mean / median."""
        return self.mean_s / self.median_s


def fit_runtime(probs: list[float], beta: float, sigma: float, target: float) -> RuntimeFit:
    """mu for ``target`` GPU-s per job at this sigma, and the median and mean it gives."""
    mu = solve_mu(probs, beta, sigma, target)
    med = math.exp(mu + mixture_median_offset(probs, beta, sigma))
    med = min(max(med, RESEARCH_MIN_RUNTIME_S), RESEARCH_MAX_RUNTIME_S)
    return RuntimeFit(mu, med, mean_runtime(probs, beta, sigma, mu))


def solve_sigma(probs: list[float], beta: float, target: float) -> tuple[float, bool]:
    """sigma whose clipped run times have Seren's mean-to-median ratio (11.6) at ``target``
    GPU-s per job; ``(sigma, True)``, or the nearer end of :data:`SIGMA_RANGE` and False."""
    s_lo, s_hi = SIGMA_RANGE
    ratio_target = SEREN_RUNTIME_MEAN_TO_MEDIAN
    if fit_runtime(probs, beta, s_hi, target).ratio < ratio_target:
        return s_hi, False
    if fit_runtime(probs, beta, s_lo, target).ratio > ratio_target:
        return s_lo, False
    sigma = find_root(
        lambda s: fit_runtime(probs, beta, s, target).ratio - ratio_target, s_lo, s_hi
    )
    return sigma, True


def _check_budget(spec: SiteWorkloadSpec, share: float, probs: list[float]) -> float:
    """GPU-s per research job; ``ValueError`` naming ``research_jobs`` if no scale can carry it."""
    target = share * spec.load * spec.n_gpus * YEAR_S / spec.research_jobs
    mean_g = mean_gpus(probs)
    lo_t, hi_t = mean_g * RESEARCH_MIN_RUNTIME_S, mean_g * RESEARCH_MAX_RUNTIME_S
    if not lo_t * 1.0001 < target < hi_t * 0.9999:
        budget = share * spec.load * spec.n_gpus * YEAR_S
        raise ValueError(
            f"research_jobs={spec.research_jobs} cannot carry the research share "
            f"({share:.3g} of load {spec.load} on {spec.n_gpus} GPUs): each job would need "
            f"{target:.3g} GPU-s, outside ({lo_t:.3g}, {hi_t:.3g}); use research_jobs "
            f"between {budget / hi_t:.0f} and {budget / lo_t:.0f} per 365 days"
        )
    return target


def research_model(spec: SiteWorkloadSpec) -> ResearchModel | None:
    """Fit the research family for ``spec`` (None when it has no research share).

    Solves ``mu`` (the median's scale) so the expected GPU time per job equals
    the family's budget / job count, and ``sigma`` so the clipped run times keep
    Seren's mean-to-median ratio (11.6); ``beta`` is Seren's size/run-time
    coupling. Raises ``ValueError`` naming ``research_jobs`` when no scale can
    carry the budget (every job at 60 s is too much, or every job at 14 days too
    little).
    """
    share = research_share(spec)
    if share <= 0:
        return None
    probs = research_probs(spec.n_gpus)
    beta = solve_beta(probs)
    target = _check_budget(spec, share, probs)
    sigma, shape_kept = solve_sigma(probs, beta, target)
    fit = fit_runtime(probs, beta, sigma, target)
    cap, floor = clipped_fractions(probs, beta, sigma, fit.mu)
    return ResearchModel(
        probs=tuple(probs),
        beta=beta,
        sigma=sigma,
        mu=fit.mu,
        gpu_s_per_job=target,
        median_runtime_s=fit.median_s,
        mean_runtime_s=fit.mean_s,
        frac_at_limit=cap,
        frac_at_floor=floor,
        shape_kept=shape_kept,
    )
