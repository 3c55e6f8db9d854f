"""Data-centre resource-efficiency indicators of the ISO/IEC 30134 series.

- PUE = E_DC / E_IT                      (ISO/IEC 30134-2:2016)
- REF = E_renewable / E_DC               (ISO/IEC 30134-3:2016)
- ERF = E_reuse / E_DC                   (ISO/IEC 30134-6:2021)
- CUE = kg CO2 (of E_DC) / kWh E_IT      (ISO/IEC 30134-8:2022)
- WUE = L water / kWh E_IT               (ISO/IEC 30134-9:2022)

All energies over the same period (a year for reporting), in kWh.
"""

from __future__ import annotations


def _positive(value_kwh: float, name: str) -> float:
    if not value_kwh > 0:
        raise ValueError(f"{name} must be positive (got {value_kwh!r})")
    return value_kwh


def pue(e_dc_kwh: float, e_it_kwh: float) -> float:
    """Power usage effectiveness (ISO/IEC 30134-2): total facility / IT energy."""
    return _positive(e_dc_kwh, "e_dc_kwh") / _positive(e_it_kwh, "e_it_kwh")


def ref(e_renewable_kwh: float, e_dc_kwh: float) -> float:
    """Renewable energy factor (ISO/IEC 30134-3): renewable / total facility energy."""
    return e_renewable_kwh / _positive(e_dc_kwh, "e_dc_kwh")


def erf(e_reuse_kwh: float, e_dc_kwh: float) -> float:
    """Energy reuse factor (ISO/IEC 30134-6): energy reused outside the DC / total energy."""
    return e_reuse_kwh / _positive(e_dc_kwh, "e_dc_kwh")


def cue_kg_per_kwh(co2_kg: float, e_it_kwh: float) -> float:
    """Carbon usage effectiveness (ISO/IEC 30134-8): kg CO2e per kWh of IT energy."""
    return co2_kg / _positive(e_it_kwh, "e_it_kwh")


def wue_l_per_kwh(water_l: float, e_it_kwh: float) -> float:
    """Water usage effectiveness (ISO/IEC 30134-9): litres of site water per kWh of IT energy."""
    return water_l / _positive(e_it_kwh, "e_it_kwh")
