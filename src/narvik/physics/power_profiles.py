"""Sub-second GPU power profiles of jobs: training iterations, diurnal inference, steady.

A synchronous training job alternates, every iteration, a compute-heavy phase
(each GPU works on its local batch) and a communication-heavy phase (all GPUs
exchange gradients). All its GPUs move together, so its power swings as one:
60,000 GB300 GPUs swinging 400-800 W each move 25-50 MW within a second
(Choukse et al., "Power Stabilization for AI Training Datacenters",
Microsoft/OpenAI/NVIDIA, arXiv 2508.14318, 2025, section 2 and figure 1:
production power of a training job on DGX-H100, with iteration periods of a
few seconds, swings between roughly half and full TDP, and deeper dips at
checkpoints). NVIDIA's GB300 NVL72 answers with rack power supplies that store
energy, a power floor and limited ramps at the start and end of a job (NVIDIA
technical blog, "How new GB300 NVL72 features provide steady power for AI",
2025); that smoothing is modelled elsewhere, the profiles here are the raw
demand of the GPUs.

Each job kind carries a :data:`PowerProfile`; :func:`job_power_fraction` turns
a profile, the job's start and end and a seed into the GPU power fraction of
the job on a time grid, one vectorised array per job (all GPUs of a job share
it). A fraction ``f`` is the GPU's place on its idle-to-max line,
``P = P_idle + f * (P_max - P_idle)`` (:func:`narvik.physics.it_power.gpu_power_w`,
after Fan et al., ISCA 2007).

Profiles:

* :class:`TrainingPowerProfile` - a square wave of period ``iteration_s``
  (jittered per job by its seed), ``compute_fraction`` for the first
  ``compute_share`` of each iteration and ``comm_fraction`` for the rest,
  a checkpoint dip to ``checkpoint_fraction`` for ``checkpoint_s`` every
  ``checkpoint_interval_s``, and a linear ramp from idle over ``ramp_s`` at
  the start and back to idle over ``ramp_s`` before the end.
* :class:`InferencePowerProfile` - a daily cosine around ``mean_fraction``
  peaking at ``peak_hour_utc``, times ``1 +`` a seeded Ornstein-Uhlenbeck
  request noise (relative std ``noise_fraction``, correlation time
  ``noise_corr_s``).
* :class:`SteadyPowerProfile` - a constant fraction (research jobs, traces).

Job kinds come from narvik's synthetic job ids (:func:`job_kind`,
:func:`job_kinds`); :data:`DEFAULT_PROFILES` maps them to GB300 profiles.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from scipy.signal import lfilter

from narvik.physics.it_power import gpu_power_w
from narvik.site.model import Site

__all__ = [
    "DAY_S",
    "DEFAULT_PROFILES",
    "JOB_KINDS",
    "InferencePowerProfile",
    "PowerProfile",
    "SteadyPowerProfile",
    "TrainingPowerProfile",
    "gpu_power_w",
    "job_gpu_power_w",
    "job_kind",
    "job_kinds",
    "job_power_fraction",
    "job_seed",
    "parse_power_profile",
]

DAY_S = 86_400.0
"""Seconds in a day."""

JOB_KINDS: tuple[str, ...] = ("training", "inference", "research")
"""Job kinds of narvik's synthetic workload (``TenantProfile.kind``)."""

_MIN_PERIOD_SHARE = 0.1
"""A jittered iteration period is never shorter than this share of ``iteration_s``."""


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TrainingPowerProfile(_Profile):
    """Synchronous training: compute and communication phases every iteration.

    Within a job the iteration phase is measured from ``start_s`` (the job
    starts at the top of an iteration) and runs on through checkpoints: a
    checkpoint overwrites the phases it covers rather than pausing them
    (a simplification; a real checkpoint shifts the later iterations).
    """

    kind: Literal["training"] = "training"
    iteration_s: float = Field(default=3.0, gt=0, description="iteration period, s")
    compute_share: float = Field(
        default=0.7, ge=0, le=1, description="share of each iteration in the compute phase"
    )
    compute_fraction: float = Field(
        default=0.95, ge=0, le=1, description="GPU power fraction in the compute phase"
    )
    comm_fraction: float = Field(
        default=0.35, ge=0, le=1, description="GPU power fraction in the communication phase"
    )
    jitter_fraction: float = Field(
        default=0.02,
        ge=0,
        lt=1,
        description="relative std of a job's iteration period (seeded, one draw per job)",
    )
    checkpoint_interval_s: float = Field(
        default=1_800.0, gt=0, description="time between checkpoints, s"
    )
    checkpoint_s: float = Field(
        default=30.0, ge=0, description="length of a checkpoint dip, s (0: no checkpoints)"
    )
    checkpoint_fraction: float = Field(
        default=0.15, ge=0, le=1, description="GPU power fraction during a checkpoint"
    )
    ramp_s: float = Field(
        default=30.0, ge=0, description="linear ramp from and to idle at the start and end, s"
    )

    @model_validator(mode="after")
    def _checkpoint_shorter_than_interval(self) -> Self:
        if self.checkpoint_s >= self.checkpoint_interval_s:
            raise ValueError(
                f"checkpoint_s ({self.checkpoint_s}) must be shorter than "
                f"checkpoint_interval_s ({self.checkpoint_interval_s})"
            )
        return self

    @property
    def mean_iteration_fraction(self) -> float:
        """Mean fraction over whole iterations (no checkpoint, no ramp)."""
        share = self.compute_share
        return share * self.compute_fraction + (1.0 - share) * self.comm_fraction


