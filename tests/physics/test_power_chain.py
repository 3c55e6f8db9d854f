import numpy as np
import pytest

from narvik.physics.power_chain import transformer_loss_w, ups_efficiency, ups_loss_w


def test_transformer_losses_two_term_model_hand_calculation():
    rated = 100e6
    # At rated load: P0 + Pk = 0.08 % + 0.5 % of rating = 580 kW.
    assert float(transformer_loss_w(rated, rated, 0.0008, 0.005)) == pytest.approx(580e3)
    # At half load the load losses fall with the square: 80 kW + 500 kW / 4 = 205 kW.
    assert float(transformer_loss_w(rated / 2, rated, 0.0008, 0.005)) == pytest.approx(205e3)
    # No load: only the iron losses.
    assert float(transformer_loss_w(0.0, rated, 0.0008, 0.005)) == pytest.approx(80e3)


def test_transformer_efficiency_matches_ecodesign_order_of_magnitude():
    # EU 548/2014 Tier 2 large power transformers: peak efficiency index above 99.5 %.
    rated = 100e6
    loads = np.linspace(0.2, 1.0, 9) * rated
    eff = loads / (loads + transformer_loss_w(loads, rated, 0.0008, 0.005))
    assert eff.max() > 0.995


def test_ups_efficiency_interpolates_curve():
    loads = [0.25, 0.5, 1.0]
    effs = [0.96, 0.98, 0.97]
    assert float(ups_efficiency(0.375, loads, effs)) == pytest.approx(0.97)
    assert float(ups_efficiency(0.1, loads, effs)) == pytest.approx(0.96)  # held flat below curve


def test_ups_loss_is_output_times_inverse_efficiency_minus_one():
    loss = ups_loss_w(50e6, 100e6, [0.25, 0.5, 1.0], [0.96, 0.98, 0.97])
    assert float(loss) == pytest.approx(50e6 * (1 / 0.98 - 1))
