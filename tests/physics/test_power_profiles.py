import numpy as np
import pytest
from pydantic import ValidationError

from narvik.physics.power_profiles import (
    DEFAULT_PROFILES,
    InferencePowerProfile,
    SteadyPowerProfile,
    TrainingPowerProfile,
    job_gpu_power_w,
    job_kind,
    job_kinds,
    job_power_fraction,
    job_seed,
    parse_power_profile,
)

# A square wave: 3 s iterations, 70 % at 0.95, 30 % at 0.35; no jitter, checkpoint or ramp.
SQUARE = TrainingPowerProfile(
    iteration_s=3.0,
    compute_share=0.7,
    compute_fraction=0.95,
    comm_fraction=0.35,
    jitter_fraction=0.0,
    checkpoint_s=0.0,
    ramp_s=0.0,
)


def midpoints(t0: float, t1: float, dt: float) -> np.ndarray:
    """Grid at the middle of each dt-step of [t0, t1): no instant on a phase edge."""
    n = round((t1 - t0) / dt)
    return t0 + (np.arange(n) + 0.5) * dt


# --- training -------------------------------------------------------------------------


def test_square_wave_mean_over_whole_periods_is_the_share_weighted_mean():
    # 100 periods of 3 s on a 0.1 s grid: 21 of each 30 samples compute.
    # Hand: 0.7 * 0.95 + 0.3 * 0.35 = 0.665 + 0.105 = 0.77.
    t = midpoints(50.0, 350.0, 0.1)
    f = job_power_fraction(SQUARE, t, 50.0, 1e6, seed=1)
    assert f.mean() == pytest.approx(0.77, abs=1e-12)
    assert SQUARE.mean_iteration_fraction == pytest.approx(0.77)
    assert set(np.round(f, 12)) == {0.95, 0.35}
    # 21 / 30 of the samples in the compute phase.
    assert np.count_nonzero(f == 0.95) == 2100


def test_square_wave_values_at_chosen_instants():
    # Job from 50 s: phase = (t - 50) mod 3; compute while phase < 2.1 s.
    t = np.array([50.0, 51.0, 52.05, 52.2, 52.9, 53.0, 53.5, 55.0, 55.3, 350.0 + 2.5])
    f = job_power_fraction(SQUARE, t, 50.0, 1e6, seed=1)
    expected = [0.95, 0.95, 0.95, 0.35, 0.35, 0.95, 0.95, 0.95, 0.35, 0.35]
    assert f == pytest.approx(expected)


def test_zero_outside_the_job_including_its_end():
    t = np.array([0.0, 9.99, 10.0, 15.0, 19.99, 20.0, 30.0])
    f = job_power_fraction(SQUARE, t, 10.0, 20.0, seed=1)
    assert f[[0, 1, 5, 6]] == pytest.approx([0.0, 0.0, 0.0, 0.0])
    assert np.all(f[2:5] > 0)


@pytest.mark.parametrize(
    "profile",
    [SQUARE, InferencePowerProfile(), SteadyPowerProfile()],
    ids=["training", "inference", "steady"],
)
def test_every_profile_is_zero_outside_and_bounded_inside(profile):
    t = np.arange(0.0, 600.0, 0.5)
    f = job_power_fraction(profile, t, 100.0, 400.0, seed=3)
    outside = (t < 100.0) | (t >= 400.0)
    assert np.all(f[outside] == 0.0)
    assert np.all((f >= 0.0) & (f <= 1.0))
    assert f.dtype == np.float64 and f.shape == t.shape


def test_ramp_is_linear_from_idle_at_start_to_the_profile_at_start_plus_ramp():
    p = SQUARE.model_copy(update={"ramp_s": 30.0})
    start = 100.0
    t = start + np.array([0.0, 0.5, 6.0, 15.0, 22.5, 30.0, 31.0, 40.0])
    f = job_power_fraction(p, t, start, 1e6, seed=1)
    square = job_power_fraction(SQUARE, t, start, 1e6, seed=1)
    envelope = np.clip((t - start) / 30.0, 0.0, 1.0)
    assert f == pytest.approx(envelope * square)
    # By hand: t - start = 0.5 s is compute (phase 0.5 < 2.1): 0.95 * 0.5 / 30.
    assert f[1] == pytest.approx(0.95 / 60.0)
    # 6.0 s: phase 0.0 -> compute, 0.95 * 0.2 = 0.19; 22.5 s: phase 1.5 -> 0.95 * 0.75.
    assert f[2] == pytest.approx(0.19)
    assert f[4] == pytest.approx(0.7125)
    assert f[0] == 0.0
    assert f[5:] == pytest.approx(square[5:])


