"""The model's fixed parameters: time units, tiers and kinds, and each family's constants.

See the package docstring for where each figure comes from.
"""

from __future__ import annotations

DAY_S = 86_400.0
YEAR_S = 365 * DAY_S
WEEK_S = 7 * DAY_S

TIERS = ("anchor", "national", "regional")
KINDS = ("training", "inference", "research")

# --- research: Acme-shaped small jobs ---------------------------------------------------

RESEARCH_P_ONE_GPU = 0.6
RESEARCH_MAX_LOG2_GPUS = 10  # 1,024 GPUs
RESEARCH_MIN_RUNTIME_S = 60.0
RESEARCH_MAX_RUNTIME_S = 14 * DAY_S  # 1,209,600 s, a multiple of 900
RESEARCH_OVERESTIMATE_MAX = 5.0  # requested = runtime * U(1, 5)
RESEARCH_REQUEST_ROUND_S = 900.0
RESEARCH_GREEDY_MAX_JOBS = 50_000
"""At most this many of the heaviest research jobs are dealt out by deficit (the rest at random)."""

DIURNAL_AMPLITUDE = 0.5
DIURNAL_PEAK_UTC_S = 13 * 3600.0  # 14:00 CET

# --- training: the anchor's gangs of NVLink domains -------------------------------------

TRAINING_MIN_DOMAINS = 16
TRAINING_MAX_DOMAINS = 256
TRAINING_MAX_FLEET_FRACTION = 0.25
TRAINING_MEDIAN_S = 2 * DAY_S
TRAINING_SIGMA = 1.0
TRAINING_MIN_RUNTIME_S = 6 * 3600.0
TRAINING_MAX_RUNTIME_S = 21 * DAY_S
TRAINING_REQUEST_MARGIN = 1.10

# --- inference: steady serving fleets ----------------------------------------------------

INFERENCE_MIN_DOMAINS = 8
INFERENCE_MAX_DOMAINS = 32
INFERENCE_JOB_S = WEEK_S
