"""IT power of GPUs and racks as a function of GPU utilisation.

The linear idle-to-peak model of server power,
``P(u) = P_idle + (P_max - P_idle) * u``, is the one of Fan, Weber and
Barroso, "Power provisioning for a warehouse-sized computer", ISCA 2007
(section 4.1), and is what ExaDigiT/RAPS uses for GPUs (Brewer et al., SC 2024).
Host CPUs, switches and other rack overheads follow the same line from their
idle share to their full-load power.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def gpu_power_w(
    utilization: ArrayLike, idle_power_w: float, max_power_w: float
) -> NDArray[np.float64]:
    """Board power of one GPU at a utilisation in [0, 1], W (Fan et al. 2007)."""
    u = np.clip(np.asarray(utilization, dtype=float), 0.0, 1.0)
    return idle_power_w + (max_power_w - idle_power_w) * u


def rack_power_w(
    utilization: ArrayLike,
    *,
    gpus_per_rack: int,
    gpu_idle_power_w: float,
    gpu_max_power_w: float,
    non_gpu_max_power_w: float,
    idle_fraction_of_non_gpu: float,
) -> NDArray[np.float64]:
    """IT power of one rack whose GPUs run at a mean utilisation in [0, 1], W.

    GPUs follow :func:`gpu_power_w`; the rest of the rack (CPUs, switches, NICs,
    fans) draws ``idle_fraction_of_non_gpu`` of its full-load power when the GPUs
    are idle and rises linearly with them.
    """
    u = np.clip(np.asarray(utilization, dtype=float), 0.0, 1.0)
    gpus_w = gpus_per_rack * gpu_power_w(u, gpu_idle_power_w, gpu_max_power_w)
    rest_w = non_gpu_max_power_w * (idle_fraction_of_non_gpu + (1 - idle_fraction_of_non_gpu) * u)
    return gpus_w + rest_w


def capped_throughput_fraction(power_cap_fraction: ArrayLike, exponent: float = 0.5):
    """Relative GPU throughput when its power is capped at a fraction of its TDP.

    Throughput of power-capped GPUs falls much more slowly than power: a
    concave law ``x ** exponent`` (exponent 0.5 matches the 20-30 % power cut
    for under 10-15 % slowdown reported for LLM training on A100/H100 by
    Patel et al., "Characterizing Power Management Opportunities for LLMs in
    the Cloud", ASPLOS 2024, figure 8).
    """
    x = np.clip(np.asarray(power_cap_fraction, dtype=float), 0.0, 1.0)
    return x**exponent