def test_ramp_back_to_idle_before_the_end():
    p = SQUARE.model_copy(update={"ramp_s": 30.0})
    end = 1000.0
    t = end - np.array([30.0, 15.0, 3.0, 0.001])
    f = job_power_fraction(p, t, 0.0, end, seed=1)
    square = job_power_fraction(SQUARE, t, 0.0, end, seed=1)
    assert f == pytest.approx(np.array([1.0, 0.5, 0.1, 0.001 / 30.0]) * square)


def test_checkpoint_dip_sits_at_multiples_of_the_interval_after_start():
    p = SQUARE.model_copy(
        update={"checkpoint_interval_s": 100.0, "checkpoint_s": 10.0, "checkpoint_fraction": 0.15}
    )
    start = 7.0
    t = midpoints(start, start + 450.0, 0.1)
    f = job_power_fraction(p, t, start, 1e6, seed=1)
    tau = t - start
    in_dip = (tau >= 100.0) & (np.mod(tau, 100.0) < 10.0)
    assert np.all(f[in_dip] == 0.15)
    assert np.all(f[~in_dip] != 0.15)
    # Dips at 100, 200, 300, 400 s after start (none at the start), each 10 s = 100 samples.
    assert np.count_nonzero(in_dip) == 400
    edges = np.flatnonzero(np.diff(in_dip.astype(int)) == 1) + 1
    assert tau[edges] == pytest.approx([100.05, 200.05, 300.05, 400.05])
    # Outside the dips the square wave is untouched.
    square = job_power_fraction(SQUARE, t, start, 1e6, seed=1)
    assert f[~in_dip] == pytest.approx(square[~in_dip])


def test_jitter_is_seeded_per_job():
    p = SQUARE.model_copy(update={"jitter_fraction": 0.02})
    t = midpoints(0.0, 600.0, 0.1)
    a = job_power_fraction(p, t, 0.0, 1e6, seed=11)
    b = job_power_fraction(p, t, 0.0, 1e6, seed=11)
    c = job_power_fraction(p, t, 0.0, 1e6, seed=12)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)

    def period(f: np.ndarray) -> float:
        # Mean time between rising edges (comm -> compute).
        rises = t[np.flatnonzero(np.diff(f) > 0) + 1]
        return float(np.diff(rises).mean())

    pa, pc = period(a), period(c)
    assert pa != pytest.approx(pc, abs=1e-3)
    # The period is iteration_s * (1 + 0.02 z) with z ~ N(0, 1) from the seed.
    rng = np.random.default_rng(11)
    assert pa == pytest.approx(3.0 * (1.0 + 0.02 * rng.standard_normal()), abs=0.01)
    for pp in (pa, pc):
        assert 3.0 * 0.9 < pp < 3.0 * 1.1


def test_job_gpu_power_is_fraction_on_the_idle_to_max_line():
    # GB300: 160-1,400 W. Compute 160 + 0.95 * 1240 = 1338 W; comm 160 + 0.35 * 1240 = 594 W.
    t = np.array([-1.0, 0.5, 2.5])
    w = job_gpu_power_w(SQUARE, t, 0.0, 10.0, seed=1, idle_power_w=160.0, max_power_w=1400.0)
    assert w == pytest.approx([0.0, 1338.0, 594.0])


# --- inference ------------------------------------------------------------------------