class InferencePowerProfile(_Profile):
    """Serving fleet: a daily cycle of request load with correlated noise.

    ``f(t) = mean_fraction * (1 + diurnal_amplitude * cos(2 pi (h - peak_hour_utc) / 24))
    * (1 + n(t))`` with ``h`` the UTC hour of day and ``n`` a stationary
    Ornstein-Uhlenbeck process of std ``noise_fraction`` and correlation time
    ``noise_corr_s``. The daily mean is ``mean_fraction``; the fraction is
    clipped to [0, 1] (the diurnal curve itself stays inside, see the validator).
    """

    kind: Literal["inference"] = "inference"
    mean_fraction: float = Field(default=0.6, ge=0, le=1, description="daily mean GPU fraction")
    diurnal_amplitude: float = Field(
        default=0.3, ge=0, le=1, description="relative amplitude of the daily cosine"
    )
    peak_hour_utc: float = Field(default=13.0, ge=0, lt=24, description="hour of the daily peak")
    noise_fraction: float = Field(
        default=0.05, ge=0, le=1, description="relative std of the request noise"
    )
    noise_corr_s: float = Field(
        default=10.0, ge=0, description="correlation time of the request noise, s"
    )

    @model_validator(mode="after")
    def _diurnal_peak_within_one(self) -> Self:
        peak = self.mean_fraction * (1.0 + self.diurnal_amplitude)
        if peak > 1.0 + 1e-12:
            raise ValueError(
                f"mean_fraction * (1 + diurnal_amplitude) = {peak:.3f} exceeds 1: the daily "
                "peak would be clipped and the daily mean would fall below mean_fraction"
            )
        return self


class SteadyPowerProfile(_Profile):
    """A constant GPU power fraction while the job runs."""

    kind: Literal["steady"] = "steady"
    fraction: float = Field(
        default=0.85, ge=0, le=1, description="GPU power fraction (narvik's busy utilisation)"
    )


PowerProfile = Annotated[
    TrainingPowerProfile | InferencePowerProfile | SteadyPowerProfile,
    Field(discriminator="kind"),
]
"""Any job power profile, told apart by its ``kind``."""

_PROFILE_ADAPTER: TypeAdapter[PowerProfile] = TypeAdapter(PowerProfile)


def parse_power_profile(data: object) -> PowerProfile:
    """A profile from a mapping such as a TOML table, by its ``kind`` (pydantic validation)."""
    return _PROFILE_ADAPTER.validate_python(data)


DEFAULT_PROFILES: dict[str, PowerProfile] = {
    "training": TrainingPowerProfile(),
    "inference": InferencePowerProfile(),
    "research": SteadyPowerProfile(),
}
"""GB300 profiles of narvik's job kinds.

``training`` (the anchor's gangs of 1,152-18,432 GPUs): iteration 3.0 s,
70 % compute at 0.95 and 30 % communication at 0.35 of the idle-to-max
range, i.e. about 1,338 W and 594 W on a 160-1,400 W GB300 (mean 0.77).
Choukse et al. 2025 (arXiv 2508.14318, figure 1 and section 2) report
iteration periods of a few seconds for large LLM training and swings between
roughly 50 % and 100 % of TDP, with checkpoints as deeper, longer dips; the
exact period, shares and levels here are assumptions within that range.
Jitter of 2 % between jobs' periods, a checkpoint every 30 min lasting 30 s
at 0.15, and a 30 s start/stop ramp are assumptions (the ramp stands for
job launch and teardown, not for the GB300's power smoothing, which is
modelled downstream).

``inference`` (serving fleets): daily mean 0.6 with a +-30 % cosine peaking
at 13:00 UTC (European afternoon, US East morning) and 5 % request noise
with a 10 s correlation time - all assumptions; serving load varies over the
day in production LLM inference traces (Stojkovic et al., "DynamoLLM",
HPCA 2025, arXiv 2408.00741, on Azure traces).

``research`` (many small jobs, and trace jobs): steady at 0.85, narvik's busy
GPU utilisation; small jobs are not synchronised with each other, so their
swings average out over a site (Choukse et al. 2025 name the synchronisation
of one large job as the cause of site-level swings).
"""


