import numpy as np
import pytest

from narvik.physics.it_power import capped_throughput_fraction, gpu_power_w, rack_power_w
from narvik.site import load_site


def test_gpu_power_is_linear_between_idle_and_max():
    # H100 SXM: 700 W TDP; at 50 % load half-way from 80 W idle: 80 + 620 / 2 = 390 W.
    assert gpu_power_w([0.0, 0.5, 1.0], 80.0, 700.0) == pytest.approx([80.0, 390.0, 700.0])


def test_gpu_power_clips_utilisation_to_unit_interval():
    assert gpu_power_w([-0.5, 1.5], 80.0, 700.0) == pytest.approx([80.0, 700.0])


def test_shipped_gb300_rack_at_full_load_is_in_published_range():
    # Published GB300 NVL72 rack power: about 132-142 kW (MISSION.md; Schneider WP133).
    site = load_site("stargate-norway")
    rack = site.rack_type("GB300-NVL72")
    gpu = site.gpu_model(rack.gpu_model)
    full_w = rack_power_w(
        1.0,
        gpus_per_rack=rack.gpus_per_rack,
        gpu_idle_power_w=gpu.idle_power_w,
        gpu_max_power_w=gpu.max_power_w,
        non_gpu_max_power_w=rack.cpu_power_w + rack.switch_power_w + rack.overhead_power_w,
        idle_fraction_of_non_gpu=rack.idle_fraction_of_non_gpu,
    )
    # Hand calculation: 72 x 1,400 W + 10,800 + 11,700 + 10,000 W = 133,300 W.
    assert float(full_w) == pytest.approx(133_300.0)
    assert 132e3 <= float(full_w) <= 142e3


def test_rack_power_at_idle_hand_calculation():
    p = rack_power_w(
        0.0,
        gpus_per_rack=8,
        gpu_idle_power_w=100.0,
        gpu_max_power_w=1000.0,
        non_gpu_max_power_w=2000.0,
        idle_fraction_of_non_gpu=0.5,
    )
    assert float(p) == pytest.approx(8 * 100.0 + 1000.0)


def test_rack_power_is_vectorised_and_monotone():
    u = np.linspace(0, 1, 11)
    p = rack_power_w(
        u,
        gpus_per_rack=72,
        gpu_idle_power_w=160,
        gpu_max_power_w=1400,
        non_gpu_max_power_w=32500,
        idle_fraction_of_non_gpu=0.45,
    )
    assert p.shape == (11,)
    assert np.all(np.diff(p) > 0)


def test_capped_gpus_lose_less_throughput_than_power():
    # Patel et al. 2024: ~20-30 % power cut costs under ~10-15 % throughput.
    assert float(capped_throughput_fraction(0.75)) == pytest.approx(0.866, abs=1e-3)
    assert float(capped_throughput_fraction(1.0)) == 1.0
