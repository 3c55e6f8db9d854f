"""The rebuilt power of a window against hand calculations: one training gang on a square
profile swings the site by N x (P_compute - P_comm) at the racks, and that swing reaches
the grid through the power chain's losses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from narvik.kpi.power_dynamics import power_quality, window_from
from narvik.kpi.power_rebuild import Window, rebuild_power
from narvik.kpi.run_data import load_run
from narvik.physics.facility import FacilityModel
from narvik.physics.power_profiles import SteadyPowerProfile, TrainingPowerProfile
from narvik.site import load_site

N = 7_200  # GPUs of the gang: 100 NVL72 domains
SQUARE = TrainingPowerProfile(
    iteration_s=4.0,
    compute_share=0.5,
    compute_fraction=0.9,
    comm_fraction=0.4,
    jitter_fraction=0.0,
    checkpoint_s=0.0,
    ramp_s=0.0,
)


def _run_folder(tmp_path: Path, smoothing: dict[str, float] | None = None) -> Path:
    """A two-hour run on the shipped site with one training gang busy throughout."""
    run = tmp_path / "run"
    run.mkdir()
    pq.write_table(
        pa.table(
            {
                "job_id": ["openai-training-1"],
                "tenant": ["openai"],
                "tier": ["anchor"],
                "gpus": [N],
                "submit_s": [0.0],
                "start_s": [0.0],
                "end_s": [7200.0],
                "state": ["completed"],
            }
        ),
        run / "jobs.parquet",
    )
    two = [0.0, 3600.0]
    pq.write_table(
        pa.table(
            {
                "t_s": two,
                "gpus_busy": [float(N)] * 2,
                "gpus_total": [100_224.0] * 2,
                "gpu_power_cap_fraction": [1.0] * 2,
                "it_power_w": [1.0] * 2,
                "facility_power_w": [1.0] * 2,
                "power_cap_w": [230e6] * 2,
                "ambient_c": [2.0] * 2,
                "pue": [1.05] * 2,
            }
        ),
        run / "timeseries.parquet",
    )
    dynamics = {"power_smoothing": smoothing or {}, "grid_code": {}}
    summary = {"site": "stargate-norway", "seed": 0, "start_date": "2027-01-01"}
    summary |= {"policy": "narvik", "n_gpus": 100_224, "jobs": {"completed": 1}}
    summary["power_dynamics"] = dynamics  # type: ignore[assignment]
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def test_a_square_gang_swings_the_racks_by_n_times_the_phase_difference(tmp_path: Path):
    run = load_run(_run_folder(tmp_path))
    r = rebuild_power(run, Window(600.0, 60.0, 0.1), {"training": SQUARE})
    site = load_site("stargate-norway")
    rack = site.rack_types[0]
    gpu = site.gpu_model(rack.gpu_model)
    gpu_span_w = gpu.max_power_w - gpu.idle_power_w
    # The rest of the rack (CPUs, switches, overhead) follows the GPUs' utilisation linearly.
    model = FacilityModel.from_site(site, "phase-1")
    group = model.rack_groups[0]
    non_gpu_per_gpu_w = group.non_gpu_max_power_w * (1 - group.idle_fraction_of_non_gpu)
    non_gpu_per_gpu_w /= group.gpus_per_rack
    df = SQUARE.compute_fraction - SQUARE.comm_fraction
    swing_it_w = N * df * (gpu_span_w + non_gpu_per_gpu_w)
    assert r.it_power_w.max() - r.it_power_w.min() == pytest.approx(swing_it_w, rel=1e-9)
    # Two levels only, half the time each (the compute phase is half of each 4 s iteration).
    high = r.it_power_w > r.it_power_w.mean()
    assert high.mean() == pytest.approx(0.5, abs=0.01)
    # Through the chain: distribution, UPS at its efficiency, transformers (by hand).
    lo, hi = r.it_power_w.min(), r.it_power_w.max()
    aux = float(r.auxiliary_w[0])
    grid = [_grid_by_hand(model, it, aux) for it in (lo, hi)]
    assert r.grid_power_w.max() - r.grid_power_w.min() == pytest.approx(grid[1] - grid[0], rel=1e-9)
    # At 20 % load the UPS's efficiency still rises with load: the chain passes the swing
    # on nearly unchanged (its losses grow less than the load here).
    assert (grid[1] - grid[0]) / swing_it_w == pytest.approx(1.0, abs=0.02)


def _grid_by_hand(model: FacilityModel, it_w: float, aux_w: float) -> float:
    e = model.electrical
    dist = it_w * e.distribution_loss_fraction
    # N+1 UPS units share the load; each runs at its own point of the curve.
    unit_load = (it_w + dist) / (e.ups_units * e.ups_unit_rating_w)
    eta = float(np.interp(unit_load, e.ups_curve_load_fraction, e.ups_curve_efficiency))
    ups = (it_w + dist) * (1 / eta - 1)
    lv = it_w + dist + ups + aux_w

    def trafo(stage, through):
        r = stage.rated_w
        return r * (stage.no_load_loss_fraction + stage.load_loss_fraction * (through / r) ** 2)

    mv = lv + trafo(e.mv_lv, lv)
    return mv + trafo(e.hv_mv, mv)


def test_steady_jobs_rebuild_the_hourly_it_power(tmp_path: Path):
    run = load_run(_run_folder(tmp_path))
    steady = {"training": SteadyPowerProfile(fraction=0.85)}
    r = rebuild_power(run, Window(0.0, 3600.0, 1.0), steady)
    model = FacilityModel.from_site(load_site("stargate-norway"), "phase-1")
    hourly = model.it_power_w(np.array([N / model.gpus * 0.85]))[0]
    np.testing.assert_allclose(r.it_power_w, hourly, rtol=1e-12)


def test_the_floor_raises_the_troughs_and_costs_energy(tmp_path: Path):
    run = load_run(_run_folder(tmp_path, {"gpu_power_floor_fraction": 0.8}))
    raw = rebuild_power(run, Window(600.0, 60.0, 0.1), {"training": SQUARE})
    floored = rebuild_power(run, Window(600.0, 60.0, 0.1), {"training": SQUARE}, floor_fraction=0.8)
    gpu = load_site("stargate-norway").gpu_model("GB300")
    floor_f = (0.8 * gpu.max_power_w - gpu.idle_power_w) / (gpu.max_power_w - gpu.idle_power_w)
    assert floor_f > SQUARE.comm_fraction  # the floor binds in the communication phase
    assert floored.it_power_w.max() == pytest.approx(raw.it_power_w.max(), rel=1e-12)
    assert floored.it_power_w.min() > raw.it_power_w.min()
    swing = floored.it_power_w.max() - floored.it_power_w.min()
    expect = (SQUARE.compute_fraction - floor_f) / (SQUARE.compute_fraction - SQUARE.comm_fraction)
    assert swing == pytest.approx(expect * (raw.it_power_w.max() - raw.it_power_w.min()), rel=1e-9)


def test_power_quality_reports_the_swing_and_what_smoothing_leaves(tmp_path: Path):
    smoothing = {"gpu_power_floor_fraction": 0.8, "ramp_limit_mw_per_s": 2.0}
    smoothing |= {"bess_power_mw": 20, "bess_energy_mwh": 10}
    folder = _run_folder(tmp_path, smoothing)
    run = load_run(folder)
    summary = run.summary
    summary["power_dynamics"]["power_profiles"] = {"training": SQUARE.model_dump()}
    (folder / "summary.json").write_text(json.dumps(summary))
    run = load_run(folder)
    result = power_quality(run, window_from(run, None, 600.0, 0.1))
    s = result.summary
    assert s["raw"]["max_swing_mw"] == pytest.approx(
        (result.raw.grid_power_w.max() - result.raw.grid_power_w.min()) / 1e6, rel=1e-9
    )
    assert s["smoothed"]["max_ramp_mw_per_s"] <= 2.0 + 1e-9
    assert s["smoothing_energy_mwh"] > 0
    assert (
        s["raw"]["band_variance_mw2"]["0.1-1 Hz"] > s["smoothed"]["band_variance_mw2"]["0.1-1 Hz"]
    )


def test_without_smoothing_settings_the_smoothed_power_is_the_raw_power(tmp_path: Path):
    run = load_run(_run_folder(tmp_path))
    result = power_quality(run, window_from(run, None, 120.0, 0.1))
    np.testing.assert_array_equal(result.smoothed.grid_w, result.raw.grid_power_w)
    assert result.summary["smoothing_energy_mwh"] == 0.0
    assert result.summary["rack_storage"]["broken_s"] == 0.0
    assert result.summary["bess"]["broken_s"] == 0.0
