"""The numerical pieces, on scipy: the normal CDF and its inverse, root finding, and the
mean of a clipped lognormal.

``norm_cdf`` is :func:`scipy.special.ndtr`, ``norm_ppf`` :func:`scipy.special.ndtri`;
every equation of the model (the size ratio, the size/run-time coupling, the median
and scale of the run times, the scale that meets a GPU-time budget) is solved by
:func:`find_root`, i.e. :func:`scipy.optimize.brentq` on a bracket with a sign change.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

ROOT_XTOL = 1e-15
"""Absolute tolerance of :func:`find_root` (its relative tolerance is brentq's finest, 4 eps)."""
ROOT_RTOL = 4 * np.finfo(float).eps
ROOT_MAXITER = 200


def norm_cdf(x: float) -> float:
    """Standard normal CDF, Phi(x)."""
    return float(ndtr(x))


def norm_ppf(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse standard normal CDF, vectorised; p is clipped to [1e-300, 1) so p = 0
    gives a finite score (-37.0) rather than -inf."""
    return np.asarray(ndtri(np.clip(p, 1e-300, 1 - 1e-16)), dtype=np.float64)


def find_root(f: Callable[[float], float], lo: float, hi: float) -> float:
    """The x in [lo, hi] with f(x) = 0, to a few ulps (Brent's method).

    f(lo) and f(hi) must differ in sign (or one be zero); ``ValueError`` otherwise.
    """
    x = brentq(f, lo, hi, xtol=ROOT_XTOL, rtol=ROOT_RTOL, maxiter=ROOT_MAXITER)
    return float(x)


def clipped_lognormal_mean(loc: float, sigma: float, a: float, b: float) -> float:
    """E[clip(exp(loc + sigma Z), a, b)] for standard normal Z and 0 < a < b."""
    za = (math.log(a) - loc) / sigma
    zb = (math.log(b) - loc) / sigma
    body = math.exp(loc + 0.5 * sigma * sigma) * (norm_cdf(zb - sigma) - norm_cdf(za - sigma))
    return a * norm_cdf(za) + body + b * (1.0 - norm_cdf(zb))


def fit_scale(
    gpus: NDArray[np.float64],
    base: NDArray[np.float64],
    lo: float,
    hi: float,
    target: float,
) -> tuple[float, bool]:
    """Scale s with ``sum(gpus * clip(s * base, lo, hi)) == target`` (base > 0).

    Returns ``(s, feasible)``; when the target lies outside what clipping allows,
    s is the bound that comes closest and ``feasible`` is False. The sum grows
    with s from ``sum(gpus) * lo`` to ``sum(gpus) * hi``; the root is found in
    log s, where it is smooth enough for Brent's method to converge in a few
    dozen sums.
    """
    g_total = float(gpus.sum())
    s_lo, s_hi = lo / float(base.max()), hi / float(base.min())
    if target <= g_total * lo:
        return s_lo, False
    if target >= g_total * hi:
        return s_hi, False

    def excess(log_s: float) -> float:
        return float(np.dot(gpus, np.clip(math.exp(log_s) * base, lo, hi))) - target

    # one e-fold beyond the bounds every job is clipped, so the ends surely differ in sign
    return math.exp(find_root(excess, math.log(s_lo) - 1.0, math.log(s_hi) + 1.0)), True
