"""The "Power quality" section of the run report (physical sites): ten minutes of the
site's grid draw at 0.1 s around the largest swing, raw and smoothed, against the grid code.

The window: the busiest training hour (:func:`narvik.kpi.power_dynamics.busiest_training_hour_s`)
rebuilt at 1 s, cheaply, to find the instant of its largest swing
(:func:`narvik.physics.power_quality.swing_w`), then :data:`WINDOW_S` centred on that swing
rebuilt at :data:`RESOLUTION_S` and measured by
:func:`narvik.kpi.power_dynamics.power_quality` (clipped to the run). A run whose busiest hour
has no training gang shows that hour's first ten minutes. Both rebuilds are deterministic
(every job's profile is seeded by its id and the run's seed), so the report stays
byte-identical when rendered again.

The section is left out, with a one-line note, when the run's site cannot be loaded again
(a site file that has moved since the run).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from narvik.kpi.plots import PALETTE, base_layout
from narvik.kpi.power_dynamics import (
    PowerQuality,
    power_quality,
    run_settings,
    window_from,
)
from narvik.kpi.power_rebuild import Window, rebuild_power, run_site, window_jobs
from narvik.kpi.run_data import RunData, floats
from narvik.physics.power_quality import swing_w
from narvik.site import SiteError
from narvik.units import SECONDS_PER_HOUR

#: Length of the window shown, s.
WINDOW_S = 600.0
#: Time step of the window shown, s.
RESOLUTION_S = 0.1
#: Time step of the busiest hour's rebuild that finds the largest swing, s.
SEARCH_RESOLUTION_S = 1.0
DIV_ID = "fig-power-quality"
TABLE_ID = "power-quality-table"
#: Colours of the raw, floored and smoothed power.
COLORS = (PALETTE[5], PALETTE[1], PALETTE[0])

SETTINGS_TITLE = "Smoothing and grid code of the run's scenario"

FigureCard = Callable[[str, go.Figure, str], str]


@dataclass(frozen=True)
class PowerWindow:
    """The window the section shows and why it was chosen."""

    window: Window
    hour_start_s: float
    """Start of the busiest training hour, s from the run's start."""
    training: bool
    """Training gangs ran in that hour (else the window is its first ten minutes)."""
    run_has_training: bool
    """Some training gang ran at some point of the run."""


def _run_span_s(run: RunData) -> float:
    """The span the rebuild may cover: to the end of the last step (as ``window_from``)."""
    return float(floats(run.timeseries, "t_s").max(initial=0.0)) + SECONDS_PER_HOUR


def choose_window(run: RunData) -> PowerWindow:
    """Ten minutes centred on the largest swing of the busiest training hour (at 1 s)."""
    hour = window_from(run, None, SECONDS_PER_HOUR, SEARCH_RESOLUTION_S)
    s = run_settings(run)
    rough = rebuild_power(run, hour, s.profiles, busy_gpu_utilization=s.busy_gpu_utilization)
    training_gpus = rough.busy_gpus_by_kind.get("training")
    training = training_gpus is not None and bool(np.any(training_gpus > 0))
    run_span = _run_span_s(run)
    start = hour.start_s
    if training:
        swing = swing_w(rough.grid_power_w, SEARCH_RESOLUTION_S, s.grid_code.swing_window_s)
        at_s = float(rough.t_s[int(np.argmax(swing))])  # end of the swing's window
        centre = at_s - s.grid_code.swing_window_s / 2
        start = float(np.floor(centre - WINDOW_S / 2))
    start = min(max(start, 0.0), max(run_span - WINDOW_S, 0.0))
    has_training = training or hour.start_s > 0 or _any_training(run, run_span)
    return PowerWindow(Window(start, WINDOW_S, RESOLUTION_S), hour.start_s, training, has_training)


def _any_training(run: RunData, run_span_s: float) -> bool:
    jobs = window_jobs(run, Window(0.0, run_span_s, SECONDS_PER_HOUR))
    return bool(np.any(jobs.kind == "training"))


def _start(run: RunData) -> dt.datetime:
    """The run's first instant, UTC (naive); the rebuild's date when the run has none."""
    day = run.start_date or dt.date(2027, 1, 1)
    return dt.datetime.combine(day, dt.time())


def _when(run: RunData, t_s: float) -> str:
    return f"{_start(run) + dt.timedelta(seconds=round(t_s)):%Y-%m-%d %H:%M:%S} UTC"


