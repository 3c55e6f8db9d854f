import pytest

from narvik.physics.fluids import check_fluid, density_kg_per_m3, specific_heat_j_per_kg_k


def test_water_properties_match_iapws_tables():
    # IAPWS-95 at 25 C, 101.325 kPa: cp = 4181.3 J/(kg K), rho = 997.05 kg/m3.
    assert specific_heat_j_per_kg_k("Water", 25.0, 101325.0) == pytest.approx(4181.3, rel=1e-3)
    assert density_kg_per_m3("Water", 25.0, 101325.0) == pytest.approx(997.05, rel=1e-4)


def test_propylene_glycol_30_percent_near_handbook_value():
    # ASHRAE Handbook Fundamentals (2017) ch. 31, table 6: 30 % propylene glycol by mass
    # at 40 C: cp about 3.85-3.90 kJ/(kg K), density about 1,015-1,020 kg/m3.
    assert specific_heat_j_per_kg_k("INCOMP::MPG-30%", 40.0, 3e5) == pytest.approx(3880, rel=0.02)
    assert density_kg_per_m3("INCOMP::MPG-30%", 40.0, 3e5) == pytest.approx(1017, rel=0.01)


def test_unknown_fluid_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown coolant 'NotAFluid'"):
        check_fluid("NotAFluid")
