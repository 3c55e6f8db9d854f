"""Submit times: a Poisson process with a daily cycle (research) or a flat one (training).

The daily cycle's rate is ``~ 1 + 0.5 cos(2 pi (t - 13 h) / 1 d)``, peaking at
13:00 UTC = 14:00 Central European time with ``t = 0`` at 00:00 UTC (amplitude and
peak are assumptions, in the spirit of the daily cycle of Lublin and Feitelson,
JPDC 63(11), 2003). Both return n sorted whole seconds in ``[0, span_s)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from narvik.workload.synthetic_site.parameters import DAY_S, DIURNAL_AMPLITUDE, DIURNAL_PEAK_UTC_S


def diurnal_rate(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Relative arrival rate at times t, s (mean 1, peak 1.5 at 13:00 UTC)."""
    return 1 + DIURNAL_AMPLITUDE * np.cos(2 * np.pi * (t - DIURNAL_PEAK_UTC_S) / DAY_S)


def diurnal_arrivals(rng: np.random.Generator, n: int, span_s: float) -> NDArray[np.float64]:
    """n sorted whole-second arrival times in [0, span_s) with the daily cycle (thinning)."""
    parts: list[NDArray[np.float64]] = []
    got = 0
    while got < n:
        m = int((n - got) * (1 + DIURNAL_AMPLITUDE) * 1.05) + 64
        t = rng.random(m) * span_s
        u = rng.random(m) * (1 + DIURNAL_AMPLITUDE)
        keep = t[u < diurnal_rate(t)]
        parts.append(keep)
        got += len(keep)
    t = np.floor(np.concatenate(parts)[:n])
    t.sort()
    return t


def uniform_arrivals(rng: np.random.Generator, n: int, span_s: float) -> NDArray[np.float64]:
    """n sorted whole-second arrival times in [0, span_s), homogeneous."""
    t = np.floor(rng.random(n) * span_s)
    t.sort()
    return t
