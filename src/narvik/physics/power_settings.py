"""Settings of a site's power dynamics, read from a scenario: power smoothing and the grid
code it must keep (the ``[power_smoothing]`` and ``[grid_code]`` tables).

Power smoothing follows NVIDIA's GB300 NVL72 power smoothing (a GPU power floor, ramp-rate
limits held by energy storage in the rack power supplies; NVIDIA technical blog, "How new
GB300 NVL72 features provide steady power for AI", 2025) and the mitigations reviewed by
Choukse et al., "Power Stabilization for AI Training Datacenters" (arXiv 2508.14318, 2025),
including a site battery. The grid code's limits are the scenario's: Statnett's
requirements for large consumers are agreed per connection (they are not a published
number); 5 MW/s and 20 MW in 10 s are this project's defaults for a 230 MW connection.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MW = 1e6
MWH_J = 3.6e9


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PowerSmoothing(_Model):
    """The smoothing a site applies to the power its jobs draw."""

    gpu_power_floor_fraction: float = Field(
        default=0.0, ge=0, le=1, description="GPUs never drop below this share of busy power"
    )
    ramp_limit_mw_per_s: float | None = Field(
        default=None, gt=0, description="site ramp limit held by the rack PSU storage, MW/s"
    )
    rack_storage_mwh: float = Field(
        default=0.06,
        ge=0,
        description="energy storage of all rack power supplies together, MWh (assumption: "
        "about 150 kJ per NVL72 rack, a second of its full power)",
    )
    ramp_tau_s: float = Field(
        default=20.0,
        ge=0,
        description="the ramp limiter steers the grid towards this low-pass of the demand, s",
    )
    bess_power_mw: float = Field(default=0.0, ge=0, description="site battery power, MW")
    bess_energy_mwh: float = Field(default=0.0, ge=0, description="site battery energy, MWh")
    bess_tau_s: float = Field(
        default=60.0, gt=0, description="the battery holds the grid at this low-pass of demand"
    )


class GridCode(_Model):
    """Limits the grid operator sets on the site's power."""

    max_ramp_mw_per_s: float = Field(default=5.0, gt=0, description="largest ramp, MW/s")
    max_swing_mw: float = Field(default=20.0, gt=0, description="largest swing in 10 s, MW")
    swing_window_s: float = Field(default=10.0, gt=0, description="window of the swing, s")
