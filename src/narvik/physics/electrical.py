"""The electrical topology between the grid and the racks: two transformer stages and a
redundant UPS system built of units.

Grid -> HV/MV transformers (at the grid connection, outdoors) -> MV bus ->
MV/LV transformers (at the halls, in electrical rooms) -> UPS -> distribution
(busway, PDUs) -> racks. The cooling plant and the ancillary loads hang on the
MV/LV transformers but not behind the UPS.

- Transformers: the two-term loss model of IEC 60076-1 and of the Ecodesign
  regulation for power transformers, Commission Regulation (EU) No 548/2014,
  Annex I: ``P = P0 + Pk (S / S_r)**2`` (no-load, iron, loss ``P0``; load,
  copper, loss ``Pk`` at rated power ``S_r``).
- UPS: a system of ``units`` identical modules sharing the load equally, each
  with the efficiency curve measured per IEC 62040-3 (Annex J, at 25/50/75/100 %
  load). Redundancy sets how many units are installed for the ``n`` the load
  needs: N installs ``n``, N+1 installs ``n + 1`` and 2N installs ``2 n``
  (Uptime Institute, *Tier Standard: Topology*, 2018; ANSI/TIA-942-B, 2017),
  so a 2N system runs each unit under 50 % of its rating, low on its curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from narvik.physics.power_chain import transformer_loss_w, ups_efficiency

REDUNDANCIES = ("N", "N+1", "2N")


def ups_units_installed(design_load_w: float, unit_rating_w: float, redundancy: str) -> int:
    """UPS units installed to carry ``design_load_w`` with the given redundancy.

    ``n = ceil(design / unit)`` units carry the load; N installs ``n``, N+1 ``n + 1``,
    2N ``2 n`` (Uptime Institute Tier Standard: Topology).
    """
    if redundancy not in REDUNDANCIES:
        raise ValueError(f"UPS redundancy must be one of {', '.join(REDUNDANCIES)}")
    if unit_rating_w <= 0 or design_load_w < 0:
        raise ValueError("UPS unit rating must be positive and the design load not negative")
    needed = max(1, math.ceil(design_load_w / unit_rating_w - 1e-9))
    return {"N": needed, "N+1": needed + 1, "2N": 2 * needed}[redundancy]


def ups_unit_load_fraction(
    output_w: ArrayLike, unit_rating_w: float, units: int
) -> NDArray[np.float64]:
    """Load of each of ``units`` modules sharing ``output_w`` equally, as a fraction of rating."""
    return np.asarray(output_w, dtype=float) / (units * unit_rating_w)


def ups_system_loss_w(
    output_w: ArrayLike,
    unit_rating_w: float,
    units: int,
    curve_load_fraction: ArrayLike,
    curve_efficiency: ArrayLike,
) -> NDArray[np.float64]:
    """Losses of a UPS system of ``units`` modules delivering ``output_w``, W.

    Each module carries ``output / units`` at efficiency ``eta`` read off its curve
    (IEC 62040-3) at its own load fraction; losses ``P_out (1 / eta - 1)``.
    """
    out = np.asarray(output_w, dtype=float)
    eta = ups_efficiency(
        ups_unit_load_fraction(out, unit_rating_w, units), curve_load_fraction, curve_efficiency
    )
    return out * (1.0 / eta - 1.0)


@dataclass(frozen=True)
class TransformerStage:
    """One transformer stage: its total rating and its loss fractions (EU 548/2014)."""

    rated_w: float
    no_load_loss_fraction: float
    load_loss_fraction: float

    def loss_w(self, through_w: ArrayLike) -> NDArray[np.float64]:
        """Losses at a through-power, W: ``S_r (p0 + pk (S / S_r)**2)``."""
        if self.rated_w <= 0:
            return np.zeros_like(np.asarray(through_w, dtype=float))
        return transformer_loss_w(
            through_w, self.rated_w, self.no_load_loss_fraction, self.load_loss_fraction
        )


@dataclass(frozen=True)
class ChainLosses:
    """Losses of each element of the chain for each step, W."""

    distribution_loss_w: NDArray[np.float64]
    ups_loss_w: NDArray[np.float64]
    mv_lv_transformer_loss_w: NDArray[np.float64]
    hv_mv_transformer_loss_w: NDArray[np.float64]

    @property
    def transformer_loss_w(self) -> NDArray[np.float64]:
        return self.mv_lv_transformer_loss_w + self.hv_mv_transformer_loss_w

    @property
    def electrical_room_heat_w(self) -> NDArray[np.float64]:
        """Losses released inside the building's electrical rooms (UPS and MV/LV
        transformers), which their room cooling must remove, W."""
        return self.ups_loss_w + self.mv_lv_transformer_loss_w


@dataclass(frozen=True)
class ElectricalTopology:
    """The chain from grid to racks of one phase of a site."""

    distribution_loss_fraction: float
    ups_unit_rating_w: float
    ups_units: int
    ups_curve_load_fraction: tuple[float, ...]
    ups_curve_efficiency: tuple[float, ...]
    mv_lv: TransformerStage
    hv_mv: TransformerStage

    def losses(self, it_w: ArrayLike, mechanical_w: ArrayLike) -> ChainLosses:
        """Losses when the racks draw ``it_w`` and the loads not behind the UPS (cooling
        plant, ancillaries) ``mechanical_w``."""
        it = np.asarray(it_w, dtype=float)
        dist_w = it * self.distribution_loss_fraction
        ups_w = ups_system_loss_w(
            it + dist_w,
            self.ups_unit_rating_w,
            self.ups_units,
            self.ups_curve_load_fraction,
            self.ups_curve_efficiency,
        )
        lv_through_w = it + dist_w + ups_w + np.asarray(mechanical_w, dtype=float)
        mv_lv_w = self.mv_lv.loss_w(lv_through_w)
        hv_mv_w = self.hv_mv.loss_w(lv_through_w + mv_lv_w)
        return ChainLosses(
            distribution_loss_w=dist_w,
            ups_loss_w=ups_w,
            mv_lv_transformer_loss_w=mv_lv_w,
            hv_mv_transformer_loss_w=hv_mv_w,
        )
