import math

import numpy as np
import pytest

from narvik.physics.power_smoothing import battery, chain, floor_power_w, ramp_limit

MW = 1e6


def step_series(p0_w, step_w, n, k0):
    """``p0_w`` before sample ``k0``, ``p0_w + step_w`` from it on."""
    d = np.full(n, p0_w)
    d[k0:] += step_w
    return d


def square_wave(low_w, high_w, n, half_period_samples):
    idx = np.arange(n)
    return np.where((idx // half_period_samples) % 2 == 1, high_w, low_w).astype(float)


# --- GPU power floor ---------------------------------------------------------------------------


def test_floor_raises_trough_of_busy_gpus_and_counts_the_energy_it_burns():
    # Iterations between 1000 W (compute) and 300 W (communication); floor 80 % of busy.
    gpu = np.array([1000.0, 300.0, 1000.0, 300.0])
    floored, extra_j = floor_power_w(gpu, 1000.0, 0.8, dt_s=0.5)
    np.testing.assert_array_equal(floored, [1000.0, 800.0, 1000.0, 800.0])
    # Two troughs raised by 500 W for 0.5 s each: 500 J.
    assert extra_j == pytest.approx(500.0)
    # The swing falls from 700 W to 200 W.
    assert np.ptp(floored) == pytest.approx(200.0)


def test_floor_leaves_gpus_that_are_not_busy_alone_and_broadcasts():
    gpu = np.array([[300.0, 100.0], [900.0, 50.0]])  # samples x GPUs
    busy = np.array([1000.0, 0.0])  # the second GPU is in no job
    floored, extra_j = floor_power_w(gpu, busy, 0.8, dt_s=0.1)
    np.testing.assert_array_equal(floored, [[800.0, 100.0], [900.0, 50.0]])
    assert extra_j == pytest.approx(500.0 * 0.1)


def test_floor_fraction_zero_changes_nothing():
    gpu = np.array([1000.0, 300.0])
    floored, extra_j = floor_power_w(gpu, 1000.0, 0.0, dt_s=1.0)
    np.testing.assert_array_equal(floored, gpu)
    assert extra_j == 0.0


def test_floor_rejects_bad_fraction():
    with pytest.raises(ValueError):
        floor_power_w([1.0], 1.0, 1.5, dt_s=1.0)


# --- Ramp limiter ------------------------------------------------------------------------------


def test_ramp_limit_with_enough_storage_never_ramps_faster_than_the_limit():
    rng = np.random.default_rng(0)
    dt = 0.1
    demand = square_wave(60 * MW, 100 * MW, 3000, 20) + rng.normal(0, 2 * MW, 3000)
    r = 2 * MW
    out = ramp_limit(demand, dt, ramp_w_per_s=r, storage_energy_j=1e12)
    steps = np.abs(np.diff(np.concatenate([[demand[0]], out.grid_w])))
    assert steps.max() <= r * dt * (1 + 1e-9)
    assert steps.max() == pytest.approx(r * dt)  # the limit is reached, not undercut
    assert not out.broken.any()


def test_ramp_limit_after_a_step_ramps_linearly_then_follows():
    dt, r, k0 = 0.1, 2 * MW, 10
    demand = step_series(50 * MW, 20 * MW, 200, k0)
    out = ramp_limit(demand, dt, ramp_w_per_s=r, storage_energy_j=1e12)
    np.testing.assert_array_equal(out.grid_w[:k0], demand[:k0])
    j = np.arange(100)  # 20 MW at 0.2 MW per sample: 100 samples
    np.testing.assert_allclose(out.grid_w[k0 : k0 + 100], 50 * MW + r * dt * (j + 1), rtol=1e-12)
    np.testing.assert_allclose(out.grid_w[k0 + 100 :], 70 * MW, rtol=1e-12)
    # The storage delivered the triangle S^2 / (2 r) = 100 MJ, discretised:
    # dt * sum_{m=1..100} (S - r dt m) = 0.1 * (100 * 20 MW - 0.2 MW * 5050) = 99 MJ.
    assert out.energy_out_j == pytest.approx(99e6)
    assert out.energy_in_j == 0.0


def test_ramp_limit_storage_empties_at_the_computed_sample():
    dt, r, k0 = 0.1, 2 * MW, 10
    s_w = 20 * MW
    energy_j, soc0 = 120e6, 0.5  # 60 MJ available, less than the 100 MJ triangle
    demand = step_series(50 * MW, s_w, 400, k0)
    out = ramp_limit(demand, dt, ramp_w_per_s=r, storage_energy_j=energy_j, soc0_fraction=soc0)
    # Continuous: S tau - r tau^2 / 2 = 60 MJ -> tau^2 - 20 tau + 60 = 0 -> tau = 10 - sqrt(40).
    tau_s = 10 - math.sqrt(40)
    # Discrete: after j + 1 samples the storage has given dt * ((j+1) S - r dt (j+1)(j+2) / 2).
    j = np.arange(200)
    given = dt * ((j + 1) * s_w - r * dt * (j + 1) * (j + 2) / 2)
    j_star = int(np.argmax(given > soc0 * energy_j))
    first = int(np.argmax(out.broken))
    assert out.broken.any()
    assert first == k0 + j_star
    # Sample k0 + j covers [j dt, (j + 1) dt) after the step.
    assert abs((first - k0) * dt - tau_s) <= dt
    assert not out.broken[:first].any()
    assert out.soc_j[first] == 0.0
    # Empty, the storage gives nothing more: the grid ends on the demand.
    np.testing.assert_allclose(out.grid_w[-10:], demand[-10:])


def test_ramp_limit_power_limited_storage_breaks_once_then_ramps():
    dt, r, k0 = 0.1, 2 * MW, 5
    demand = step_series(50 * MW, 20 * MW, 100, k0)
    out = ramp_limit(demand, dt, ramp_w_per_s=r, storage_energy_j=1e12, storage_power_w=5 * MW)
    # Needed 20 - 0.2 = 19.8 MW, could give 5 MW: the grid jumps to 65 MW.
    assert out.broken[k0]
    assert out.grid_w[k0] == pytest.approx(65 * MW)
    # Then ramps on at 0.2 MW per sample with the storage within its 5 MW.
    assert out.grid_w[k0 + 1] == pytest.approx(65.2 * MW)
    assert out.broken.sum() == 1


def test_ramp_limit_full_storage_cannot_absorb_a_drop():
    dt, k0 = 0.1, 5
    demand = step_series(70 * MW, -20 * MW, 50, k0)
    out = ramp_limit(demand, dt, ramp_w_per_s=2 * MW, storage_energy_j=1e9, soc0_fraction=1.0)
    # The grid drops with the demand at the step (the only break), then has nothing to ramp.
    assert out.broken[k0] and out.broken.sum() == 1
    np.testing.assert_allclose(out.grid_w, demand)
    assert out.energy_in_j == 0.0


def test_ramp_limit_energy_balance_lossless():
    rng = np.random.default_rng(1)
    dt = 0.1
    demand = square_wave(60 * MW, 100 * MW, 5000, 37) + rng.normal(0, 3 * MW, 5000)
    # Storage small enough to run empty and full: breaks happen both ways.
    out = ramp_limit(demand, dt, ramp_w_per_s=2 * MW, storage_energy_j=30e6, soc0_fraction=0.3)
    assert out.broken.any()
    soc_start = 0.3 * 30e6
    lhs = out.grid_w.sum() * dt
    rhs = demand.sum() * dt + (out.soc_j[-1] - soc_start)
    assert lhs == pytest.approx(rhs, rel=1e-12)
    assert (out.soc_j >= 0).all() and (out.soc_j <= 30e6).all()


def test_ramp_limit_energy_balance_with_round_trip_losses():
    rng = np.random.default_rng(2)
    dt = 0.1
    demand = square_wave(60 * MW, 100 * MW, 5000, 37) + rng.normal(0, 3 * MW, 5000)
    eff = 0.9
    out = ramp_limit(
        demand, dt, ramp_w_per_s=2 * MW, storage_energy_j=30e6, soc0_fraction=0.3, efficiency=eff
    )
    soc_start = 0.3 * 30e6
    grid_minus_demand_j = (out.grid_w - demand).sum() * dt
    assert grid_minus_demand_j == pytest.approx(out.energy_in_j - out.energy_out_j, rel=1e-9)
    assert out.soc_j[-1] - soc_start == pytest.approx(
        eff * out.energy_in_j - out.energy_out_j, rel=1e-9, abs=1.0
    )


def test_ramp_limit_rejects_unbounded_storage():
    with pytest.raises(ValueError):
        ramp_limit([1.0, 2.0], 1.0, ramp_w_per_s=1.0, storage_energy_j=math.inf)


# --- Site battery ------------------------------------------------------------------------------


def test_battery_passes_a_constant_demand_untouched():
    demand = np.full(1000, 80 * MW)
    out = battery(demand, 0.1, power_w=20 * MW, energy_j=36e9, tau_s=60.0)
    np.testing.assert_array_equal(out.grid_w, demand)
    assert out.throughput_j == 0.0
    np.testing.assert_array_equal(out.soc_j, 18e9)
    assert not out.broken.any()


def test_battery_absorbs_a_swing_faster_than_its_time_constant():
    dt, tau = 0.1, 60.0
    t = np.arange(0, 600, dt)
    amp, period = 10 * MW, 10.0
    demand = 100 * MW + amp * np.sin(2 * np.pi * t / period)
    out = battery(demand, dt, power_w=20 * MW, energy_j=36e9, tau_s=tau)
    assert not out.broken.any()
    late = t >= 300  # five time constants: the start transient has died out
    grid_swing = np.ptp(out.grid_w[late])
    # First-order low-pass: amplitude divided by sqrt(1 + (w tau)^2) = 37.7.
    expected = 2 * amp / math.sqrt(1 + (2 * np.pi / period * tau) ** 2)
    assert grid_swing == pytest.approx(expected, rel=0.05)
    assert grid_swing < np.ptp(demand) / 30


def test_battery_undersized_in_energy_breaks_at_the_computed_sample():
    dt, tau, k0 = 0.1, 60.0, 10
    s_w = 20 * MW
    demand = step_series(50 * MW, s_w, 1000, k0)
    out = battery(demand, dt, power_w=30 * MW, energy_j=1e9, tau_s=tau)  # 0.5 GJ available
    # The battery supplies S (1 - a)^(j+1) at the j-th sample after the step.
    a = 1 - math.exp(-dt / tau)
    j = np.arange(900)
    given = dt * np.cumsum(s_w * (1 - a) ** (j + 1))
    j_star = int(np.argmax(given > 0.5e9))
    first = int(np.argmax(out.broken))
    assert first == k0 + j_star
    # Continuous: S tau (1 - exp(-t / tau)) = 0.5 GJ -> t = -tau ln(1 - 0.5 / 1.2) = 32.3 s.
    t_empty = -tau * math.log(1 - 0.5e9 / (s_w * tau))
    assert abs((first - k0) * dt - t_empty) <= dt
    assert out.soc_j[first] == 0.0
    np.testing.assert_allclose(out.grid_w[first + 1 :], demand[first + 1 :])


def test_battery_undersized_in_power_breaks_at_the_step_only():
    dt, k0 = 0.1, 10
    demand = step_series(50 * MW, 20 * MW, 300, k0)
    out = battery(demand, dt, power_w=5 * MW, energy_j=36e9, tau_s=60.0)
    assert out.broken[k0] and out.broken.sum() == 1
    assert out.grid_w[k0] == pytest.approx(65 * MW)


def test_battery_throughput_is_both_directions():
    demand = np.array([50, 70, 70, 50, 50], dtype=float) * MW
    out = battery(demand, 1.0, power_w=100 * MW, energy_j=1e12, tau_s=1.0)
    assert out.throughput_j == pytest.approx(out.energy_in_j + out.energy_out_j)
    assert out.energy_in_j > 0 and out.energy_out_j > 0


# --- Chain -------------------------------------------------------------------------------------


def test_chain_is_ramp_limiter_then_battery():
    rng = np.random.default_rng(3)
    demand = square_wave(60 * MW, 100 * MW, 2000, 20) + rng.normal(0, 1 * MW, 2000)
    c = chain(demand, 0.1, 2 * MW, 100e6, 50 * MW, 20 * MW, 36e9, 60.0)
    rack = ramp_limit(
        demand, 0.1, ramp_w_per_s=2 * MW, storage_energy_j=100e6, storage_power_w=50 * MW
    )
    bess = battery(rack.grid_w, 0.1, power_w=20 * MW, energy_j=36e9, tau_s=60.0)
    np.testing.assert_array_equal(c.grid_w, bess.grid_w)
    np.testing.assert_array_equal(c.rack_soc_j, rack.soc_j)
    np.testing.assert_array_equal(c.bess_soc_j, bess.soc_j)
    np.testing.assert_array_equal(c.rack_broken, rack.broken)
    np.testing.assert_array_equal(c.bess_broken, bess.broken)


def test_pure_ramp_limiter_drifts_on_a_sustained_swing():
    # 40 MW swings every 2 s: at 2 MW/s the grid moves 4 MW per half-period, around the
    # level it started from; the storage drifts to a bound and the limit breaks.
    demand = square_wave(60 * MW, 100 * MW, 6000, 20)
    out = ramp_limit(demand, 0.1, ramp_w_per_s=2 * MW, storage_energy_j=200e6, grid0_w=80 * MW)
    assert out.broken.any()


def test_ramp_limiter_with_a_low_pass_settles_on_the_mean():
    # Same swing; tau 20 s >= half-swing / ramp = 10 s: the grid settles on the 80 MW mean.
    demand = square_wave(60 * MW, 100 * MW, 6000, 20)
    out = ramp_limit(
        demand, 0.1, ramp_w_per_s=2 * MW, storage_energy_j=200e6, tau_s=20.0, grid0_w=80 * MW
    )
    assert not out.broken.any()
    assert out.grid_w[3000:].mean() == pytest.approx(80 * MW, rel=1e-3)
    assert np.abs(np.diff(out.grid_w)).max() <= 2 * MW * 0.1 * (1 + 1e-9)


def test_chain_with_scenario_settings_tames_a_training_swing():
    # Scenario: 2 MW/s ramp limit; 20 MW / 10 MWh battery with tau 60 s; the job is running.
    dt = 0.1
    demand = square_wave(60 * MW, 100 * MW, 6000, 20)
    c = chain(
        demand,
        dt,
        2 * MW,
        200e6,
        50 * MW,
        20 * MW,
        10 * 3.6e9,
        60.0,
        ramp_tau_s=20.0,
        grid0_w=80 * MW,
    )
    assert not c.rack_broken.any() and not c.bess_broken.any()
    late = slice(3000, None)
    assert np.ptp(c.grid_w[late]) < 0.5 * MW  # the demand swings 40 MW
    assert np.abs(np.diff(c.grid_w)).max() / dt <= 2 * MW * (1 + 1e-9)
