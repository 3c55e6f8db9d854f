"""The figures of the simulation report: pure functions from run data to plotly figures.

Nothing here reads or writes files: :mod:`narvik.kpi.report` turns the files of
a run folder into the arrays below, and the same functions can feed a notebook
or the dashboard. Every figure has a title, axis titles with their units and a
legend in which every trace is named.

Time series are piecewise constant (:class:`StepSeries`: each value holds from
its instant to the next one). Before plotting they are averaged over uniform
bins, exactly (by sampling the cumulative integral at the bin edges), with the
narrowest bin width of :data:`BIN_LADDER_S` that keeps the figure below a point
budget, so a year of hourly steps becomes daily means and two days stay hourly.
The output is a deterministic function of the input: no sampling at random.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike, NDArray

from narvik.units import J_PER_MWH, SECONDS_PER_DAY, SECONDS_PER_HOUR, W_PER_MW

#: Candidate bin widths of time series, narrowest first (s).
BIN_LADDER_S: tuple[float, ...] = (
    60.0,
    300.0,
    900.0,
    3600.0,
    3 * 3600.0,
    6 * 3600.0,
    12 * 3600.0,
    SECONDS_PER_DAY,
    7 * SECONDS_PER_DAY,
)
#: Most bins in the utilisation figure (two weeks stay hourly, a year becomes daily means).
MAX_UTILISATION_POINTS = 400
#: Most bins in the power figure (a year of hourly steps stays hourly).
MAX_POWER_POINTS = 10_000
#: Most points in the PUE scatter before a deterministic stride thins it.
MAX_SCATTER_POINTS = 20_000
#: Most points drawn per ECDF curve of the wait figure (quantiles, not a sample).
MAX_ECDF_POINTS = 2000
#: Waits shorter than this are drawn at this value on the log axis (s).
MIN_WAIT_S = 1.0
#: Heat bars are per day up to this span, per calendar month beyond (s).
DAILY_HEAT_MAX_SPAN_S = 31 * SECONDS_PER_DAY

#: Colour of the warm-up: its band on figures over time, its points in the PUE scatter.
WARMUP_COLOR = "#7f8c8d"
#: Label of the warm-up band.
WARMUP_LABEL = "warm-up (not in the KPIs)"
#: Height of a line of warm-up labels stacked on one figure (px).
WARMUP_LABEL_ROW_PX = 15

FIGURE_HEIGHT_PX = 460
TEMPLATE = "plotly_white"
#: Colour-blind-safe qualitative palette (Okabe and Ito, 2008), then Tableau 10.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#4E79A7",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#BAB0AC",
)
#: Meteorological seasons of the northern hemisphere, by month (1..12).
SEASONS: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("Winter (Dec-Feb)", (12, 1, 2), "#0072B2"),
    ("Spring (Mar-May)", (3, 4, 5), "#009E73"),
    ("Summer (Jun-Aug)", (6, 7, 8), "#D55E00"),
    ("Autumn (Sep-Nov)", (9, 10, 11), "#E69F00"),
)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class StepSeries:
    """A piecewise-constant series: ``value[i]`` holds from ``t_s[i]`` to ``t_s[i + 1]``.

    The last value holds to the end of the run; before ``t_s[0]`` the series is 0.
    ``t_s`` (s from the start of the run) must be non-decreasing.
    """

    t_s: FloatArray
    value: FloatArray

    @classmethod
    def of(cls, t_s: ArrayLike, value: ArrayLike) -> StepSeries:
        """Build from array-likes (copied to float64)."""
        t = np.asarray(t_s, dtype=np.float64)
        v = np.asarray(value, dtype=np.float64)
        if t.shape != v.shape or t.ndim != 1:
            raise ValueError("StepSeries: t_s and value must be 1-D arrays of equal length")
        return cls(t_s=t, value=v)


@dataclass(frozen=True)
class KpiRow:
    """One line of the KPI table: the group it belongs to, its label, value and unit."""

    group: str
    label: str
    value: str
    unit: str


# --------------------------------------------------------------------------- helpers


def busy_gpus_series(start_s: ArrayLike, end_s: ArrayLike, gpus: ArrayLike) -> StepSeries:
    """Busy GPUs over time from job starts and ends (NaN start: never ran; NaN end: running)."""
    s = np.asarray(start_s, dtype=np.float64)
    e = np.asarray(end_s, dtype=np.float64)
    g = np.asarray(gpus, dtype=np.float64)
    ok = np.isfinite(s)
    s, e, g = s[ok], e[ok], g[ok]
    ends = np.isfinite(e)
    t = np.concatenate([s, e[ends]])
    d = np.concatenate([g, -g[ends]])
    order = np.argsort(t, kind="stable")
    t, d = t[order], d[order]
    level = np.cumsum(d)
    if t.size:
        # one row per instant: the level after all events at that instant
        last = np.r_[t[1:] != t[:-1], True]
        t, level = t[last], level[last]
    return StepSeries(t_s=t, value=level)


def choose_bin_width_s(span_s: float, max_points: int, min_width_s: float = 0.0) -> float:
    """The narrowest width of :data:`BIN_LADDER_S` (at least ``min_width_s``) within budget."""
    for width in BIN_LADDER_S:
        if width >= min_width_s and span_s / width <= max_points:
            return width
    days = math.ceil(span_s / max_points / SECONDS_PER_DAY)
    return max(float(days) * SECONDS_PER_DAY, min_width_s)


def native_step_s(t_s: FloatArray) -> float:
    """The median spacing of the instants of a regular series (0 for fewer than 2)."""
    if t_s.size < 2:
        return 0.0
    return float(np.median(np.diff(t_s)))


def bin_edges_s(span_s: float, width_s: float) -> FloatArray:
    """Uniform bin edges from 0 to ``span_s`` (the last bin may be shorter)."""
    n = max(1, math.ceil(span_s / width_s - 1e-9))
    return np.minimum(np.arange(n + 1, dtype=np.float64) * width_s, span_s)


def bin_mean(series: StepSeries, edges_s: FloatArray) -> FloatArray:
    """Exact time-weighted mean of ``series`` over each interval between ``edges_s``."""
    t, v = series.t_s, np.nan_to_num(series.value, nan=0.0)
    width = np.diff(edges_s)
    if t.size == 0:
        return np.zeros(width.shape[0])
    area = np.concatenate([[0.0], np.cumsum(v[:-1] * np.diff(t))])
    cum = np.interp(edges_s, t, area, left=0.0)
    after = edges_s > t[-1]
    cum[after] = area[-1] + v[-1] * (edges_s[after] - t[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.diff(cum) / width
    return np.where(width > 0, mean, 0.0)


def bin_max(series: StepSeries, edges_s: FloatArray) -> FloatArray:
    """The largest value ``series`` takes within each interval between ``edges_s``."""
    keep = series.t_s < edges_s[-1]
    t, v = series.t_s[keep], np.nan_to_num(series.value[keep], nan=0.0)
    n = edges_s.shape[0] - 1
    if t.size == 0:
        return np.zeros(n)
    first = np.clip(np.searchsorted(t, edges_s[:-1], side="right") - 1, 0, None)
    last = np.clip(np.searchsorted(t, edges_s[1:], side="left") - 1, 0, None)
    last = np.maximum(last, first)
    return np.maximum(np.maximum.reduceat(v, first), v[last])


def _start_datetime(start_date: dt.date | None) -> dt.datetime | None:
    if start_date is None:
        return None
    return dt.datetime(start_date.year, start_date.month, start_date.day)


def _time_axis(start_date: dt.date | None, width_s: float) -> tuple[Any, float, str]:
    """``x0``, ``dx`` and the axis title of bins of ``width_s`` drawn at their midpoints."""
    start = _start_datetime(start_date)
    if start is None:
        return width_s / 2 / SECONDS_PER_DAY, width_s / SECONDS_PER_DAY, "Time since start (days)"
    x0 = (start + dt.timedelta(seconds=width_s / 2)).isoformat(sep=" ")
    return x0, width_s * 1000.0, "Date (UTC)"


def _months(t_s: FloatArray, start_date: dt.date) -> NDArray[np.int64]:
    when = np.datetime64(start_date, "s") + np.floor(t_s).astype("timedelta64[s]")
    return when.astype("datetime64[M]").astype(np.int64) % 12 + 1


def base_layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        showlegend=True,
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.0,
            "xanchor": "left",
            "x": 0.0,
            "bgcolor": "rgba(255,255,255,0.8)",
            "itemsizing": "constant",
        },
        height=FIGURE_HEIGHT_PX,
        margin={"l": 70, "r": 30, "t": 95, "b": 60},
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13},
    )
    return fig


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[k : k + 2], 16) for k in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class TimeBins:
    """The uniform bins of a figure over time and the x axis they are drawn on.

    ``binned``: the bins are wider than the series' own steps (or the series has fewer
    than two instants), so a bin's mean may hide its peak.
    """

    edges_s: FloatArray
    x0: Any
    dx: float
    x_title: str
    binned: bool

    @classmethod
    def of(
        cls, t_s: FloatArray, span_s: float, max_points: int, start_date: dt.date | None
    ) -> TimeBins:
        """The bins of :func:`choose_bin_width_s` for a series sampled at ``t_s``."""
        native = native_step_s(t_s)
        width = choose_bin_width_s(span_s, max_points, native)
        x0, dx, x_title = _time_axis(start_date, width)
        binned = native == 0.0 or width > native * (1 + 1e-9)
        return cls(bin_edges_s(span_s, width), x0, dx, x_title, binned)


def add_mean_and_peak(
    fig: go.Figure,
    series: StepSeries,
    bins: TimeBins,
    name: str,
    hovertemplates: tuple[str, str],
    divisor: float = 1.0,
) -> go.Figure:
    """Add ``series / divisor`` averaged over each bin as a line named ``name`` and, when
    the bins are wider than its steps, the peak within each bin as a thin pale line, so
    no surge is averaged away. ``hovertemplates``: of the mean line, of the peak line."""
    fig.add_trace(
        go.Scatter(
            x0=bins.x0,
            dx=bins.dx,
            y=bin_mean(series, bins.edges_s) / divisor,
            name=name + (" (mean per bin)" if bins.binned else ""),
            mode="lines",
            line={"width": 1.5, "color": _color(0)},
            hovertemplate=hovertemplates[0],
        )
    )
    if bins.binned:
        fig.add_trace(
            go.Scatter(
                x0=bins.x0,
                dx=bins.dx,
                y=bin_max(series, bins.edges_s) / divisor,
                name=f"{name} (peak per bin)",
                mode="lines",
                line={"width": 0.8, "color": _rgba(_color(0), 0.5)},
                hovertemplate=hovertemplates[1],
            )
        )
    return fig


def mark_warmup(
    fig: go.Figure,
    warmup_s: float,
    start_date: dt.date | None = None,
    *,
    label: str = WARMUP_LABEL,
    label_row: int = 0,
) -> go.Figure:
    """Shade the warm-up, from the start of the run to ``warmup_s``, on a figure over time
    (the time axis of :func:`utilisation_figure` and :func:`power_figure`); the KPIs leave
    it out. Nothing to shade without a warm-up. ``label`` is written at the band's top
    left, ``label_row`` lines lower (to stack the labels of several bands)."""
    if warmup_s <= 0:
        return fig
    start = _start_datetime(start_date)
    x0: Any
    x1: Any
    if start is None:
        x0, x1 = 0.0, warmup_s / SECONDS_PER_DAY
    else:
        x0 = start.isoformat(sep=" ")
        x1 = (start + dt.timedelta(seconds=warmup_s)).isoformat(sep=" ")
    return _warmup_band(fig, x0, x1, label, label_row)


def _warmup_band(
    fig: go.Figure, x0: Any, x1: Any, label: str = WARMUP_LABEL, label_row: int = 0
) -> go.Figure:
    shift = {"annotation_yshift": -WARMUP_LABEL_ROW_PX * label_row} if label_row else {}
    fig.add_vrect(
        x0=x0,
        x1=x1,
        fillcolor=WARMUP_COLOR,
        opacity=0.18,
        layer="below",
        line_width=0,
        annotation_text=label,
        annotation_position="top left",
        annotation_font_size=11,
        **shift,
    )
    return fig


def mark_warmup_bins(fig: go.Figure, bin_of_step: ArrayLike, warm: ArrayLike) -> go.Figure:
    """Shade the warm-up on a figure of bars over time on a category axis (one category
    per bin, in order): the band covers, in each bin, the share of its steps that lie in
    the warm-up (``warm``), so it ends within the bar of the bin the warm-up ends in."""
    bins = np.asarray(bin_of_step, dtype=np.int64)
    w = np.asarray(warm, dtype=bool)
    if not w.any():
        return fig
    steps = np.bincount(bins)
    before = np.bincount(bins, weights=w, minlength=steps.size)
    share = np.divide(before, steps, out=np.zeros(steps.size), where=steps > 0)
    return _warmup_band(fig, -0.5, float(share.sum()) - 0.5)


def utilisation_figure(
    busy_by_tier: Mapping[str, StepSeries],
    fleet_gpus: float | StepSeries,
    span_s: float,
    start_date: dt.date | None = None,
    busy_total: StepSeries | None = None,
) -> go.Figure:
    """GPU utilisation by tenant tier: stacked areas of busy GPUs as % of the fleet.

    ``busy_by_tier`` gives the busy GPUs of each tier (in the order to stack and
    colour them); ``busy_total``, when given, is drawn as a line on top (it should
    equal the top of the stack). Bins: see :func:`choose_bin_width_s`.
    """
    series = list(busy_by_tier.values()) + ([busy_total] if busy_total is not None else [])
    native = max((native_step_s(s.t_s) for s in series if s.t_s.size > 1), default=0.0)
    regular = all(np.allclose(np.diff(s.t_s), native) for s in series if s.t_s.size > 1)
    width = choose_bin_width_s(span_s, MAX_UTILISATION_POINTS, native if regular else 0.0)
    edges = bin_edges_s(span_s, width)
    if isinstance(fleet_gpus, StepSeries):
        fleet = bin_mean(fleet_gpus, edges)
    else:
        fleet = np.full(edges.shape[0] - 1, float(fleet_gpus))
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(fleet > 0, 100.0 / fleet, 0.0)
    x0, dx, x_title = _time_axis(start_date, width)
    fig = go.Figure()
    for i, (tier, s) in enumerate(busy_by_tier.items()):
        busy = bin_mean(s, edges)
        fig.add_trace(
            go.Scatter(
                x0=x0,
                dx=dx,
                y=busy * scale,
                customdata=busy,
                name=str(tier),
                mode="lines",
                stackgroup="tiers",
                line={"width": 0.5, "color": _color(i)},
                fillcolor=_rgba(_color(i), 0.75),
                hovertemplate="%{y:.1f}% (%{customdata:,.0f} GPUs)",
            )
        )
    if busy_total is not None:
        total = bin_mean(busy_total, edges)
        fig.add_trace(
            go.Scatter(
                x0=x0,
                dx=dx,
                y=total * scale,
                customdata=total,
                name="All tiers",
                mode="lines",
                line={"width": 1.5, "color": "#222222", "dash": "dot"},
                hovertemplate="%{y:.1f}% (%{customdata:,.0f} GPUs)",
            )
        )
    base_layout(fig, "GPU utilisation by tenant tier", x_title, "Busy GPUs (% of fleet)")
    fig.update_layout(hovermode="x unified")
    fig.update_yaxes(rangemode="tozero")
    return fig


def wait_figure(wait_s_by_tier: Mapping[str, ArrayLike], by: str = "tier") -> go.Figure:
    """Queue wait distribution by tier (or by the groups ``by`` names, e.g. ``"tenant"``):
    the ECDF of ``start - submit`` on a log axis in hours.

    Each curve shows, for a wait ``x``, the share of the group's started jobs that
    waited at most ``x``. Waits below :data:`MIN_WAIT_S` are drawn at it. At most
    :data:`MAX_ECDF_POINTS` evenly spaced order statistics are drawn per tier, so
    the figure stays small for millions of jobs and is exact at those points.
    """
    fig = go.Figure()
    for i, (tier, waits) in enumerate(wait_s_by_tier.items()):
        w = np.asarray(waits, dtype=np.float64)
        w = w[np.isfinite(w)]
        if w.size == 0:
            continue
        h = np.sort(np.maximum(w, MIN_WAIT_S)) / SECONDS_PER_HOUR
        n = h.size
        k = np.unique(np.round(np.linspace(0, n - 1, min(n, MAX_ECDF_POINTS))).astype(np.int64))
        x = h[k]
        y = np.searchsorted(h, x, side="right") * (100.0 / n)
        median_h = float(np.median(w)) / SECONDS_PER_HOUR
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=f"{tier} ({n:,} jobs, median {median_h:.2g} h)",
                mode="lines",
                line={"shape": "hv", "width": 2, "color": _color(i)},
                hovertemplate="%{y:.1f}% waited at most %{x:.3g} h",
            )
        )
    if not fig.data:
        fig.add_annotation(
            text="No job started in this run.", showarrow=False, xref="paper", yref="paper"
        )
    base_layout(
        fig,
        f"Queue wait distribution by {by}",
        "Queue wait (h, log scale)",
        "Started jobs with at most this wait (%)",
    )
    fig.update_xaxes(type="log", dtick=1)
    fig.update_yaxes(range=[0, 101])
    return fig


def power_figure(
    facility_power_w: StepSeries,
    power_cap_w: StepSeries,
    span_s: float,
    start_date: dt.date | None = None,
    it_power_w: StepSeries | None = None,
) -> go.Figure:
    """Facility power against the grid cap (MW over time; the cap as a dashed line).

    Steps are drawn as they are up to :data:`MAX_POWER_POINTS`; beyond, bins show
    the mean and, as a thin line, the peak within each bin, so no excursion over
    the cap is averaged away.
    """
    bins = TimeBins.of(facility_power_w.t_s, span_s, MAX_POWER_POINTS, start_date)
    x0, dx, x_title, edges = bins.x0, bins.dx, bins.x_title, bins.edges_s
    mw = "%{y:,.1f} MW"
    fig = add_mean_and_peak(
        go.Figure(), facility_power_w, bins, "Facility power", (mw, mw), divisor=W_PER_MW
    )
    if it_power_w is not None:
        fig.add_trace(
            go.Scatter(
                x0=x0,
                dx=dx,
                y=bin_mean(it_power_w, edges) / W_PER_MW,
                name="IT power",
                mode="lines",
                line={"width": 1.2, "color": _color(2)},
                hovertemplate="%{y:,.1f} MW",
            )
        )
    fig.add_trace(
        go.Scatter(
            x0=x0,
            dx=dx,
            y=bin_max(power_cap_w, edges) / W_PER_MW,
            name="Grid cap",
            mode="lines",
            line={"width": 2, "color": "#C0392B", "dash": "dash", "shape": "hv"},
            hovertemplate="%{y:,.1f} MW",
        )
    )
    base_layout(fig, "Facility power against the grid cap", x_title, "Power (MW)")
    fig.update_layout(hovermode="x unified")
    fig.update_yaxes(rangemode="tozero")
    return fig


def pue_figure(
    t_s: ArrayLike,
    ambient_c: ArrayLike,
    pue: ArrayLike,
    start_date: dt.date | None = None,
    warmup_s: float = 0.0,
) -> go.Figure:
    """PUE against ambient temperature: one point per step, coloured by season.

    Steps without a finite PUE (no IT load) are left out. Without a start date
    the points form one trace. More than :data:`MAX_SCATTER_POINTS` points are
    thinned by a fixed stride. The steps of a warm-up (starting before ``warmup_s``),
    which the KPIs leave out, form a grey trace of their own.
    """
    t = np.asarray(t_s, dtype=np.float64)
    x = np.asarray(ambient_c, dtype=np.float64)
    y = np.asarray(pue, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(t)
    t, x, y = t[ok], x[ok], y[ok]
    stride = max(1, math.ceil(t.size / MAX_SCATTER_POINTS))
    t, x, y = t[::stride], x[::stride], y[::stride]
    warm = t < warmup_s
    groups: list[tuple[str, NDArray[np.bool_], str]]
    if start_date is None:
        groups = [("All steps", ~warm, _color(0))]
    else:
        month = _months(t, start_date)
        groups = [(name, np.isin(month, months) & ~warm, color) for name, months, color in SEASONS]
    if warm.any():
        groups.append(("Warm-up (not in the KPIs)", warm, WARMUP_COLOR))
    fig = go.Figure()
    for name, mask, color in groups:
        if not mask.any():
            continue
        fig.add_trace(
            go.Scatter(
                x=x[mask],
                y=y[mask],
                name=f"{name}, {int(mask.sum()):,} steps",
                mode="markers",
                marker={"size": 7 if t.size < 1000 else 4, "color": color, "opacity": 0.6},
                hovertemplate="%{x:.1f} °C, PUE %{y:.3f}",
            )
        )
    if not fig.data:
        fig.add_trace(go.Scatter(x=[], y=[], name="All steps", mode="markers"))
    base_layout(
        fig, "PUE against ambient temperature", "Ambient dry-bulb temperature (°C)", "PUE (ratio)"
    )
    return fig


def heat_figure(
    t_s: ArrayLike,
    span_s: float,
    offtakers: Mapping[str, tuple[ArrayLike, ArrayLike]],
    start_date: dt.date | None = None,
    warmup_s: float = 0.0,
) -> go.Figure:
    """Heat delivered against demand per offtaker: bars of MWh per day or per month.

    ``offtakers`` maps each name to ``(demand_w, delivered_w)``, mean powers over
    the steps starting at ``t_s`` (the last step ends at ``span_s``). The demand
    bar is pale and the delivered bar solid in front of it, so the pale remainder
    is demand left unmet. Days up to :data:`DAILY_HEAT_MAX_SPAN_S`, else calendar
    months (30-day periods without a start date). A warm-up (steps before
    ``warmup_s``) is shaded (:func:`mark_warmup_bins`).
    """
    t = np.asarray(t_s, dtype=np.float64)
    dt_s = np.diff(np.append(t, max(span_s, float(t[-1]) if t.size else 0.0)))
    if t.size and dt_s[-1] <= 0:
        dt_s[-1] = native_step_s(t)
    daily = span_s <= DAILY_HEAT_MAX_SPAN_S
    if start_date is not None:
        when = np.datetime64(start_date, "s") + np.floor(t).astype("timedelta64[s]")
        keys = when.astype("datetime64[D]" if daily else "datetime64[M]")
        uniq, inverse = np.unique(keys, return_inverse=True)
        labels = [str(k) for k in uniq]
        x_title = "Day (UTC)" if daily else "Month (UTC)"
    else:
        period = SECONDS_PER_DAY if daily else 30 * SECONDS_PER_DAY
        idx = np.floor(t / period).astype(np.int64)
        uniq, inverse = np.unique(idx, return_inverse=True)
        labels = [f"{int(k) + 1}" for k in uniq]
        x_title = "Day of the run (days)" if daily else "30-day period of the run (30 days)"
    fig = go.Figure()
    for i, (name, (demand_w, delivered_w)) in enumerate(offtakers.items()):
        color = _color(i)
        for kind, power_w, style in (
            (
                "demand",
                demand_w,
                {"color": _rgba(color, 0.25), "line": {"color": color, "width": 1}},
            ),
            ("delivered", delivered_w, {"color": color}),
        ):
            p = np.nan_to_num(np.asarray(power_w, dtype=np.float64), nan=0.0)
            mwh = np.bincount(inverse, weights=p * dt_s, minlength=len(labels)) / J_PER_MWH
            fig.add_trace(
                go.Bar(
                    x=labels,
                    y=mwh,
                    name=f"{name}: {kind}",
                    legendgroup=str(name),
                    offsetgroup=str(name),
                    marker=style,
                    hovertemplate=f"{name} {kind}: " + "%{y:,.1f} MWh",
                )
            )
    if not fig.data:
        fig.add_trace(go.Bar(x=[], y=[], name="No offtakers"))
    base_layout(fig, "Heat delivered against demand per offtaker", x_title, "Heat per period (MWh)")
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    # Two entries per offtaker: a legend above the plot would run into the title.
    fig.update_layout(
        legend={"orientation": "v", "yanchor": "top", "y": 1.0, "xanchor": "left", "x": 1.01},
        margin={"l": 70, "r": 330, "t": 60, "b": 60},
    )
    fig.update_xaxes(type="category")
    return mark_warmup_bins(fig, inverse, t < warmup_s)


# --------------------------------------------------------------------------- KPI table


def _num(value: Any, fmt: str = ",.2f", scale: float = 1.0) -> str:
    if value is None or isinstance(value, bool):
        return "–"
    try:
        v = float(value) * scale
    except (TypeError, ValueError):
        return str(value)
    return "–" if not math.isfinite(v) else format(v, fmt)


def kpi_rows(summary: Mapping[str, Any]) -> list[KpiRow]:
    """The KPI table of a run from its ``summary.json`` dict, with units; missing values: "–"."""
    rows: list[KpiRow] = []
    span_s = summary.get("span_s")
    rows.append(KpiRow("Run", "GPUs in the fleet", _num(summary.get("n_gpus"), ",.0f"), "GPUs"))
    rows.append(KpiRow("Run", "Span", _num(span_s, ",.2f", 1 / SECONDS_PER_DAY), "days"))
    if "warmup_days" in summary:
        warmup = _num(summary.get("warmup_days"), ",.2f")
        rows.append(KpiRow("Run", "Warm-up, left out of the KPIs", warmup, "days"))
    jobs = summary.get("jobs") or {}
    for state in ("completed", "running", "pending", "cancelled", "rejected"):
        rows.append(KpiRow("Jobs", f"Jobs {state}", _num(jobs.get(state), ",.0f"), "jobs"))
    rows.append(KpiRow("Jobs", "GPU hours", _num(summary.get("gpu_hours"), ",.0f"), "GPU·h"))
    rows.append(
        KpiRow("Jobs", "Utilisation", _num(summary.get("utilization"), ".1f", 100.0), "% of fleet")
    )
    wait = summary.get("wait_s") or {}
    to_h = 1 / SECONDS_PER_HOUR
    for stat in ("mean", "p50", "p95"):
        rows.append(
            KpiRow("Queue wait", f"Wait {stat}, all tiers", _num(wait.get(stat), ",.2f", to_h), "h")
        )
    for tier, stats in sorted((wait.get("by_tier") or {}).items()):
        stats = stats or {}
        value = " / ".join(_num(stats.get(s), ",.2f", to_h) for s in ("mean", "p50", "p95"))
        rows.append(KpiRow("Queue wait", f"Wait mean / p50 / p95, {tier}", value, "h"))
    rows.append(
        KpiRow(
            "Queue wait",
            "Bounded slowdown, mean (10 s bound)",
            _num(summary.get("bounded_slowdown_mean"), ",.2f"),
            "ratio",
        )
    )
    physical = (
        ("it_energy_mwh", "IT energy", ",.1f", "MWh"),
        ("facility_energy_mwh", "Facility energy", ",.1f", "MWh"),
        ("pue", "PUE (ISO/IEC 30134-2)", ".3f", "ratio"),
        ("ref", "REF, renewable energy factor", ".3f", "ratio"),
        ("erf", "ERF, energy reuse factor", ".3f", "ratio"),
        ("cue_location_kg_per_kwh", "CUE, location-based (grid mix)", ".4f", "kg CO₂e/kWh"),
        ("cue_market_kg_per_kwh", "CUE, market-based (instruments)", ".4f", "kg CO₂e/kWh"),
        ("wue_l_per_kwh", "WUE, water usage effectiveness", ".3f", "L/kWh"),
        ("heat_reused_mwh", "Heat reused", ",.1f", "MWh"),
        ("peak_facility_power_mw", "Peak facility power", ",.1f", "MW"),
        ("power_cap_mw", "Grid cap", ",.1f", "MW"),
        ("hours_over_cap", "Time over the grid cap", ",.1f", "h"),
        ("free_cooling_hours", "Free-cooling hours", ",.0f", "h"),
        ("cooling_shortfall_hours", "Hours short of cooling", ",.0f", "h"),
        ("heat_to_loop_mwh", "Heat to the cooling loops", ",.1f", "MWh"),
    )
    for key, label, fmt, unit in physical:
        if key in summary:
            rows.append(KpiRow("Facility", label, _num(summary[key], fmt), unit))
    for o in summary.get("offtakers") or []:
        temp = _num(o.get("supply_temp_c"), ".0f")
        label = f"{o.get('name', '?')} ({o.get('kind', '?')}, supply {temp} °C): delivered / demand"
        value = f"{_num(o.get('delivered_mwh'), ',.1f')} / {_num(o.get('demand_mwh'), ',.1f')}"
        rows.append(KpiRow("Heat offtakers", label, value, "MWh"))
    return rows


def kpi_table_figure(summary: Mapping[str, Any]) -> go.Figure:
    """The KPI table (:func:`kpi_rows`) as a plotly table figure."""
    rows = kpi_rows(summary)
    columns: Sequence[list[str]] = (
        [r.group for r in rows],
        [r.label for r in rows],
        [r.value for r in rows],
        [r.unit for r in rows],
    )
    fig = go.Figure(
        go.Table(
            name="Key performance indicators",
            columnwidth=[1.2, 3.6, 1.6, 1.2],
            header={
                "values": ["Group", "Indicator", "Value", "Unit"],
                "fill_color": "#1f3b57",
                "font": {"color": "white"},
                "align": "left",
            },
            cells={
                "values": list(columns),
                "align": ["left", "left", "right", "left"],
                "fill_color": "#f7f9fb",
                "height": 24,
            },
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title={"text": "Key performance indicators", "x": 0.01, "xanchor": "left"},
        showlegend=True,
        height=max(FIGURE_HEIGHT_PX, 90 + 26 * (len(rows) + 1)),
        margin={"l": 20, "r": 20, "t": 60, "b": 20},
    )
    return fig
