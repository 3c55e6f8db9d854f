import numpy as np
import pytest

from narvik.physics.energy_mix import ContractTerms, energy_mix


def test_share_weighted_mix_hand_calculation():
    flat = (1.0,) * 12
    winter = (2.0,) + (1.0,) * 11
    contracts = [
        ContractTerms(0.75, True, 8.0, 30.0, flat),
        ContractTerms(0.25, False, 400.0, 80.0, winter),
    ]
    mix = energy_mix(contracts, [1, 7])
    assert mix.renewable_fraction == pytest.approx([0.75, 0.75])
    assert mix.carbon_intensity_g_per_kwh == pytest.approx([106.0, 106.0])  # .75*8 + .25*400
    # January: .75*30 + .25*80*2 = 62.5; July: .75*30 + .25*80 = 42.5 EUR/MWh.
    np.testing.assert_allclose(mix.price_eur_per_mwh, [62.5, 42.5])