def test_inference_mean_over_a_utc_day_is_the_mean_fraction_and_peaks_at_peak_hour():
    p = InferencePowerProfile(
        mean_fraction=0.6, diurnal_amplitude=0.3, peak_hour_utc=13.0, noise_fraction=0.0
    )
    # The run starts at 06:00 UTC; one whole UTC day from 18 h into the run.
    day0 = 6 * 3600.0
    t = midpoints(18 * 3600.0, 42 * 3600.0, 10.0)
    f = job_power_fraction(p, t, 0.0, np.inf, seed=5, day_start_utc_s=day0)
    assert f.mean() == pytest.approx(0.6, rel=1e-9)
    hour_utc = np.mod(t[np.argmax(f)] + day0, 86_400.0) / 3600.0
    assert hour_utc == pytest.approx(13.0, abs=0.01)
    # Peak 0.6 * 1.3 = 0.78, trough 0.6 * 0.7 = 0.42 (at 01:00 UTC).
    assert f.max() == pytest.approx(0.78, abs=1e-6)
    assert f.min() == pytest.approx(0.42, abs=1e-6)


def test_inference_noise_has_its_std_and_correlation_time_and_averages_out():
    p = InferencePowerProfile(
        mean_fraction=0.5, diurnal_amplitude=0.0, noise_fraction=0.05, noise_corr_s=10.0
    )
    dt = 1.0
    t = np.arange(0.0, 86_400.0, dt)
    f = job_power_fraction(p, t, 0.0, np.inf, seed=9)
    n = f / 0.5 - 1.0
    # Std of the mean of an OU process over T: ~ 0.05 * sqrt(2 * 10 / 86400) = 0.00076.
    assert f.mean() == pytest.approx(0.5, rel=0.005)
    assert n.std() == pytest.approx(0.05, rel=0.1)
    # Autocorrelation at lag k: exp(-k dt / 10): 0.905 at 1 s, 0.368 at 10 s.
    nc = n - n.mean()

    def acf(k: int) -> float:
        return float(np.dot(nc[:-k], nc[k:]) / np.dot(nc, nc))

    assert acf(1) == pytest.approx(np.exp(-0.1), abs=0.02)
    assert acf(10) == pytest.approx(np.exp(-1.0), abs=0.06)
    assert abs(acf(100)) < 0.06


def test_inference_noise_is_seeded():
    p = InferencePowerProfile()
    t = np.arange(0.0, 3600.0, 0.1)
    a = job_power_fraction(p, t, 0.0, 3600.0, seed=1, day_start_utc_s=1.7e9)
    b = job_power_fraction(p, t, 0.0, 3600.0, seed=1, day_start_utc_s=1.7e9)
    c = job_power_fraction(p, t, 0.0, 3600.0, seed=2, day_start_utc_s=1.7e9)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_inference_noise_needs_a_uniform_grid():
    with pytest.raises(ValueError, match="uniform"):
        job_power_fraction(InferencePowerProfile(), [0.0, 1.0, 3.0], 0.0, 10.0, seed=1)
    # Without noise any grid will do.
    quiet = InferencePowerProfile(noise_fraction=0.0)
    assert job_power_fraction(quiet, [0.0, 1.0, 3.0], 0.0, 10.0, seed=1).shape == (3,)


# --- steady, defaults, parsing ----------------------------------------------------------


def test_steady_profile_is_constant_inside_the_job():
    t = np.arange(0.0, 100.0, 1.0)
    f = job_power_fraction(SteadyPowerProfile(), t, 20.0, 80.0, seed=0)
    assert np.all(f[20:80] == 0.85)
    assert np.all(f[:20] == 0.0) and np.all(f[80:] == 0.0)


def test_default_profiles_cover_the_job_kinds():
    assert set(DEFAULT_PROFILES) == {"training", "inference", "research"}
    assert DEFAULT_PROFILES["training"].kind == "training"
    assert DEFAULT_PROFILES["inference"].kind == "inference"
    assert DEFAULT_PROFILES["research"] == SteadyPowerProfile(fraction=0.85)
    tr = DEFAULT_PROFILES["training"]
    assert isinstance(tr, TrainingPowerProfile)
    # GB300 swing per GPU: (0.95 - 0.35) * (1400 - 160) W = 744 W.
    assert (tr.compute_fraction - tr.comm_fraction) * 1240.0 == pytest.approx(744.0)