def power_quality_figure(run: RunData, pq_: PowerQuality) -> go.Figure:
    """Grid power over the window in MW: raw, with the GPU floor only, and smoothed."""
    w = pq_.window
    x0 = (_start(run) + dt.timedelta(seconds=w.start_s)).isoformat(sep=" ")
    dx_ms = w.resolution_s * 1000.0
    series = (
        ("Raw: jobs on their power profiles", pq_.raw.grid_power_w, 1.0),
        ("GPU power floor only", pq_.floored.grid_power_w, 1.2),
        ("Smoothed: floor, ramp limiter and battery", pq_.smoothed.grid_w, 2.0),
    )
    fig = go.Figure()
    for (name, power_w, width), color in zip(series, COLORS, strict=True):
        fig.add_trace(
            go.Scatter(
                x0=x0,
                dx=dx_ms,
                y=(np.asarray(power_w) / 1e6).astype(np.float32),
                name=name,
                mode="lines",
                line={"width": width, "color": color},
                hovertemplate="%{y:,.2f} MW",
            )
        )
    title = (
        f"Grid power over {w.span_s / 60:g} minutes from {_when(run, w.start_s)}, "
        f"every {w.resolution_s:g} s"
    )
    base_layout(fig, title, "Time (UTC)", "Grid power (MW)")
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(type="date")
    return fig


# --------------------------------------------------------------------------- table


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: Any, fmt: str) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value):
        return "–"
    return format(value, fmt)


def _variance(value: Any) -> str:
    if isinstance(value, int | float) and 0 < abs(value) < 0.01:
        return format(value, ".1e")
    return _num(value, ",.2f")


def _row(label: str, raw: str, smoothed: str, unit: str) -> str:
    return (
        f'<tr><td>{_e(label)}</td><td class="v">{_e(raw)}</td>'
        f'<td class="v">{_e(smoothed)}</td><td class="u">{_e(unit)}</td></tr>'
    )


def _setting_row(label: str, value: str) -> str:
    return f'<tr><td>{_e(label)}</td><td class="v" colspan="3">{_e(value)}</td></tr>'


def _settings_rows(settings: Mapping[str, Any]) -> list[str]:
    p = settings.get("power_smoothing") or {}
    g = settings.get("grid_code") or {}
    floor = float(p.get("gpu_power_floor_fraction") or 0.0)
    ramp = p.get("ramp_limit_mw_per_s")
    rows = [
        _setting_row(
            "GPU power floor",
            f"{floor:.0%} of a GPU's busy power while its job runs" if floor > 0 else "none",
        ),
        _setting_row(
            "Ramp limiter (rack power-supply storage)",
            (
                f"{ramp:g} MW/s, {p.get('rack_storage_mwh', 0):g} MWh, "
                f"towards the {p.get('ramp_tau_s', 0):g} s low-pass of the demand"
            )
            if ramp
            else "none",
        ),
    ]
    bess_mw = float(p.get("bess_power_mw") or 0.0)
    rows.append(
        _setting_row(
            "Site battery",
            (
                f"{bess_mw:g} MW, {p.get('bess_energy_mwh', 0):g} MWh, holding the grid at the "
                f"{p.get('bess_tau_s', 0):g} s low-pass of the demand"
            )
            if bess_mw > 0
            else "none",
        )
    )
    rows.append(
        _setting_row(
            "Grid code",
            f"ramp at most {g.get('max_ramp_mw_per_s', 0):g} MW/s (over 1 s), swing at most "
            f"{g.get('max_swing_mw', 0):g} MW in {g.get('swing_window_s', 0):g} s",
        )
    )
    return rows


def power_quality_table(summary: Mapping[str, Any]) -> str:
    """The measures of the raw and the smoothed power, the smoothing's energy cost and the
    settings, as one table of the report's KPI style."""
    raw, sm = summary["raw"], summary["smoothed"]
    grid = (summary.get("settings") or {}).get("grid_code") or {}
    window_s = float(grid.get("swing_window_s", 10.0))
    rows = [
        _row("Mean grid power", _num(raw["mean_mw"], ",.1f"), _num(sm["mean_mw"], ",.1f"), "MW"),
        _row(
            f"Largest swing in {window_s:g} s",
            _num(raw["max_swing_mw"], ",.1f"),
            _num(sm["max_swing_mw"], ",.1f"),
            f"MW in {window_s:g} s",
        ),
        _row(
            "Largest ramp (over 1 s)",
            _num(raw["max_ramp_mw_per_s"], ",.2f"),
            _num(sm["max_ramp_mw_per_s"], ",.2f"),
            "MW/s",
        ),
    ]
    for band, value in raw["band_variance_mw2"].items():
        rows.append(
            _row(
                f"Variance in the {band} band",
                _variance(value),
                _variance(sm["band_variance_mw2"].get(band)),
                "MW²",
            )
        )
    for key, label in (
        (
            "ramp_break_events",
            f"Grid-code breaks: ramp over {grid.get('max_ramp_mw_per_s', 0):g} MW/s",
        ),
        ("swing_break_events", f"Grid-code breaks: swing over {grid.get('max_swing_mw', 0):g} MW"),
    ):
        rows.append(_row(label, _num(raw.get(key), ",d"), _num(sm.get(key), ",d"), "events"))
    rows.append(
        _row(
            "Smoothing's energy cost in the window (GPU power floor)",
            "–",
            _num(summary.get("smoothing_energy_mwh"), ",.3f"),
            "MWh",
        )
    )
    head = (
        '<thead><tr class="g"><th>Measure</th><th>Raw</th><th>Smoothed</th><th>Unit</th></tr>'
        "</thead>"
    )
    settings = _settings_rows(summary.get("settings") or {})
    return (
        f'<table class="kpi">{head}<tbody>{"".join(rows)}</tbody></table>'
        f'<table class="kpi"><thead><tr class="g"><th colspan="4">{_e(SETTINGS_TITLE)}</th>'
        f"</tr></thead><tbody>{''.join(settings)}</tbody></table>"
    )


