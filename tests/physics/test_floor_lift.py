"""The GPU power floor's cost on a profile, by hand: a floor of 80 % of a GB300's busy
(maximum) power sits at (0.8 x 1,400 - 160) / (1,400 - 160) = 0.774 of its range; a
training iteration that spends 30 % of its time at 0.35 is raised by 0.424 there."""

from __future__ import annotations

import pytest

from narvik.physics.power_profiles import (
    InferencePowerProfile,
    SteadyPowerProfile,
    TrainingPowerProfile,
    floor_in_range,
    mean_floor_lift,
)


def test_floor_in_range_of_a_gb300():
    assert floor_in_range(0.8, 160.0, 1400.0) == pytest.approx(960 / 1240)
    assert floor_in_range(0.1, 160.0, 1400.0) == 0.0  # below idle: no floor
    assert floor_in_range(0.0, 160.0, 1400.0) == 0.0


def test_training_lift_is_the_comm_share_times_the_gap_plus_the_checkpoints():
    p = TrainingPowerProfile(jitter_fraction=0.0)
    floor = 960 / 1240
    share = 1 - p.compute_share
    gap = floor - p.comm_fraction
    dip = p.checkpoint_s / p.checkpoint_interval_s
    by_hand = (1 - dip) * share * gap + dip * (floor - p.checkpoint_fraction)
    assert mean_floor_lift(p, floor) == pytest.approx(by_hand, rel=2e-3)


def test_a_floor_below_the_troughs_costs_nothing():
    p = TrainingPowerProfile(jitter_fraction=0.0, checkpoint_s=0.0)
    assert mean_floor_lift(p, p.comm_fraction - 0.01) == 0.0
    assert mean_floor_lift(SteadyPowerProfile(fraction=0.85), 0.774) == 0.0
    assert mean_floor_lift(SteadyPowerProfile(fraction=0.5), 0.774) == pytest.approx(0.274)


def test_inference_without_noise_by_the_cosine():
    p = InferencePowerProfile(noise_fraction=0.0, diurnal_amplitude=0.0, mean_fraction=0.6)
    assert mean_floor_lift(p, 0.7) == pytest.approx(0.1, abs=1e-9)
