import pytest

from narvik.physics.heat_pump import heat_pump_cop, source_heat_w


@pytest.mark.parametrize(("sink_c", "published_cop"), [(60.0, 5.5), (70.0, 4.3), (80.0, 3.5)])
def test_cop_from_45c_water_matches_published_values(sink_c, published_cop):
    # Danish Energy Agency technology data, large heat pumps on 45 C data-centre water.
    assert float(heat_pump_cop(45.0, sink_c)) == pytest.approx(published_cop, rel=0.02)


def test_cop_hand_calculation():
    # T_cond = 60 + 8 = 68 C = 341.15 K; T_evap = 45 - 8 = 37 C; lift 31 K.
    assert float(heat_pump_cop(45.0, 60.0)) == pytest.approx(0.5 * 341.15 / 31.0)


def test_cop_falls_with_lift():
    cops = heat_pump_cop(45.0, [55.0, 65.0, 75.0, 85.0])
    assert all(a > b for a, b in zip(cops, cops[1:], strict=False))


def test_impossible_lift_is_an_error():
    with pytest.raises(ValueError, match="sink must be above"):
        heat_pump_cop(45.0, 20.0)


def test_source_heat_energy_balance():
    # Delivering 10 MW at COP 4 draws 7.5 MW from the source and 2.5 MW of electricity.
    assert float(source_heat_w(10e6, 4.0)) == pytest.approx(7.5e6)