def job_seed(job_id: str, seed: int = 0) -> int:
    """A job's own seed from the run's seed and its id (stable across runs and platforms)."""
    return zlib.crc32(f"{seed}\x00{job_id}".encode())


def job_kind(job_id: str) -> str:
    """The kind of a synthetic job from its id ``f"{tenant}-{kind}-{seq}"``.

    Tenants may contain hyphens (``"no-startups-research-17"``) and jobs of a
    phase that comes online mid-run carry a ``"phase1-"`` prefix; so the kind
    is the second-to-last hyphen-separated part when it is one of
    :data:`JOB_KINDS`, the last part is a decimal ``seq`` and a tenant precedes
    them. Any other id (trace jobs: ``"user-7"``, ``"1234"``) is ``"research"``,
    whose default profile is steady.
    """
    parts = job_id.rsplit("-", 2)
    if len(parts) == 3 and parts[0] and parts[1] in JOB_KINDS and parts[2].isdecimal():
        return parts[1]
    return "research"


def job_kinds(job_ids: Sequence[str] | NDArray[np.object_]) -> NDArray[np.object_]:
    """:func:`job_kind` of each id, as an object array."""
    kinds = [job_kind(str(j)) for j in job_ids]
    out = np.empty(len(kinds), dtype=object)
    out[:] = kinds
    return out


