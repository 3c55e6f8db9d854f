from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from narvik.physics.carbon import (
    NORWAY_FACTORS,
    cue_location_kg_per_kwh,
    cue_market_kg_per_kwh,
    location_based_kg,
    market_based_kg,
)


def test_location_based_is_all_energy_at_the_grid_factor():
    # 1,000 kWh at 15 g/kWh = 15,000 g = 15 kg.
    assert location_based_kg(1000.0, 15.0) == pytest.approx(15.0)
    np.testing.assert_allclose(location_based_kg([100.0, 200.0], 15.0), [1.5, 3.0])
    # An hourly factor: 100 kWh at 10 g and 200 kWh at 20 g -> 1 kg and 4 kg.
    np.testing.assert_allclose(location_based_kg([100.0, 200.0], [10.0, 20.0]), [1.0, 4.0])


def test_market_based_hand_calculation_from_the_brief():
    # 1,000 kWh, 80 % covered by GOs at 0 g, the rest at a 500 g residual mix:
    # 0.2 * 1000 kWh * 500 g/kWh = 100,000 g = 100 kg.
    assert market_based_kg(1000.0, 0.8, 0.0, 500.0) == pytest.approx(100.0)


def test_market_based_two_instruments_and_hourly_shares():
    # PPA 60 % at 0 g, GO 30 % at 10 g, residual 10 % at 400 g:
    # 1000 * (0.6*0 + 0.3*10 + 0.1*400) g = 43,000 g = 43 kg.
    assert market_based_kg([1000.0], [0.6, 0.3], [0.0, 10.0], 400.0) == pytest.approx([43.0])
    # Shares per hour, shape (instruments, hours): 80 % then 50 % covered at 0 g.
    kg = market_based_kg([1000.0, 500.0], [[0.8, 0.5]], [0.0], 500.0)
    np.testing.assert_allclose(kg, [100.0, 125.0])  # 0.2*1000*0.5, 0.5*500*0.5


def test_market_based_fully_covered_and_uncovered():
    assert market_based_kg(1000.0, [0.8, 0.2], [0.0, 0.0], 402.0) == pytest.approx(0.0)
    assert market_based_kg(1000.0, 0.0, 0.0, 402.0) == pytest.approx(402.0)


def test_market_based_rejects_double_coverage_and_bad_shapes():
    with pytest.raises(ValueError, match="cannot be covered by two instruments"):
        market_based_kg(1000.0, [0.8, 0.3], [0.0, 0.0], 500.0)
    with pytest.raises(ValueError, match="one factor per instrument"):
        market_based_kg(1000.0, [0.5, 0.3], [0.0], 500.0)
    with pytest.raises(ValueError, match="within 0..1"):
        market_based_kg(1000.0, -0.1, 0.0, 500.0)
    with pytest.raises(ValueError, match="energy_kwh must not be negative"):
        market_based_kg([-1.0], 0.5, 0.0, 500.0)
    with pytest.raises(ValueError, match="grid_factor_g_per_kwh must be finite"):
        location_based_kg(1.0, float("nan"))


def test_cue_both_methods_small_case():
    facility_kwh = [1200.0, 1200.0]  # PUE 1.2
    it_kwh = [1000.0, 1000.0]
    # Location: 2400 kWh * 15 g = 36 kg over 2000 kWh IT -> 0.018 kg/kWh.
    assert cue_location_kg_per_kwh(facility_kwh, it_kwh, 15.0) == pytest.approx(0.018)
    # Market: 80 % at 0 g, 20 % at 402 g: 2400 * 0.2 * 402 / 1000 = 192.96 kg -> 0.09648.
    cue = cue_market_kg_per_kwh(facility_kwh, it_kwh, 0.8, 0.0, 402.0)
    assert cue == pytest.approx(0.09648)
    # The IT energy may be a period total too.
    assert cue_location_kg_per_kwh(facility_kwh, 2000.0, 15.0) == pytest.approx(0.018)
    with pytest.raises(ValueError, match="it_energy_kwh"):
        cue_location_kg_per_kwh(facility_kwh, [0.0, 0.0], 15.0)


def test_norway_factors_are_dated_and_frozen():
    assert NORWAY_FACTORS.physical_mix_g_per_kwh == 15.0
    assert NORWAY_FACTORS.physical_mix_year == 2023
    assert NORWAY_FACTORS.residual_mix_g_per_kwh == 402.0
    assert NORWAY_FACTORS.residual_mix_year == 2020
    assert NORWAY_FACTORS.renewable_instrument_g_per_kwh == 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        NORWAY_FACTORS.physical_mix_g_per_kwh = 0.0  # type: ignore[misc]