def test_parse_power_profile_by_kind():
    p = parse_power_profile({"kind": "training", "iteration_s": 5.0})
    assert isinstance(p, TrainingPowerProfile) and p.iteration_s == 5.0
    assert parse_power_profile({"kind": "steady"}) == SteadyPowerProfile()
    with pytest.raises(ValidationError):
        parse_power_profile({"kind": "bursty"})


def test_profiles_are_frozen():
    with pytest.raises(ValidationError):
        SQUARE.iteration_s = 4.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (TrainingPowerProfile, {"compute_share": 1.2}),
        (TrainingPowerProfile, {"compute_share": -0.1}),
        (TrainingPowerProfile, {"compute_fraction": 1.5}),
        (TrainingPowerProfile, {"comm_fraction": -0.2}),
        (TrainingPowerProfile, {"checkpoint_fraction": 2.0}),
        (TrainingPowerProfile, {"iteration_s": 0.0}),
        (TrainingPowerProfile, {"iteration_s": -3.0}),
        (TrainingPowerProfile, {"iteration_s": float("nan")}),
        (TrainingPowerProfile, {"checkpoint_interval_s": -1.0}),
        (TrainingPowerProfile, {"checkpoint_s": -1.0}),
        (TrainingPowerProfile, {"checkpoint_s": 2000.0}),
        (TrainingPowerProfile, {"ramp_s": -5.0}),
        (TrainingPowerProfile, {"jitter_fraction": -0.01}),
        (TrainingPowerProfile, {"kind": "inference"}),
        (TrainingPowerProfile, {"iteration": 3.0}),
        (InferencePowerProfile, {"mean_fraction": 1.1}),
        (InferencePowerProfile, {"diurnal_amplitude": -0.3}),
        (InferencePowerProfile, {"mean_fraction": 0.9, "diurnal_amplitude": 0.3}),
        (InferencePowerProfile, {"peak_hour_utc": 24.0}),
        (InferencePowerProfile, {"noise_fraction": -0.05}),
        (InferencePowerProfile, {"noise_corr_s": -10.0}),
        (SteadyPowerProfile, {"fraction": 1.01}),
        (SteadyPowerProfile, {"fraction": -0.01}),
    ],
)
def test_bad_fields_are_rejected(cls, fields):
    with pytest.raises(ValidationError):
        cls(**fields)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="1-D"):
        job_power_fraction(SQUARE, np.zeros((2, 2)), 0.0, 1.0, seed=0)
    with pytest.raises(ValueError, match="precede"):
        job_power_fraction(SQUARE, [0.0], 5.0, 1.0, seed=0)


# --- job kinds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job_id", "kind"),
    [
        ("openai-training-3", "training"),
        ("openai-inference-12", "inference"),
        ("sigma2-research-1", "research"),
        ("no-startups-research-17", "research"),
        ("phase1-openai-inference-2", "inference"),
        ("phase1-openai-training-40", "training"),
        ("uk-public-sector-training-5", "training"),
        ("user-7", "research"),
        ("1234", "research"),
        ("", "research"),
        ("training-3", "research"),
        ("openai-training-x", "research"),
        ("openai-batch-3", "research"),
    ],
)
def test_job_kind_from_synthetic_ids(job_id, kind):
    assert job_kind(job_id) == kind


def test_job_kinds_is_the_elementwise_job_kind():
    ids = ["openai-training-3", "no-startups-research-17", "phase1-openai-inference-2", "1234"]
    out = job_kinds(ids)
    assert out.dtype == object
    assert list(out) == ["training", "research", "inference", "research"]
    assert list(job_kinds(np.array(ids, dtype=object))) == list(out)
    assert job_kinds([]).shape == (0,)


def test_job_seed_is_stable_and_distinct():
    assert job_seed("openai-training-3", 7) == job_seed("openai-training-3", 7)
    assert job_seed("openai-training-3", 7) != job_seed("openai-training-4", 7)
    assert job_seed("openai-training-3", 7) != job_seed("openai-training-3", 8)