def _training(
    p: TrainingPowerProfile,
    tau: NDArray[np.float64],
    left: NDArray[np.float64],
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Fraction of a training job at ``tau`` s after its start, ``left`` s before its end."""
    z = rng.standard_normal() if p.jitter_fraction > 0 else 0.0
    period = p.iteration_s * max(1.0 + p.jitter_fraction * z, _MIN_PERIOD_SHARE)
    phase = np.mod(tau, period)
    frac = np.where(phase < p.compute_share * period, p.compute_fraction, p.comm_fraction)
    if p.checkpoint_s > 0:
        dip = (tau >= p.checkpoint_interval_s) & (
            np.mod(tau, p.checkpoint_interval_s) < p.checkpoint_s
        )
        frac = np.where(dip, p.checkpoint_fraction, frac)
    if p.ramp_s > 0:
        frac = frac * np.clip(np.minimum(tau, left) / p.ramp_s, 0.0, 1.0)
    return frac


def _ou_noise(
    t: NDArray[np.float64], std: float, corr_s: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Stationary Ornstein-Uhlenbeck series of std ``std`` sampled on a uniform grid ``t``.

    Exact discretisation: ``x[k] = a x[k-1] + std sqrt(1 - a^2) e[k]`` with
    ``a = exp(-dt / corr_s)``, ``x[0] = std e[0]`` (Gillespie, "Exact numerical
    simulation of the Ornstein-Uhlenbeck process", Phys. Rev. E 54, 2084, 1996).
    """
    n = t.size
    e = rng.standard_normal(n)
    if n < 2 or corr_s == 0:
        return std * e
    steps = np.diff(t)
    dt = float(steps[0])
    if dt <= 0 or not np.allclose(steps, dt, rtol=1e-6, atol=1e-9):
        raise ValueError("inference noise needs a uniform, increasing time grid t_s")
    a = math.exp(-dt / corr_s)
    b = math.sqrt(1.0 - a * a)
    if b == 0:  # dt negligible against corr_s: the noise stays at its start value
        return np.full(n, std * e[0])
    e[0] /= b  # stationary start: x[0] = std * e[0]
    x: NDArray[np.float64] = lfilter([std * b], [1.0, -a], e)
    return x


def _inference(
    p: InferencePowerProfile,
    t: NDArray[np.float64],
    day_start_utc_s: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Fraction of a serving fleet at each instant of the run's grid ``t``."""
    hour = np.mod(t + day_start_utc_s, DAY_S) / 3600.0
    frac = p.mean_fraction * (
        1.0 + p.diurnal_amplitude * np.cos(2.0 * np.pi * (hour - p.peak_hour_utc) / 24.0)
    )
    if p.noise_fraction > 0:
        frac = frac * (1.0 + _ou_noise(t, p.noise_fraction, p.noise_corr_s, rng))
    return frac


def job_power_fraction(
    profile: PowerProfile,
    t_s: ArrayLike,
    start_s: float,
    end_s: float,
    *,
    seed: int,
    day_start_utc_s: float = 0.0,
) -> NDArray[np.float64]:
    """A job's GPU power fraction (0..1 of the idle-to-max range) at each instant of ``t_s``.

    ``t_s`` (s from the run's start, 1-D) is the time grid; the job runs on
    ``[start_s, end_s)`` (``end_s`` may be ``inf``) and the result is 0
    outside it, where the job's GPUs are not counted (the caller adds the
    idle power of idle GPUs). Inside, a fraction of 0 is an idle GPU (the
    ramps of a training job start and end there).
    ``day_start_utc_s`` is the UTC time at ``t_s = 0`` in seconds since a UTC
    midnight (a Unix time will do); only the inference profile's daily cycle
    uses it. The inference noise is drawn on the whole grid, which must then
    be uniform; so the same job on another grid has other noise.
    Deterministic for ``seed`` (see :func:`job_seed` for a per-job seed).

    Profiles: :class:`TrainingPowerProfile`, :class:`InferencePowerProfile`,
    :class:`SteadyPowerProfile` (Choukse et al. 2025, arXiv 2508.14318, for
    the training square wave).
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError(f"t_s must be 1-D, got shape {t.shape}")
    if not end_s >= start_s:
        raise ValueError(f"end_s ({end_s}) must not precede start_s ({start_s})")
    inside = (t >= start_s) & (t < end_s)
    rng = np.random.default_rng(seed)
    frac: NDArray[np.float64]
    if isinstance(profile, TrainingPowerProfile):
        frac = _training(profile, t - start_s, end_s - t, rng)
    elif isinstance(profile, InferencePowerProfile):
        frac = _inference(profile, t, day_start_utc_s, rng)
    elif isinstance(profile, SteadyPowerProfile):
        frac = np.full(t.shape, profile.fraction)
    else:
        raise TypeError(f"not a power profile: {type(profile).__name__}")
    return np.where(inside, np.clip(frac, 0.0, 1.0), 0.0)


def job_gpu_power_w(
    profile: PowerProfile,
    t_s: ArrayLike,
    start_s: float,
    end_s: float,
    *,
    seed: int,
    idle_power_w: float,
    max_power_w: float,
    day_start_utc_s: float = 0.0,
) -> NDArray[np.float64]:
    """Board power of one of the job's GPUs at each instant of ``t_s``, W; 0 outside the job.

    :func:`job_power_fraction` on the GPU's idle-to-max line
    (:func:`narvik.physics.it_power.gpu_power_w`, Fan et al., ISCA 2007).
    """
    t = np.asarray(t_s, dtype=np.float64)
    frac = job_power_fraction(
        profile, t, start_s, end_s, seed=seed, day_start_utc_s=day_start_utc_s
    )
    inside = (t >= start_s) & (t < end_s)
    return np.where(inside, gpu_power_w(frac, idle_power_w, max_power_w), 0.0)


def floor_in_range(floor_fraction: float, idle_power_w: float, max_power_w: float) -> float:
    """A GPU power floor given as a share of the GPU's busy (maximum) power, as a fraction
    of its idle-to-max range (0 when the floor is at or below idle power)."""
    if floor_fraction <= 0 or max_power_w <= idle_power_w:
        return 0.0
    lifted = (floor_fraction * max_power_w - idle_power_w) / (max_power_w - idle_power_w)
    return float(np.clip(lifted, 0.0, 1.0))


def mean_floor_lift(profile: PowerProfile, floor: float, *, seed: int = 0) -> float:
    """How much a GPU power floor (``floor``, a fraction of the range) raises a running
    job's mean power fraction: the mean of ``max(f, floor) - f`` over its steady state
    (training: one checkpoint interval at 0.1 s, long after its start ramp; inference: a
    UTC day at 1 s; steady: ``max(0, floor - fraction)``)."""
    if floor <= 0:
        return 0.0
    if isinstance(profile, SteadyPowerProfile):
        return max(0.0, floor - profile.fraction)
    if isinstance(profile, TrainingPowerProfile):
        t_s = np.arange(0.0, profile.checkpoint_interval_s, 0.1)
        start_s = -100.0 * profile.checkpoint_interval_s
    else:
        t_s = np.arange(0.0, DAY_S, 1.0)
        start_s = -DAY_S
    f = job_power_fraction(profile, t_s, start_s, math.inf, seed=seed)
    return float(np.mean(np.maximum(f, floor) - f))


def profile_for(
    kind: str, tenant: str, overrides: Mapping[str, PowerProfile], steady: float
) -> PowerProfile:
    """A job's profile: the scenario's for its tenant, else for its kind, else the default
    of its kind (research and unknown kinds: steady at the run's busy utilisation)."""
    if tenant in overrides:
        return overrides[tenant]
    if kind in overrides:
        return overrides[kind]
    if kind in ("training", "inference"):
        return DEFAULT_PROFILES[kind]
    return SteadyPowerProfile(fraction=steady)


def site_floor(site: Site, floor_fraction: float) -> float:
    """The site's GPU power floor as a fraction of its GPUs' idle-to-max range."""
    gpu = site.gpu_model(site.rack_types[0].gpu_model)
    return floor_in_range(floor_fraction, gpu.idle_power_w, gpu.max_power_w)
