"""Power-quality measures of a site's grid draw: swings, ramps and their spectrum.

Grid operators bound what a large load may do to the grid in the time domain
(a ramp rate, in MW/s, and a dynamic range, the swing within a window) and in
the frequency domain (the oscillation energy in bands, e.g. 0.1-20 Hz, near
the modes of the generators and the grid); Choukse et al., "Power Stabilization
for AI Training Datacenters", arXiv 2508.14318, 2025. The functions
here measure these on a power series sampled every ``dt_s`` seconds.

Conventions:

- Swing: the largest peak-to-trough within a trailing window of ``window_s``
  seconds, i.e. of ``round(window_s / dt_s) + 1`` samples (samples at most
  ``window_s`` apart); windows at the start of the series are shorter.
- Ramp: ``|p(t) - p(t - over_s)| / over_s``, with ``over_s`` rounded to a whole
  number ``k >= 1`` of samples and the rate divided by the actual lag ``k *
  dt_s``. Grid codes measure ramps over a period rather than between two
  samples; the default period here is 1 s.
- Bands: half-open ``(lo, hi]`` in Hz, from the one-sided power spectrum of the
  mean-removed series with a rectangular window, so that the bands above 0 Hz
  add up to the variance (Parseval).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import maximum_filter1d, minimum_filter1d

DEFAULT_BANDS_HZ: tuple[tuple[float, float], ...] = ((0.0, 0.1), (0.1, 1.0), (1.0, 5.0))
"""Default bands: the slow drift, the iteration band of training jobs (Choukse et al.
2025) and the fast band up to the Nyquist frequency of 0.1 s samples."""


def _series(p_w: ArrayLike, dt_s: float) -> NDArray[np.float64]:
    if dt_s <= 0:
        raise ValueError(f"dt_s must be positive, got {dt_s}")
    p = np.asarray(p_w, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_w must be a 1-D series, got shape {p.shape}")
    return p


def _window_samples(window_s: float, dt_s: float) -> int:
    if window_s < 0:
        raise ValueError(f"window_s must be >= 0, got {window_s}")
    return int(round(window_s / dt_s)) + 1


def _lag_samples(over_s: float, dt_s: float) -> int:
    if over_s <= 0:
        raise ValueError(f"over_s must be positive, got {over_s}")
    return max(1, int(round(over_s / dt_s)))


def swing_w(p_w: ArrayLike, dt_s: float, window_s: float = 10.0) -> NDArray[np.float64]:
    """Peak-to-trough of the trailing ``window_s`` window ending at each sample, W.

    Sliding max minus sliding min (van Herk/Gil-Werman filters of
    ``scipy.ndimage``, linear in the series length); the series is padded at its
    start with its first value, so early windows are simply shorter.
    """
    p = _series(p_w, dt_s)
    if p.size == 0:
        return np.zeros(0)
    w = _window_samples(window_s, dt_s)
    origin = (w - 1) // 2  # shifts the window onto the samples before each one
    hi = maximum_filter1d(p, size=w, mode="nearest", origin=origin)
    lo = minimum_filter1d(p, size=w, mode="nearest", origin=origin)
    return np.asarray(hi - lo, dtype=float)


def ramp_w_per_s(p_w: ArrayLike, dt_s: float, over_s: float = 1.0) -> NDArray[np.float64]:
    """``|p(t) - p(t - over_s)| / over_s`` for each sample that has a past, W/s.

    One value per sample from the ``k``-th on (``k = round(over_s / dt_s)``,
    at least 1), divided by the actual lag ``k * dt_s``.
    """
    p = _series(p_w, dt_s)
    k = _lag_samples(over_s, dt_s)
    if p.size <= k:
        return np.zeros(0)
    return np.abs(p[k:] - p[:-k]) / (k * dt_s)


def _max_or_zero(x: NDArray[np.float64]) -> float:
    return float(x.max()) if x.size else 0.0


def max_swing_w(p_w: ArrayLike, dt_s: float, window_s: float = 10.0) -> float:
    """Largest peak-to-trough within any window of ``window_s`` seconds, W."""
    return _max_or_zero(swing_w(p_w, dt_s, window_s))


def max_ramp_w_per_s(p_w: ArrayLike, dt_s: float, over_s: float = 1.0) -> float:
    """Largest ``|p(t + over_s) - p(t)| / over_s``, W/s; 0 for a series shorter than that.

    Ramps are measured over ``over_s`` (default 1 s, the period grid codes state
    ramp limits in, e.g. MW/s), not between consecutive samples: a step between
    two samples 0.1 s apart is a 1-s ramp of its height per second.
    """
    return _max_or_zero(ramp_w_per_s(p_w, dt_s, over_s))


def band_name(lo_hz: float, hi_hz: float) -> str:
    """Name of a band: ``(0.1, 1.0)`` -> ``"0.1-1 Hz"``."""
    return f"{lo_hz:g}-{hi_hz:g} Hz"


def band_energy(
    p_w: ArrayLike, dt_s: float, bands_hz: Sequence[tuple[float, float]] = DEFAULT_BANDS_HZ
) -> dict[str, float]:
    """Variance of the power in each frequency band ``(lo, hi]``, W^2.

    From the one-sided power spectrum of the mean-removed series, ``|X_k|^2 /
    n^2`` doubled for the bins between 0 and the Nyquist frequency (numpy
    ``rfft``); by Parseval the bins above 0 Hz add up to the variance of the
    series, so bands covering ``(0, 1 / (2 dt_s)]`` add up to it too. A sine of
    amplitude ``A`` contributes ``A^2 / 2`` to the band of its frequency when the
    series holds a whole number of its periods (no window: otherwise it leaks
    into neighbouring bins). A band entirely above the Nyquist frequency cannot
    be measured and is NaN. Keys are :func:`band_name` of each band.
    """
    p = _series(p_w, dt_s)
    n = p.size
    out: dict[str, float] = {}
    if n == 0:
        return {band_name(lo, hi): 0.0 for lo, hi in bands_hz}
    spectrum = np.abs(np.fft.rfft(p - p.mean())) ** 2 / n**2
    spectrum[1 : (n + 1) // 2] *= 2.0  # one-sided; the Nyquist bin (n even) is not doubled
    freqs_hz = np.fft.rfftfreq(n, d=dt_s)
    nyquist_hz = 0.5 / dt_s
    for lo, hi in bands_hz:
        if not 0.0 <= lo < hi:
            raise ValueError(f"band ({lo}, {hi}) must have 0 <= lo < hi")
        if lo >= nyquist_hz:
            out[band_name(lo, hi)] = float("nan")
            continue
        in_band = (freqs_hz > lo) & (freqs_hz <= hi)
        out[band_name(lo, hi)] = float(spectrum[in_band].sum())
    return out


def _runs(mask: NDArray[np.bool_]) -> int:
    """Number of runs of consecutive True values."""
    if mask.size == 0:
        return 0
    m = mask.astype(np.int8)
    return int(m[0] + np.count_nonzero(np.diff(m) == 1))


def grid_code_breaks(
    p_w: ArrayLike,
    dt_s: float,
    *,
    max_ramp_w_per_s: float,
    max_swing_w: float,
    swing_window_s: float = 10.0,
    ramp_over_s: float = 1.0,
) -> dict[str, float | int]:
    """How often and by how much a power series breaks a ramp and a swing limit.

    A sample breaks the ramp limit where the ramp ending at it (:func:`ramp_w_per_s`)
    exceeds ``max_ramp_w_per_s``, the swing limit where the swing of the trailing
    window ending at it (:func:`swing_w`) exceeds ``max_swing_w``. Returns, for
    each limit, the time spent breaking it (``*_break_s`` = breaking samples *
    ``dt_s``), the number of distinct events (runs of consecutive breaking
    samples, ``*_break_events``) and the largest excess over the limit (0 when
    never broken): ``ramp_max_excess_w_per_s`` and ``swing_max_excess_w``.
    """
    ramp = ramp_w_per_s(p_w, dt_s, ramp_over_s)
    swing = swing_w(p_w, dt_s, swing_window_s)
    ramp_breaks = ramp > max_ramp_w_per_s
    swing_breaks = swing > max_swing_w
    return {
        "ramp_break_s": float(np.count_nonzero(ramp_breaks) * dt_s),
        "ramp_break_events": _runs(ramp_breaks),
        "ramp_max_excess_w_per_s": max(0.0, _max_or_zero(ramp) - max_ramp_w_per_s),
        "swing_break_s": float(np.count_nonzero(swing_breaks) * dt_s),
        "swing_break_events": _runs(swing_breaks),
        "swing_max_excess_w": max(0.0, _max_or_zero(swing) - max_swing_w),
    }


def summarise(
    p_w: ArrayLike,
    dt_s: float,
    *,
    bands_hz: Sequence[tuple[float, float]] = DEFAULT_BANDS_HZ,
    max_ramp_w_per_s: float | None = None,
    max_swing_w: float | None = None,
    swing_window_s: float = 10.0,
    ramp_over_s: float = 1.0,
) -> dict[str, Any]:
    """Power-quality summary of a grid draw, in MW: levels, swing, ramp, bands, breaks.

    Keys: ``mean_mw``, ``min_mw``, ``max_mw``, ``std_mw``, ``max_swing_mw`` (over
    ``swing_window_s``), ``max_ramp_mw_per_s`` (over ``ramp_over_s``),
    ``band_variance_mw2`` (a dict from band name to variance, MW^2) and, for each
    limit given (in W), the breaks of :func:`grid_code_breaks` in MW:
    ``ramp_break_s``, ``ramp_break_events``, ``ramp_max_excess_mw_per_s``;
    ``swing_break_s``, ``swing_break_events``, ``swing_max_excess_mw``.
    """
    p = _series(p_w, dt_s)
    empty = p.size == 0
    out: dict[str, Any] = {
        "mean_mw": 0.0 if empty else float(p.mean()) / 1e6,
        "min_mw": 0.0 if empty else float(p.min()) / 1e6,
        "max_mw": 0.0 if empty else float(p.max()) / 1e6,
        "std_mw": 0.0 if empty else float(p.std()) / 1e6,
        # The limits' keyword names shadow max_swing_w and max_ramp_w_per_s here.
        "max_swing_mw": _max_or_zero(swing_w(p, dt_s, swing_window_s)) / 1e6,
        "max_ramp_mw_per_s": _max_or_zero(ramp_w_per_s(p, dt_s, ramp_over_s)) / 1e6,
        "band_variance_mw2": {k: v / 1e12 for k, v in band_energy(p, dt_s, bands_hz).items()},
    }
    if max_ramp_w_per_s is not None or max_swing_w is not None:
        breaks = grid_code_breaks(
            p,
            dt_s,
            max_ramp_w_per_s=np.inf if max_ramp_w_per_s is None else max_ramp_w_per_s,
            max_swing_w=np.inf if max_swing_w is None else max_swing_w,
            swing_window_s=swing_window_s,
            ramp_over_s=ramp_over_s,
        )
        if max_ramp_w_per_s is not None:
            out["ramp_break_s"] = breaks["ramp_break_s"]
            out["ramp_break_events"] = breaks["ramp_break_events"]
            out["ramp_max_excess_mw_per_s"] = breaks["ramp_max_excess_w_per_s"] / 1e6
        if max_swing_w is not None:
            out["swing_break_s"] = breaks["swing_break_s"]
            out["swing_break_events"] = breaks["swing_break_events"]
            out["swing_max_excess_mw"] = breaks["swing_max_excess_w"] / 1e6
    return out
