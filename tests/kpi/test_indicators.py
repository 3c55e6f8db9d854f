import pytest

from narvik.kpi import indicators


def test_iso_30134_definitions_hand_calculation():
    # A year: 1,000 MWh IT, 1,100 MWh total, all renewable, 150 MWh reused,
    # 8.8 t CO2 and 5,000 L of water.
    assert indicators.pue(1.1e6, 1.0e6) == pytest.approx(1.1)
    assert indicators.ref(1.1e6, 1.1e6) == pytest.approx(1.0)
    assert indicators.erf(150e3, 1.1e6) == pytest.approx(0.13636, rel=1e-4)
    assert indicators.cue_kg_per_kwh(8800.0, 1.0e6) == pytest.approx(0.0088)
    assert indicators.wue_l_per_kwh(5000.0, 1.0e6) == pytest.approx(0.005)


def test_zero_it_energy_is_an_error_not_a_division_by_zero():
    with pytest.raises(ValueError, match="e_it_kwh must be positive"):
        indicators.pue(1.0, 0.0)
