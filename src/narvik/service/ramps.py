"""Quota ramps as stored: ``[[first day (ISO date), guaranteed GPUs], ...]`` in date order."""

from __future__ import annotations

import datetime as dt
from typing import Any


def quota_at(quota: list[Any], day: dt.date) -> int:
    """Guaranteed GPUs on ``day`` (0 before the first step)."""
    gpus = 0
    for start, q in quota:
        if dt.date.fromisoformat(str(start)) <= day:
            gpus = int(q)
    return gpus