# --------------------------------------------------------------------------- section


def _smooths(settings: Mapping[str, Any]) -> bool:
    """The scenario sets some smoothing: a GPU power floor, a ramp limiter or a battery."""
    p = settings.get("power_smoothing") or {}
    floor = float(p.get("gpu_power_floor_fraction") or 0.0)
    return floor > 0 or bool(p.get("ramp_limit_mw_per_s")) or float(p.get("bess_power_mw") or 0) > 0


def _how_to_read(run: RunData, chosen: PowerWindow, settings: Mapping[str, Any]) -> str:
    if chosen.training:
        where = (
            "The site's draw from the grid for ten minutes, every 0.1 s, around the largest "
            "swing of the busiest training hour (the hour that began with the most training "
            f"GPUs running, from {_when(run, chosen.hour_start_s)})."
        )
    elif chosen.run_has_training:
        where = (
            "No training gang was running at the start of any hour of this run, so the "
            "section shows the first ten minutes of the run, every 0.1 s."
        )
    else:
        where = (
            "This run had no training gangs (the jobs whose GPUs swing in lockstep), so the "
            "section shows the first ten minutes of the run, every 0.1 s."
        )
    warm = (
        " The window lies in the warm-up, which the KPIs leave out."
        if chosen.window.start_s < run.warmup_s
        else ""
    )
    if _smooths(settings):
        lines = (
            "The line with the GPU power floor only keeps every running GPU above a share of "
            "its busy power, which fills the troughs at an energy cost; the smoothed line adds "
            "the ramp limiter of the racks' power-supply storage and the site battery, as the "
            "run's scenario sets them: it is what the grid would see."
        )
    else:
        lines = (
            "The run's scenario sets no power smoothing (no GPU power floor, ramp limiter or "
            "battery; a run written before these settings existed gets these defaults)."
        )
    return (
        f"{where}{warm} The run itself keeps only each step's power (hourly by default); this "
        "power is rebuilt from the run's jobs on their power profiles (a training gang's GPUs "
        "swing between compute and communication with every iteration and dip at "
        "checkpoints, inference follows its requests, other jobs draw steady power) through "
        "the site's power chain. A swing is the largest peak-to-trough within 10 s, a ramp "
        "the change over 1 s. Thousands of GPUs moving in lockstep swing the site by tens of "
        "MW within a second; the grid operator bounds both, since such swings, and "
        "oscillations near the frequencies of the generators and the grid (about 0.1 to 20 "
        'Hz), strain turbines and can excite the grid (Choukse et al., "Power Stabilization '
        'for AI Training Datacenters", arXiv 2508.14318, 2025). ' + lines
    )


_TABLE_HOW = (
    "Largest swing and ramp are the worst over the window; the band variances split the "
    "power's variance by frequency (they add up to it), the 0.1-1 Hz band holding the "
    "training iterations. A grid-code break is one stretch of time over the limit. The "
    "energy cost is what the GPU power floor burns over the raw power in the window (the "
    "storages give back what they take)."
)


def power_quality_html(run: RunData, figure_card: FigureCard) -> str:
    """The "Power quality" section of a physical run (a heading, the figure in a card made
    by ``figure_card`` and the table); a note instead when the site cannot be loaded."""
    parts = ['<h2 id="power-quality">Power quality</h2>']
    try:
        run_site(run)
    except (SiteError, OSError) as exc:
        parts.append(
            f'<p class="note">The site of this run, {_e(run.site)}, cannot be loaded again '
            f"({_e(exc)}): its power is not rebuilt, so this section is left out.</p>"
        )
        return "\n".join(parts)
    chosen = choose_window(run)
    pq_ = power_quality(run, chosen.window)
    parts.append(
        figure_card(
            DIV_ID,
            power_quality_figure(run, pq_),
            _how_to_read(run, chosen, pq_.summary.get("settings") or {}),
        )
    )
    parts.append(
        f'<section class="card" id="{TABLE_ID}">{power_quality_table(pq_.summary)}'
        f'<p class="how"><b>How to read this:</b> {_e(_TABLE_HOW)}</p></section>'
    )
    return "\n".join(parts)
