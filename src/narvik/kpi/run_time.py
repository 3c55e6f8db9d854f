"""Wall-clock time of a run's rows, and ``offtakers.parquet``: heat per offtaker, long.

A run starts on its scenario's ``start_date`` at 00:00 UTC; a row at ``t_s`` seconds
into the run lies at that instant plus ``t_s``. :func:`time_array` gives the ``time``
column (UTC, millisecond resolution) that the run's tables carry beside ``t_s``.

``offtakers.parquet`` holds the heat demand and delivery of every offtaker in one long
table, a row per physics step and offtaker, with the values of the wide
``heat_demand_w[<offtaker>]`` / ``heat_delivered_w[<offtaker>]`` columns of
``timeseries.parquet`` (physical sites only: a flat pool has no heat).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike

from narvik.kpi.warmup import warmup_s
from narvik.scenario import Results
from narvik.site import Site

TIME_TYPE = pa.timestamp("ms", tz="UTC")
"""Type of the ``time`` column: UTC instants to the millisecond."""
OFFTAKERS_FILE = "offtakers.parquet"
_EPOCH = dt.date(1970, 1, 1)
_MS_PER_DAY = 86_400_000


def time_array(start_date: dt.date, t_s: ArrayLike) -> pa.Array:
    """The UTC instants ``start_date`` 00:00 UTC + ``t_s`` (s), rounded to the ms."""
    start_ms = (start_date - _EPOCH).days * _MS_PER_DAY
    offset_ms = np.rint(np.asarray(t_s, dtype=np.float64) * 1000.0).astype(np.int64)
    return pa.array(start_ms + offset_ms, TIME_TYPE)


def with_time(table: pa.Table, start_date: dt.date) -> pa.Table:
    """``table`` with a ``time`` column from its ``t_s``, placed right after ``t_s``."""
    at = table.schema.get_field_index("t_s") + 1
    return table.add_column(at, "time", time_array(start_date, table.column("t_s").to_numpy()))


def run_offtakers_table(results: Results) -> pa.Table | None:
    """``offtakers.parquet``: ``time``, ``t_s``, ``offtaker``, ``demand_w``,
    ``delivered_w`` and ``in_warmup``, a row per step and offtaker (step by step, the
    offtakers in the site's order); None for a flat pool (no physics steps)."""
    steps = results.steps
    if steps is None:
        return None
    names = [o.name for o in cast(Site, results.site).active_offtakers]  # steps: a physical site
    f = steps.facility
    t_s = np.repeat(np.asarray(steps.t_s, dtype=np.float64), len(names))
    shape = (len(names), len(steps.t_s))  # offtaker by step
    demand = np.asarray(f.offtaker_demand_w, dtype=np.float64).reshape(shape)
    delivered = np.asarray(f.offtaker_delivered_w, dtype=np.float64).reshape(shape)
    offtaker = np.tile(np.array(names, dtype=object), len(steps.t_s))
    return pa.table(
        {
            "time": time_array(results.spec.start_date, t_s),
            "t_s": pa.array(t_s, pa.float64()),
            "offtaker": pa.array(offtaker, pa.string()),
            "demand_w": pa.array(demand.T.ravel(), pa.float64()),
            "delivered_w": pa.array(delivered.T.ravel(), pa.float64()),
            "in_warmup": pa.array(t_s < warmup_s(results), pa.bool_()),
        }
    )
