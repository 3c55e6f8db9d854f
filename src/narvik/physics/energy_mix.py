"""The site's electricity supply per hour: renewable share, carbon intensity and price.

Each contract covers a fixed share of the facility's energy; the hourly figures
are share-weighted means (GHG Protocol Scope 2 Guidance, 2015: market-based
method with contractual instruments; ISO/IEC 30134-3 for the renewable share).
Prices follow each contract's monthly profile.

Carbon is counted both ways of the Scope 2 Guidance (:mod:`narvik.physics.carbon`):
location-based, every kWh at the grid's physical mix; market-based, the share an
instrument covers (a PPA, guarantees of origin) at the instrument's factor and the
rest (a plain grid contract) at the residual mix. Without the two grid factors,
both fall back to the contracts' own factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from narvik.physics.carbon import market_based_kg


@dataclass(frozen=True)
class ContractTerms:
    share: float
    renewable: bool
    carbon_intensity_g_per_kwh: float
    price_eur_per_mwh: float
    monthly_price_factor: tuple[float, ...]
    covered: bool = True
    """Whether an instrument (a PPA, guarantees of origin) covers the share."""


@dataclass(frozen=True)
class EnergyMixHours:
    renewable_fraction: NDArray[np.float64]
    carbon_intensity_g_per_kwh: NDArray[np.float64]
    price_eur_per_mwh: NDArray[np.float64]
    location_carbon_g_per_kwh: NDArray[np.float64]
    market_carbon_g_per_kwh: NDArray[np.float64]


def energy_mix(
    contracts: list[ContractTerms],
    month: ArrayLike,
    *,
    location_g_per_kwh: float | None = None,
    residual_mix_g_per_kwh: float | None = None,
) -> EnergyMixHours:
    """Share-weighted renewable fraction, carbon (contract, location- and market-based)
    and price for each hour (month 1..12)."""
    months = np.asarray(month, dtype=int) - 1
    shares = np.array([c.share for c in contracts])
    renewable = float(np.sum(shares[[c.renewable for c in contracts]]))
    carbon = float(np.sum(shares * [c.carbon_intensity_g_per_kwh for c in contracts]))
    factors = np.array([c.monthly_price_factor for c in contracts])  # (contracts, 12)
    base = np.array([c.price_eur_per_mwh for c in contracts])
    monthly_price = (shares * base) @ factors  # (12,)
    n = months.shape[0]
    covered = np.array([c.covered for c in contracts])
    instruments = [c.carbon_intensity_g_per_kwh for c in contracts]
    market = market_based_kg(
        1.0,
        shares[covered],
        np.asarray(instruments)[covered],
        carbon if residual_mix_g_per_kwh is None else residual_mix_g_per_kwh,
    )
    return EnergyMixHours(
        renewable_fraction=np.full(n, renewable),
        carbon_intensity_g_per_kwh=np.full(n, carbon),
        price_eur_per_mwh=monthly_price[months],
        location_carbon_g_per_kwh=np.full(
            n, carbon if location_g_per_kwh is None else location_g_per_kwh
        ),
        market_carbon_g_per_kwh=np.full(n, float(np.sum(market)) * 1000.0),
    )
