import math

import numpy as np
import pytest

from narvik.physics.power_quality import (
    band_energy,
    band_name,
    grid_code_breaks,
    max_ramp_w_per_s,
    max_swing_w,
    ramp_w_per_s,
    summarise,
    swing_w,
)

MW = 1e6
P1, P2 = 50 * MW, 80 * MW


def square_wave(n=600, half_period_samples=20):
    """P1 for the first 2 s, then P2 and P1 alternating every 2 s (period 4 s at 0.1 s)."""
    idx = np.arange(n)
    return np.where((idx // half_period_samples) % 2 == 1, P2, P1).astype(float)


def test_square_wave_swing_and_ramp():
    p = square_wave()
    assert max_swing_w(p, 0.1, window_s=10.0) == pytest.approx(P2 - P1)
    # Every edge is a 0.1-s step: over 1 s it is a ramp of (P2 - P1) / 1 s.
    assert max_ramp_w_per_s(p, 0.1) == pytest.approx((P2 - P1) / 1.0)
    # Over 0.5 s the same step is twice as steep.
    assert max_ramp_w_per_s(p, 0.1, over_s=0.5) == pytest.approx((P2 - P1) / 0.5)
    # Over 4 s (one period) the wave comes back to where it was.
    assert max_ramp_w_per_s(p, 0.1, over_s=4.0) == 0.0


def test_swing_is_over_a_trailing_window_of_window_s():
    p = np.zeros(300)
    p[100:] = 10 * MW  # a step at t = 10 s
    s = swing_w(p, 0.1, window_s=10.0)
    # Windows holding samples 99 and 100: those ending at samples 100 ... 199 (10 s).
    assert (s[100:200] == 10 * MW).all()
    assert (s[:100] == 0).all() and (s[200:] == 0).all()
    assert max_swing_w(p, 0.1, window_s=0.0) == 0.0


def test_linear_ramp_has_its_slope_over_any_period():
    t = np.arange(0, 20, 0.1)
    p = 3 * MW * t
    for over_s in (0.1, 1.0, 5.0):
        assert max_ramp_w_per_s(p, 0.1, over_s=over_s) == pytest.approx(3 * MW)
    assert ramp_w_per_s(p, 0.1, 1.0).size == t.size - 10


def test_short_series_has_no_ramp():
    assert max_ramp_w_per_s([1.0, 2.0], 0.1, over_s=1.0) == 0.0


def test_single_step_breaks_hand_calculation():
    p = np.zeros(300)
    p[100:] = 10 * MW
    b = grid_code_breaks(p, 0.1, max_ramp_w_per_s=4 * MW, max_swing_w=5 * MW)
    # Ramps over 1 s ending at samples 100 ... 109 are 10 MW/s: 1 s, one event.
    assert b["ramp_break_s"] == pytest.approx(1.0)
    assert b["ramp_break_events"] == 1
    assert b["ramp_max_excess_w_per_s"] == pytest.approx(6 * MW)
    # Swing of 10 MW in the 10-s windows ending at samples 100 ... 199: 10 s, one event.
    assert b["swing_break_s"] == pytest.approx(10.0)
    assert b["swing_break_events"] == 1
    assert b["swing_max_excess_w"] == pytest.approx(5 * MW)


def test_square_wave_breaks_count_every_edge():
    p = square_wave()  # 60 s, edges at 2, 4, ..., 58 s
    b = grid_code_breaks(p, 0.1, max_ramp_w_per_s=(P2 - P1) / 2, max_swing_w=(P2 - P1) / 2)
    assert b["ramp_break_events"] == 29
    assert b["ramp_break_s"] == pytest.approx(29 * 1.0)
    # From the first edge on, every 10-s window holds both levels: one 58-s event.
    assert b["swing_break_events"] == 1
    assert b["swing_break_s"] == pytest.approx(58.0)
    assert b["swing_max_excess_w"] == pytest.approx((P2 - P1) / 2)


def test_no_breaks_within_limits():
    b = grid_code_breaks(square_wave(), 0.1, max_ramp_w_per_s=100 * MW, max_swing_w=100 * MW)
    assert b["ramp_break_s"] == 0.0 and b["ramp_break_events"] == 0
    assert b["swing_break_s"] == 0.0 and b["swing_break_events"] == 0
    assert b["ramp_max_excess_w_per_s"] == 0.0 and b["swing_max_excess_w"] == 0.0


def test_band_names():
    assert band_name(0.0, 0.1) == "0-0.1 Hz"
    assert band_name(0.1, 1.0) == "0.1-1 Hz"
    assert band_name(1.0, 5.0) == "1-5 Hz"


def test_sine_variance_lies_in_its_band():
    dt, amp = 0.1, 3 * MW
    t = np.arange(6000) * dt  # 600 s: 300 whole periods of 0.5 Hz
    p = 70 * MW + amp * np.sin(2 * np.pi * 0.5 * t)
    e = band_energy(p, dt)
    assert e["0.1-1 Hz"] == pytest.approx(amp**2 / 2, rel=1e-9)
    assert e["0-0.1 Hz"] == pytest.approx(0.0, abs=1e-9 * amp**2)
    assert e["1-5 Hz"] == pytest.approx(0.0, abs=1e-9 * amp**2)


def test_two_sines_split_between_bands():
    dt = 0.1
    t = np.arange(6000) * dt
    a1, a2 = 4 * MW, 1 * MW
    p = a1 * np.sin(2 * np.pi * 0.05 * t) + a2 * np.cos(2 * np.pi * 2.0 * t)
    e = band_energy(p, dt)
    assert e["0-0.1 Hz"] == pytest.approx(a1**2 / 2, rel=1e-9)
    assert e["0.1-1 Hz"] == pytest.approx(0.0, abs=1e-9 * a1**2)
    assert e["1-5 Hz"] == pytest.approx(a2**2 / 2, rel=1e-9)


def test_constant_has_no_band_energy():
    e = band_energy(np.full(1000, 70 * MW), 0.1)
    assert all(v == pytest.approx(0.0, abs=1e-6) for v in e.values())


def test_bands_add_up_to_the_variance_parseval():
    rng = np.random.default_rng(0)
    for n in (1000, 1001):  # with and without a Nyquist bin
        p = rng.normal(70 * MW, 5 * MW, n)
        e = band_energy(p, 0.1, [(0.0, 0.1), (0.1, 1.0), (1.0, 5.0)])
        assert sum(e.values()) == pytest.approx(np.var(p), rel=1e-9)


def test_nyquist_oscillation_is_not_doubled_and_bands_above_it_are_nan():
    amp = 2 * MW
    p = amp * (-1.0) ** np.arange(1000)  # 5 Hz at 0.1 s: variance amp^2
    e = band_energy(p, 0.1, [(1.0, 5.0), (5.0, 20.0)])
    assert e["1-5 Hz"] == pytest.approx(amp**2)
    assert math.isnan(e["5-20 Hz"])


def test_summarise_in_mw_with_breaks():
    p = square_wave()
    s = summarise(p, 0.1, max_ramp_w_per_s=5 * MW, max_swing_w=20 * MW)
    assert s["max_swing_mw"] == pytest.approx(30.0)
    assert s["max_ramp_mw_per_s"] == pytest.approx(30.0)
    assert s["mean_mw"] == pytest.approx(65.0)
    assert s["min_mw"] == pytest.approx(50.0) and s["max_mw"] == pytest.approx(80.0)
    # A square wave of +-15 MW has variance 225 MW^2; it lies mostly in the 0.1-1 Hz band
    # (fundamental 0.25 Hz holds 8 / pi^2 of it).
    bands = s["band_variance_mw2"]
    assert sum(bands.values()) == pytest.approx(225.0, rel=1e-9)
    assert bands["0.1-1 Hz"] > 0.8 * 225.0
    assert s["ramp_break_events"] == 29
    assert s["ramp_max_excess_mw_per_s"] == pytest.approx(25.0)
    assert s["swing_max_excess_mw"] == pytest.approx(10.0)


def test_summarise_without_limits_has_no_breaks():
    s = summarise(square_wave(), 0.1)
    assert "ramp_break_s" not in s and "swing_break_s" not in s
    s = summarise(square_wave(), 0.1, max_swing_w=20 * MW)
    assert "swing_break_s" in s and "ramp_break_s" not in s
