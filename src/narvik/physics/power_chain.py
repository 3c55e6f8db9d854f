"""Electrical losses between the grid and the racks.

- Transformers: no-load (iron) loss constant, load (copper) loss growing with the
  square of the load, the standard two-term model of IEC 60076-1 and of the EU
  Ecodesign regulation for power transformers, Commission Regulation (EU)
  No 548/2014, Annex I (``P = P0 + Pk * (S / S_r)**2``).
- UPS: efficiency interpolated on the manufacturer's curve against load, as
  measured by IEC 62040-3 (Annex J) at 25/50/75/100 % load.
- Distribution (busway, PDU, cables): a fixed share of the IT power.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def transformer_loss_w(
    load_w: ArrayLike, rated_w: float, no_load_loss_fraction: float, load_loss_fraction: float
) -> NDArray[np.float64]:
    """Transformer losses at a through-power ``load_w``, W (EU 548/2014; IEC 60076-1)."""
    load = np.asarray(load_w, dtype=float)
    return rated_w * (no_load_loss_fraction + load_loss_fraction * (load / rated_w) ** 2)


def ups_efficiency(
    load_fraction: ArrayLike, curve_load_fraction: ArrayLike, curve_efficiency: ArrayLike
) -> NDArray[np.float64]:
    """UPS efficiency at a load fraction, from its measured curve (IEC 62040-3)."""
    return np.interp(
        np.asarray(load_fraction, dtype=float),
        np.asarray(curve_load_fraction, dtype=float),
        np.asarray(curve_efficiency, dtype=float),
    )


def ups_loss_w(
    output_w: ArrayLike,
    rated_w: float,
    curve_load_fraction: ArrayLike,
    curve_efficiency: ArrayLike,
) -> NDArray[np.float64]:
    """UPS losses delivering ``output_w``: ``P_out * (1 / eta - 1)``, W."""
    out = np.asarray(output_w, dtype=float)
    eta = ups_efficiency(out / rated_w, curve_load_fraction, curve_efficiency)
    return out * (1.0 / eta - 1.0)
