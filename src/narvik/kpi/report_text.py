"""Sentences of the report that depend on the run: what its waits, guarantee hours and
start SLO measure, and what drives its PUE.

Pure functions from the ``summary.json`` dict (and a few totals of the time series) to
plain text; :mod:`narvik.kpi.report` escapes and lays it out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from narvik.units import SECONDS_PER_HOUR

#: The HTML id of the table the reading guide points to.
GUARANTEE_WAITS_KEY = "tenancy-waits-guarantee"

#: What the three tenancy measures that can look contradictory measure, in plain words.
READING_GUIDE: tuple[tuple[str, str], ...] = (
    (
        "Guarantee met (hours)",
        "an hour counts as met when the tenant got every GPU of its guarantee it asked "
        "for: each of its jobs that fit its unused guarantee started within the grace "
        "period. It says nothing about the tenant's work beyond its guarantee.",
    ),
    (
        "Start SLO attainment (%)",
        "the share of the jobs that fit their tenant's unused guarantee when they were "
        "submitted that started within their tier's start SLO. Work beyond the guarantee "
        "is not in it.",
    ),
    (
        "Waits (mean, p50, p95)",
        "every job that started, including work beyond its tenant's guarantee. That work "
        "runs only on capacity other tenants leave idle (borrowed, and preemptible) and "
        "may wait long, hours or days, while the site is full. A long p95 wait can "
        "therefore sit beside a guarantee met in every hour and a start SLO near 100%.",
    ),
)


@dataclass(frozen=True)
class ChillerUse:
    """The trim chillers over the steps of a figure: energy (None: not recorded) and
    the steps in which they ran (None: not known) out of ``steps``."""

    energy_mwh: float | None
    steps_on: int | None = None
    steps: int | None = None


def _h(value_s: Any) -> str:
    if not isinstance(value_s, int | float) or isinstance(value_s, bool):
        return "–"
    v = float(value_s) / SECONDS_PER_HOUR
    return "–" if not math.isfinite(v) else f"{v:,.2f} h"


def _side(name: str, side: Any) -> str:
    side = side if isinstance(side, Mapping) else {}
    jobs = side.get("jobs")
    started = side.get("jobs_started")
    if not isinstance(jobs, int) or not jobs:
        return f"no job {name}"
    count = f"{started:,} of {jobs:,} jobs {name} started" if isinstance(started, int) else ""
    if not started:
        return count
    return f"{count}, p95 wait {_h(side.get('p95_s'))}"


def guarantee_lines(tenancy: Mapping[str, Any]) -> list[str]:
    """One sentence per tenant with a quota: its guarantee hours beside the waits of
    its work inside and beyond the guarantee (``waits_by_guarantee``); [] without them."""
    hours = tenancy.get("guarantee_hours")
    waits = tenancy.get("waits_by_guarantee")
    if not isinstance(hours, Mapping) or not isinstance(waits, Mapping):
        return []
    lines = []
    for tenant, g in hours.items():
        w = waits.get(tenant)
        if not isinstance(g, Mapping) or not isinstance(w, Mapping):
            continue
        met, total = g.get("hours_met"), g.get("hours")
        kept = f"{met:,} of {total:,} h" if isinstance(met, int) and isinstance(total, int) else "–"
        lines.append(
            f"{tenant}: guarantee met in {kept}; "
            f"{_side('inside the guarantee', w.get('inside'))}; "
            f"{_side('beyond it', w.get('beyond'))}."
        )
    return lines


_FANS = (
    "PUE rises with the outdoor temperature because the dry-cooler fans must move more "
    "air as the outdoor air gets closer to the temperature of the returning coolant (fan "
    "power grows with the cube of fan speed), and in cold weather the heat offtakers take "
    "heat the dry coolers then need not reject. At a given temperature, points lie higher "
    "when fewer GPUs are busy: fixed loads (ancillary power, the transformers' no-load "
    "losses, the fans' minimum speed) and the UPS losses weigh more on a smaller IT load."
)


def pue_how_to_read(chillers: ChillerUse, warmup: bool) -> str:
    """How to read the PUE scatter of a run, naming the trim chillers only when they ran."""
    text = "One point per step: PUE (facility power / IT power) against the outdoor temperature. "
    if chillers.energy_mwh is None:
        text += (
            "Above the temperature at which the dry coolers can no longer reject all the "
            "heat, trim chillers take over the rest. "
        )
    elif chillers.energy_mwh > 0:
        steps = (
            f" in {chillers.steps_on:,} of {chillers.steps:,} steps"
            if chillers.steps_on is not None and chillers.steps is not None
            else ""
        )
        text += (
            f"The trim chillers ran{steps} ({chillers.energy_mwh:,.1f} MWh): in those "
            "steps the dry coolers could not reject all the heat, and the steep rise at the "
            "highest temperatures is the chillers taking over the rest. "
        )
    else:
        text += (
            "The trim chillers never ran (0 MWh): the dry coolers rejected all the heat in "
            "every step (free cooling throughout the run). "
        )
    text += _FANS
    if warmup:
        text += " Grey points are the steps of the warm-up, which the KPIs leave out."
    return text
