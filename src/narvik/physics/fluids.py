"""Coolant properties from CoolProp.

Bell, Wronski, Quoilin and Lemort, "Pure and Pseudo-pure Fluid Thermophysical
Property Evaluation and the Open-Source Thermophysical Property Library
CoolProp", Ind. Eng. Chem. Res. 53(6), 2014. Water uses IAPWS-95; the
``INCOMP::`` fluids (e.g. ``INCOMP::MPG-30%``, propylene glycol in water) use
CoolProp's incompressible-liquid fits to manufacturer data.
"""

from __future__ import annotations

from functools import lru_cache

from CoolProp.CoolProp import PropsSI

from narvik.units import c_to_k


@lru_cache(maxsize=256)
def specific_heat_j_per_kg_k(fluid: str, temp_c: float, pressure_pa: float) -> float:
    """Isobaric specific heat capacity of a liquid, J/(kg K)."""
    return float(PropsSI("C", "T", float(c_to_k(temp_c)), "P", pressure_pa, fluid))


@lru_cache(maxsize=256)
def density_kg_per_m3(fluid: str, temp_c: float, pressure_pa: float) -> float:
    """Density of a liquid, kg/m3."""
    return float(PropsSI("D", "T", float(c_to_k(temp_c)), "P", pressure_pa, fluid))


def check_fluid(fluid: str) -> None:
    """Raise ValueError naming the fluid if CoolProp does not know it."""
    try:
        specific_heat_j_per_kg_k(fluid, 30.0, 2e5)
    except ValueError as exc:
        raise ValueError(f"unknown coolant {fluid!r} for CoolProp: {exc}") from exc


@lru_cache(maxsize=64)
def freeze_point_c(fluid: str) -> float | None:
    """Freezing point of an ``INCOMP::`` brine (e.g. propylene glycol in water), C, from
    CoolProp's fits to manufacturer data (``T_freeze``); 0 C for plain water; None for
    another fluid CoolProp has no freezing point for. 30 % propylene glycol by mass freezes at about
    -12.7 C (ASHRAE Handbook - Fundamentals 2021, ch. 31, table 4)."""
    if fluid.split("::")[-1].lower() == "water":
        return 0.0
    try:
        return float(PropsSI("T_freeze", "T", 300.0, "P", 101325.0, fluid)) - 273.15
    except ValueError:
        return None
