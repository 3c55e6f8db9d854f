"""The synthetic site's numerical helpers (scipy-based) and the equations they solve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from narvik.workload.synthetic_site import (
    RESEARCH_SIZE_RATIO,
    SEREN_AVG_GPU_NUM,
    SEREN_RUNTIME_MEAN_TO_MEDIAN,
    SEREN_SIZE_RUNTIME_COUPLING,
)
from narvik.workload.synthetic_site import calibration as rm
from narvik.workload.synthetic_site.inference_jobs import fleet_sizes
from narvik.workload.synthetic_site.numerics import (
    clipped_lognormal_mean,
    find_root,
    fit_scale,
    norm_cdf,
    norm_ppf,
)
from narvik.workload.synthetic_site.research_jobs import deal_heaviest, split_counts
from narvik.workload.synthetic_site.training_jobs import closest_prefix, log_uniform_mean

# --- the normal distribution ------------------------------------------------------------

# Published standard normal quantiles (e.g. Abramowitz & Stegun 26.2; NIST/SEMATECH
# e-Handbook 1.3.6.7.1), to 15 or more digits.
QUANTILES = [
    (0.5, 0.0),
    (0.8413447460685429, 1.0),  # Phi(1)
    (0.9, 1.2815515655446004),
    (0.95, 1.6448536269514722),
    (0.975, 1.959963984540054),
    (0.99, 2.3263478740408408),
    (0.995, 2.5758293035489004),
    (0.999, 3.090232306167813),
    (1e-6, -4.753424308822899),
    (1e-9, -5.997807015007687),
]


@pytest.mark.parametrize(("p", "z"), QUANTILES)
def test_norm_ppf_matches_published_quantiles(p: float, z: float) -> None:
    got = float(norm_ppf(np.array([p]))[0])
    assert got == pytest.approx(z, rel=1e-12, abs=1e-15)


def test_norm_ppf_is_vectorised_symmetric_and_finite_at_zero() -> None:
    p = np.array([0.0, 0.025, 0.5, 0.975, 1 - 1e-16])
    z = norm_ppf(p)
    assert z.dtype == np.float64 and z.shape == p.shape
    assert np.all(np.isfinite(z))
    assert z[0] == pytest.approx(-37.04, abs=0.01)  # clipped to p = 1e-300
    assert z[1] == pytest.approx(-z[3], rel=1e-14)
    assert z[2] == 0.0


@pytest.mark.parametrize(
    ("x", "phi"),
    [
        (0.0, 0.5),
        (1.0, 0.8413447460685429),
        (-1.0, 0.15865525393145707),
        (1.96, 0.9750021048517795),
    ],
)
def test_norm_cdf_matches_published_values(x: float, phi: float) -> None:
    assert norm_cdf(x) == pytest.approx(phi, rel=1e-14)


def test_norm_cdf_inverts_norm_ppf() -> None:
    p = np.linspace(1e-6, 1 - 1e-6, 101)
    back = np.array([norm_cdf(z) for z in norm_ppf(p)])
    np.testing.assert_allclose(back, p, rtol=1e-12)


# --- root finding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "lo", "hi", "root"),
    [
        (lambda x: x * x - 2.0, 0.0, 2.0, math.sqrt(2.0)),
        (lambda x: math.cos(x) - x, 0.0, 1.0, 0.7390851332151607),  # the Dottie number
        (lambda x: math.exp(x) - 10.0, -40.0, 40.0, math.log(10.0)),
        (lambda x: x**3, -1.0, 3.0, 0.0),
    ],
)
def test_find_root_solves_its_equation_to_a_few_ulps(f, lo: float, hi: float, root: float) -> None:
    x = find_root(f, lo, hi)
    assert lo <= x <= hi
    assert x == pytest.approx(root, rel=4 * np.finfo(float).eps, abs=2e-15)


def test_find_root_needs_a_sign_change() -> None:
    with pytest.raises(ValueError):
        find_root(lambda x: x * x + 1.0, -1.0, 1.0)


SQRT_2PI = math.sqrt(2 * math.pi)


# --- the clipped lognormal -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loc", "sigma", "a", "b"),
    [(0.0, 1.0, 0.5, 3.0), (9.0, 2.6, 60.0, 1.2096e6), (2.0, 0.3, 1.0, 5.0)],
)
def test_clipped_lognormal_mean_agrees_with_quadrature(
    loc: float, sigma: float, a: float, b: float
) -> None:
    def integrand(z: float) -> float:
        return min(max(math.exp(loc + sigma * z), a), b) * math.exp(-0.5 * z * z) / SQRT_2PI

    z_a, z_b = (math.log(a) - loc) / sigma, (math.log(b) - loc) / sigma
    pieces = [(-40.0, z_a), (z_a, z_b), (z_b, 40.0)]
    want = math.fsum(integrate.quad(integrand, u, v, epsabs=0, epsrel=1e-12)[0] for u, v in pieces)
    assert clipped_lognormal_mean(loc, sigma, a, b) == pytest.approx(want, rel=1e-9)


def test_clipped_lognormal_mean_without_clipping_is_the_lognormal_mean() -> None:
    got = clipped_lognormal_mean(1.0, 0.5, 1e-200, 1e200)
    assert got == pytest.approx(math.exp(1.0 + 0.125), rel=1e-14)


# --- the scale that meets a budget ---------------------------------------------------------


def test_fit_scale_meets_the_target() -> None:
    rng = np.random.default_rng(5)
    gpus = 2.0 ** rng.integers(0, 11, 10_000)
    base = np.exp(2.6 * rng.standard_normal(10_000))
    lo, hi = 60.0, 1.2096e6
    target = 1e5 * gpus.sum()
    s, ok = fit_scale(gpus, base, lo, hi, target)
    assert ok
    got = float(np.dot(gpus, np.clip(s * base, lo, hi)))
    assert got == pytest.approx(target, rel=1e-12)


def test_fit_scale_without_clipping_is_a_ratio() -> None:
    gpus = np.array([1.0, 2.0, 4.0])
    base = np.array([1.0, 2.0, 3.0])
    s, ok = fit_scale(gpus, base, 1e-9, 1e9, 34.0)  # sum(gpus * base) = 17
    assert ok and s == pytest.approx(2.0, rel=1e-14)


def test_fit_scale_out_of_reach_returns_the_nearest_bound() -> None:
    gpus, base = np.array([1.0, 1.0]), np.array([1.0, 4.0])
    assert fit_scale(gpus, base, 10.0, 100.0, 10.0) == (2.5, False)  # all at the floor
    assert fit_scale(gpus, base, 10.0, 100.0, 500.0) == (100.0, False)  # all at the limit


# --- the research family's equations -------------------------------------------------------


def test_size_ratio_gives_serens_mean_size() -> None:
    probs = rm.geometric_tail(RESEARCH_SIZE_RATIO, 10)
    assert math.fsum(probs) == pytest.approx(1.0, rel=1e-15)
    assert rm.mean_gpus(probs) == pytest.approx(SEREN_AVG_GPU_NUM, rel=1e-14)
    assert abs(RESEARCH_SIZE_RATIO - 0.5331) < 1e-4


def test_beta_gives_serens_coupling() -> None:
    probs = rm.research_probs(100_224)
    beta = rm.solve_beta(probs)
    assert rm.size_runtime_coupling(probs, beta) == pytest.approx(
        SEREN_SIZE_RUNTIME_COUPLING, rel=1e-13
    )
    assert rm.solve_beta([1.0]) == 0.0
    assert rm.solve_beta(probs, coupling=1e9) == 3.0  # out of reach: the bound


def test_mixture_median_offset_halves_the_mixture() -> None:
    probs, beta, sigma = rm.research_probs(100_224), 0.37, 2.6
    x = rm.mixture_median_offset(probs, beta, sigma)
    cdf = math.fsum(p * norm_cdf((x - beta * k * rm.LN2) / sigma) for k, p in enumerate(probs))
    assert cdf == pytest.approx(0.5, rel=1e-14)
    assert rm.mixture_median_offset([1.0], beta, sigma) == pytest.approx(0.0, abs=1e-14)


def test_mu_and_sigma_meet_budget_and_shape() -> None:
    probs = rm.research_probs(100_224)
    beta, target = rm.solve_beta(probs), 1.14e6
    mu = rm.solve_mu(probs, beta, 2.6, target)
    assert rm.gpu_s_per_job(probs, beta, 2.6, mu) == pytest.approx(target, rel=1e-13)
    sigma, kept = rm.solve_sigma(probs, beta, target)
    assert kept and 2.5 < sigma < 2.7
    fit = rm.fit_runtime(probs, beta, sigma, target)
    assert fit.ratio == pytest.approx(SEREN_RUNTIME_MEAN_TO_MEDIAN, rel=1e-12)


# --- the small combinatorial helpers ---------------------------------------------------------


def test_split_counts_largest_remainder() -> None:
    assert split_counts(10, [0.5, 0.3, 0.2], ["a", "b", "c"]) == [5, 3, 2]
    assert split_counts(10, [1.0, 1.0, 1.0], ["c", "a", "b"]) == [3, 4, 3]  # tie by key
    assert split_counts(3, [0.98, 0.01, 0.01, 0.0], ["a", "b", "c", "d"]) == [3, 1, 1, 0]


def test_deal_heaviest_goes_to_the_largest_relative_deficit() -> None:
    owners, left = deal_heaviest([10.0, 6.0, 5.0, 1.0], [20.0, 10.0], [3, 1])
    assert owners == [0, 1, 0, 0] and left == [0, 0]
    owners, left = deal_heaviest([1.0, 1.0, 1.0], [5.0, 5.0], [1, 1])  # runs out of jobs
    assert owners == [0, 1] and left == [0, 0]


def test_closest_prefix() -> None:
    work = np.array([4.0, 4.0, 4.0])
    assert closest_prefix(work, 7.0) == 2  # 8 is closer than 4
    assert closest_prefix(work, 5.0) == 1
    assert closest_prefix(work, 1.0) == 0


def test_log_uniform_mean_matches_scipy() -> None:
    assert log_uniform_mean(16, 256) == pytest.approx(stats.loguniform(16, 256).mean(), rel=1e-14)
    assert log_uniform_mean(8, 8) == 8.0


def test_fleet_sizes_meet_the_budget_to_half_a_domain() -> None:
    covered = np.full(6, 100.0)
    domains = np.array([10, 10, 10, 10, 10, 10], dtype=np.int64)
    sizes = fleet_sizes(72 * 100.0 * 23.4, domains, covered, 72)
    assert sizes == [720, 720, 216]  # 23.4 domains: 10 + 10 + 3
    assert fleet_sizes(1000.0, domains, covered, 72) == [10]  # under half a domain
