"""The figures of the report about waiting: the queue over time and waits per group.

Pure functions from arrays to plotly figures and arrays, in the style of
:mod:`narvik.kpi.plots` (title, axis titles with units, named traces, the warm-up
shaded on figures over time). :mod:`narvik.kpi.report` reads the run folder and
lays them out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike, NDArray

from narvik.kpi.plots import (
    MAX_POWER_POINTS,
    StepSeries,
    TimeBins,
    add_mean_and_peak,
    base_layout,
    mark_warmup,
)

#: Most bins of the queue figure (a year of hourly samples stays hourly).
MAX_QUEUE_POINTS = MAX_POWER_POINTS


def queue_figure(
    t_s: ArrayLike,
    queued_jobs: ArrayLike,
    span_s: float,
    start_date: dt.date | None = None,
    warmup_s: float = 0.0,
) -> go.Figure:
    """Jobs waiting in the queue over time, one value per step of ``t_s``.

    ``queued_jobs[i]`` is the queue length the step starting at ``t_s[i]`` recorded
    (``timeseries.parquet``: the jobs submitted and not yet started at its end). Up to
    :data:`MAX_QUEUE_POINTS` steps are drawn as they are; beyond, bins show the mean
    and, as a thin line, the peak within each bin, so no surge is averaged away. The
    warm-up is shaded (:func:`~narvik.kpi.plots.mark_warmup`).
    """
    series = StepSeries.of(t_s, queued_jobs)
    bins = TimeBins.of(series.t_s, span_s, MAX_QUEUE_POINTS, start_date)
    mean_hover = "%{y:,.1f} jobs" if bins.binned else "%{y:,.0f} jobs"
    fig = add_mean_and_peak(
        go.Figure(), series, bins, "Jobs waiting", (mean_hover, "%{y:,.0f} jobs")
    )
    base_layout(fig, "Jobs waiting in the queue", bins.x_title, "Jobs waiting (jobs)")
    fig.update_layout(hovermode="x unified")
    fig.update_yaxes(rangemode="tozero")
    return mark_warmup(fig, warmup_s, start_date)


def waits_by_group(
    code: ArrayLike,
    names: Sequence[str],
    submit_s: ArrayLike,
    start_s: ArrayLike,
    counted: ArrayLike,
    order: Sequence[str] = (),
) -> dict[str, NDArray[np.float64]]:
    """The waits (first start - submit, s) of the started, ``counted`` jobs per group.

    ``code`` gives each job's group as an index into ``names`` (-1: none, left out).
    Groups of ``order`` come first (when they have such a job), then the others,
    sorted.
    """
    idx = np.asarray(code, dtype=np.int64)
    sub = np.asarray(submit_s, dtype=np.float64)
    start = np.asarray(start_s, dtype=np.float64)
    keep = np.asarray(counted, dtype=bool) & np.isfinite(start) & (idx >= 0)
    if not (idx.shape == sub.shape == start.shape == keep.shape):
        raise ValueError("code, submit_s, start_s and counted must have one length")
    wait = start - sub
    present = {str(names[i]): int(i) for i in np.unique(idx[keep])}
    ordered = [n for n in order if n in present]
    ordered += sorted(set(present) - set(ordered))
    return {n: wait[keep & (idx == present[n])] for n in ordered}
