"""The statistics of a study report: means over seeds with a Student-t confidence interval,
which way each KPI is better, and the Pareto front of two KPIs.

Pure functions on plain numbers, tested against hand calculations; :mod:`narvik.kpi.study_report`
draws what they compute.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scipy import stats

#: Default confidence level of the intervals.
CONFIDENCE = 0.95

#: Substrings of a KPI name for which lower is better when the study does not say
#: (waits, costs, energy, CO2, PUE, power, and the losses of a run).
LOWER_IS_BETTER_HINTS: tuple[str, ...] = (
    "wait",
    "cost",
    "energy",
    "co2",
    "pue",
    "power",
    "slowdown",
    "preemption",
    "lost",
    "fragmentation",
    "water",
    "wue",
    "cue",
    "over_cap",
)
#: Substrings that win over the hints above: more of these is better (heat put to use,
#: renewable energy, guarantees and wait targets met, fairness).
HIGHER_IS_BETTER_HINTS: tuple[str, ...] = (
    "renewable",
    "heat_reused",
    "heat_delivered",
    "attainment",
    "_met",
    "fairness",
)


@dataclass(frozen=True)
class Interval:
    """The mean of a sample with the half-width of its confidence interval."""

    mean: float
    """NaN when the sample has no finite value."""
    half_width: float | None
    """None with fewer than two values (no interval)."""
    n: int
    """Number of finite values the mean is over."""

    @property
    def low(self) -> float:
        return self.mean - (self.half_width or 0.0)

    @property
    def high(self) -> float:
        return self.mean + (self.half_width or 0.0)


def finite(values: Iterable[float | int | bool | None]) -> list[float]:
    """The finite numbers among ``values`` as floats (None, NaN and infinities dropped)."""
    out = []
    for v in values:
        if v is None:
            continue
        x = float(v)
        if math.isfinite(x):
            out.append(x)
    return out


def mean_ci(
    values: Iterable[float | int | bool | None], confidence: float = CONFIDENCE
) -> Interval:
    """Mean of the finite ``values`` and the half-width of its two-sided Student-t interval,
    ``t.ppf((1 + confidence) / 2, n - 1) * sd / sqrt(n)`` with the sample standard deviation
    (``n - 1`` in the denominator). One value has a mean and no interval; none has a NaN mean.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    xs = finite(values)
    n = len(xs)
    if n == 0:
        return Interval(math.nan, None, 0)
    mean = math.fsum(xs) / n
    if n == 1:
        return Interval(mean, None, 1)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    t = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1))
    return Interval(mean, t * sd / math.sqrt(n), n)


def lower_is_better(kpi: str, minimize: Iterable[str] = (), maximize: Iterable[str] = ()) -> bool:
    """Whether lower values of ``kpi`` are better: those listed in ``minimize`` (and not
    those in ``maximize``), else by name (:data:`LOWER_IS_BETTER_HINTS` unless one of
    :data:`HIGHER_IS_BETTER_HINTS`)."""
    if kpi in set(minimize):
        return True
    if kpi in set(maximize):
        return False
    name = kpi.lower()
    if any(h in name for h in HIGHER_IS_BETTER_HINTS):
        return False
    return any(h in name for h in LOWER_IS_BETTER_HINTS)


def dominates(a: Sequence[float], b: Sequence[float], lower: Sequence[bool]) -> bool:
    """Whether point ``a`` dominates ``b``: at least as good on every coordinate and strictly
    better on one (``lower[i]``: lower is better on coordinate ``i``)."""
    if not len(a) == len(b) == len(lower):
        raise ValueError("points and directions must have the same dimension")
    better = False
    for x, y, low in zip(a, b, lower, strict=True):
        gain = y - x if low else x - y
        if gain < 0:
            return False
        better = better or gain > 0
    return better


def pareto_front(points: Sequence[Sequence[float]], lower: Sequence[bool]) -> list[int]:
    """Indices of the non-dominated ``points`` (those with a non-finite coordinate are left
    out), sorted by the first coordinate then the second, so that they can be joined by a
    line. Equal points are all kept."""
    ok = [i for i, p in enumerate(points) if all(math.isfinite(float(x)) for x in p)]
    front = [i for i in ok if not any(dominates(points[j], points[i], lower) for j in ok)]
    return sorted(front, key=lambda i: (*(float(x) for x in points[i]), i))
