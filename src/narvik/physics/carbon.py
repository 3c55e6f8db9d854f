"""Scope 2 carbon of the site's electricity, counted the two ways auditors count it.

GHG Protocol, *Scope 2 Guidance* (World Resources Institute / WBCSD, 2015) asks a
reporter to state Scope 2 emissions twice ("dual reporting", chapter 4):

- **location-based** (chapter 6.5): every kWh taken from the grid at the average
  emission factor of the grid where it is consumed (here: Norway's physical mix);
- **market-based** (chapter 6.6 and 6.11): energy covered by contractual
  instruments (guarantees of origin, PPAs with their GOs, supplier-specific
  products) at the instrument's emission factor; the uncovered rest at the
  *residual mix* (the grid mix with all tracked, sold attributes removed), since
  otherwise the renewable attribute sold with a GO would be counted twice
  (Guidance, Table 6.3 hierarchy: instruments, then residual mix, then grid average).

ISO/IEC 30134-8:2022 defines the carbon usage effectiveness of a data centre as
CUE = kg CO2e of the total data-centre energy / kWh of IT energy over the same
period; :func:`cue_location_kg_per_kwh` and :func:`cue_market_kg_per_kwh` give it
for both methods.

All functions are pure and vectorised over hours: energies are arrays (one value
per hour, kWh) and factors are scalars or arrays broadcastable to them. Results
are kg CO2e per hour; sum them for a period.

This module imports nothing from narvik: the KPI layer (:mod:`narvik.kpi`) and the
site model wire it in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "NORWAY_FACTORS",
    "GridFactors",
    "cue_location_kg_per_kwh",
    "cue_market_kg_per_kwh",
    "location_based_kg",
    "market_based_kg",
]

FloatArray = NDArray[np.float64]

_G_PER_KG = 1000.0
_SHARE_TOLERANCE = 1e-9  # shares may sum to 1 within float rounding


@dataclass(frozen=True)
class GridFactors:
    """Emission factors of one country's electricity for Scope 2 reporting, g CO2e/kWh.

    ``physical_mix_g_per_kwh`` is the location-based grid factor (the mix actually
    consumed, imports included); ``residual_mix_g_per_kwh`` the market-based factor
    for energy not covered by instruments; ``renewable_instrument_g_per_kwh`` the
    factor of a renewable (hydro, wind) guarantee of origin or PPA, which the GHG
    Protocol sets to the generator's direct emissions, i.e. 0 (Scope 2 Guidance
    2015, ch. 6.11: emission factors of instruments are the direct emissions of
    the generation; life-cycle emissions are reported outside Scope 2). Each
    figure names its year in ``*_year``.
    """

    physical_mix_g_per_kwh: float
    physical_mix_year: int
    residual_mix_g_per_kwh: float
    residual_mix_year: int
    renewable_instrument_g_per_kwh: float


NORWAY_FACTORS = GridFactors(
    # NVE, "Klimadeklarasjon for fysisk levert strøm" 2023, published 11.06.2024
    # (nve.no news "Lavt klimagassutslipp knyttet til norsk strømforbruk i 2023"):
    # 15 g CO2e/kWh (2022: 19). Life-cycle factors per source (IPCC 2006 / AR5 GWP100)
    # applied to Norwegian production plus imports (net of exports), i.e. the mix in
    # the socket; 95 % renewable (83 % hydro, 11 % wind, 1 % solar).
    physical_mix_g_per_kwh=15.0,
    physical_mix_year=2023,
    # NVE "Varedeklarasjon for strømleverandører" 2020 (the Norwegian residual mix,
    # computed by NVE from the AIB European Residual Mix and GO trade; quoted by
    # suppliers, e.g. wattn.no "Varedeklarasjon NVE 2020"): 402 g CO2/kWh.
    # Assumption: this is the newest figure that could be checked here. NVE
    # published the 2023 disclosure on 01.07.2024 and AIB its "European Residual
    # Mixes 2023" (2024), but their Norway value could not be read; earlier NVE
    # values were 509 g (2015) and 530 g (2016), so the factor moves by ~25 % year to
    # year and should be replaced by the reporting year's AIB figure. Note that AIB
    # residual factors are direct CO2 only, while the physical-mix factor above is
    # life-cycle CO2e; auditors accept this mismatch as the published practice.
    residual_mix_g_per_kwh=402.0,
    residual_mix_year=2020,
    renewable_instrument_g_per_kwh=0.0,
)


def location_based_kg(energy_kwh: ArrayLike, grid_factor_g_per_kwh: ArrayLike) -> FloatArray:
    """Location-based Scope 2 emissions per hour, kg CO2e (GHG Protocol Scope 2, ch. 6.5).

    kg = E [kWh] x grid factor [g/kWh] / 1000, for every hour: all consumption at
    the grid's average factor, whatever was bought. ``grid_factor_g_per_kwh`` is a
    scalar (an annual factor such as :data:`NORWAY_FACTORS`) or one value per hour.
    """
    energy = _energy(energy_kwh)
    factor = np.asarray(grid_factor_g_per_kwh, dtype=np.float64)
    _finite_non_negative(factor, "grid_factor_g_per_kwh")
    return np.asarray(energy * factor / _G_PER_KG, dtype=np.float64)


def market_based_kg(
    energy_kwh: ArrayLike,
    covered_share_by_instrument: ArrayLike,
    instrument_factor_g_per_kwh: ArrayLike,
    residual_mix_g_per_kwh: ArrayLike,
) -> FloatArray:
    """Market-based Scope 2 emissions per hour, kg CO2e (GHG Protocol Scope 2, ch. 6.6/6.11).

    For hour h with energy E_h and instruments i covering shares s_ih of it at
    factors f_i::

        kg_h = E_h * (sum_i s_ih * f_i + (1 - sum_i s_ih) * r_h) / 1000

    where r_h is the residual mix. ``covered_share_by_instrument`` is a scalar
    (one instrument), shape (k,) (k instruments, same share every hour) or
    (k, hours); ``instrument_factor_g_per_kwh`` a scalar or shape (k,). Shares must
    be in 0..1 and sum to at most 1 in every hour (ValueError otherwise): energy
    cannot be covered twice. Example: 1,000 kWh with 80 % covered by hydro GOs at
    0 g and a residual mix of 500 g/kWh gives 0.2 * 1000 * 500 / 1000 = 100 kg.
    """
    energy = _energy(energy_kwh)
    shares = np.asarray(covered_share_by_instrument, dtype=np.float64)
    per_hour_shares = shares.ndim == 2
    factors = np.atleast_1d(np.asarray(instrument_factor_g_per_kwh, dtype=np.float64))
    residual = np.asarray(residual_mix_g_per_kwh, dtype=np.float64)
    if shares.ndim == 0:
        shares = shares.reshape(1, 1)
    elif shares.ndim == 1:
        shares = shares[:, np.newaxis]
    elif shares.ndim != 2:
        raise ValueError(
            "covered_share_by_instrument must be a scalar, shape (instruments,) or "
            f"(instruments, hours); got shape {shares.shape}"
        )
    if factors.ndim != 1 or factors.shape[0] != shares.shape[0]:
        raise ValueError(
            f"instrument_factor_g_per_kwh has shape {factors.shape}; expected one factor "
            f"per instrument ({shares.shape[0]})"
        )
    _finite_non_negative(factors, "instrument_factor_g_per_kwh")
    _finite_non_negative(residual, "residual_mix_g_per_kwh")
    if not np.all(np.isfinite(shares)) or np.any(shares < 0.0) or np.any(shares > 1.0):
        raise ValueError("covered_share_by_instrument must be finite and within 0..1")
    covered = np.sum(shares, axis=0)
    if np.any(covered > 1.0 + _SHARE_TOLERANCE):
        raise ValueError(
            f"instrument shares sum to {float(np.max(covered)):.6g} > 1 in some hour: "
            "energy cannot be covered by two instruments"
        )
    covered = np.minimum(covered, 1.0)
    instrument_g = np.sum(shares * factors[:, np.newaxis], axis=0)
    if not per_hour_shares:  # the same shares every hour: one factor for all hours
        covered, instrument_g = covered[0], instrument_g[0]
    factor_g_per_kwh = instrument_g + (1.0 - covered) * residual
    return np.asarray(energy * factor_g_per_kwh / _G_PER_KG, dtype=np.float64)


def cue_location_kg_per_kwh(
    facility_energy_kwh: ArrayLike, it_energy_kwh: ArrayLike, grid_factor_g_per_kwh: ArrayLike
) -> float:
    """CUE (ISO/IEC 30134-8:2022), location-based: sum of kg CO2e of E_DC / sum of kWh E_IT.

    ``facility_energy_kwh`` is the total data-centre energy (E_DC, all grid
    electricity of the site) per hour, ``it_energy_kwh`` the IT energy (E_IT) per
    hour or the period total; emissions by :func:`location_based_kg`.
    """
    kg = float(np.sum(location_based_kg(facility_energy_kwh, grid_factor_g_per_kwh)))
    return kg / _positive_total(it_energy_kwh, "it_energy_kwh")


def cue_market_kg_per_kwh(
    facility_energy_kwh: ArrayLike,
    it_energy_kwh: ArrayLike,
    covered_share_by_instrument: ArrayLike,
    instrument_factor_g_per_kwh: ArrayLike,
    residual_mix_g_per_kwh: ArrayLike,
) -> float:
    """CUE (ISO/IEC 30134-8:2022), market-based: emissions by :func:`market_based_kg`.

    Same ratio as :func:`cue_location_kg_per_kwh` (kg CO2e of E_DC per kWh E_IT);
    the standard leaves the emission factor to the reporter, and GHG Protocol dual
    reporting asks for both.
    """
    kg = float(
        np.sum(
            market_based_kg(
                facility_energy_kwh,
                covered_share_by_instrument,
                instrument_factor_g_per_kwh,
                residual_mix_g_per_kwh,
            )
        )
    )
    return kg / _positive_total(it_energy_kwh, "it_energy_kwh")


def _energy(energy_kwh: ArrayLike) -> FloatArray:
    energy = np.asarray(energy_kwh, dtype=np.float64)
    _finite_non_negative(energy, "energy_kwh")
    return energy


def _finite_non_negative(values: NDArray[np.float64], name: str) -> None:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite")
    if np.any(values < 0.0):
        raise ValueError(f"{name} must not be negative (got {float(np.min(values)):g})")


def _positive_total(values: ArrayLike, name: str) -> float:
    total = float(np.sum(np.asarray(values, dtype=np.float64)))
    if not total > 0.0:
        raise ValueError(f"{name} must sum to a positive energy (got {total!r})")
    return total
