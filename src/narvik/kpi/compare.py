"""Runs side by side: the KPI table and the overlaid plots of ``narvik compare``.

:func:`load_runs` reads the run folders (as :func:`narvik.kpi.report.load_run`
does: a :class:`ValueError` names the folder and the file when one is missing or
unreadable). The first run is the baseline: :func:`kpi_table` lists every
numeric KPI of the ``summary.json`` files (nested objects flattened to dotted
keys such as ``wait_s.by_tier.anchor.p95``; lists and text left out) with each
other run's difference and relative difference against it.
:func:`render_compare_html` writes one self-contained page (plotly.js inlined
once) with the table and, one trace per run, utilisation over time, facility
power against the grid cap, and the queue wait distribution of each tier. The
same run folders give byte-identical HTML: no timestamps, fixed div ids, runs in
the order given and keys sorted.

As in a run's report, the warm-up the KPIs leave out is left out of the wait
distributions (jobs submitted before a run's ``warmup_s``) and shaded on the plots
over time: one grey band per distinct warm-up, from the start of the runs to its end,
labelled with the runs it belongs to (plainly "warm-up" when every run drawn has the
same one); the bands of different warm-ups overlap, darker where several runs are
still warming up.

Runs are labelled by their folder names (the path as given, then the position,
where two names clash).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa
import pyarrow.compute as pc
from plotly.offline import get_plotlyjs

from narvik import __version__
from narvik.atomic import write_text_atomic
from narvik.kpi.plots import (
    MAX_POWER_POINTS,
    MAX_UTILISATION_POINTS,
    PALETTE,
    WARMUP_LABEL,
    FloatArray,
    StepSeries,
    base_layout,
    bin_edges_s,
    bin_max,
    bin_mean,
    choose_bin_width_s,
    mark_warmup,
    native_step_s,
    wait_figure,
)
from narvik.kpi.report import RunData, figure_card, load_run
from narvik.units import SECONDS_PER_DAY, W_PER_MW

__all__ = [
    "COMPARE_FILE",
    "HEADLINE_KPIS",
    "CompareRow",
    "RunData",
    "compare_html",
    "flatten_numbers",
    "format_diff",
    "format_rel_diff",
    "format_value",
    "headline_rows",
    "kpi_table",
    "load_runs",
    "power_compare_figure",
    "render_compare_html",
    "run_labels",
    "table_json",
    "utilisation_compare_figure",
    "wait_compare_figures",
]

#: Default name of the comparison page (written into the baseline's folder by the CLI).
COMPARE_FILE = "compare.html"

#: The headline KPIs, in this order (``fnmatch`` patterns over the dotted keys).
HEADLINE_KPIS: tuple[str, ...] = (
    "utilization",
    "pue",
    "erf",
    "wait_s.p95",
    "wait_s.by_tier.*.p95",
    "peak_facility_power_mw",
    "it_energy_mwh",
    "facility_energy_mwh",
    "co2_t",
    "energy_cost_eur",
    "preemptions_total",
    "gpu_hours_lost_to_preemption",
)

Number = int | float


# --------------------------------------------------------------------------- loading


def load_runs(dirs: Sequence[str | Path]) -> list[RunData]:
    """Read the run folders in order (the first is the baseline); :class:`ValueError` if bad."""
    if not dirs:
        raise ValueError("no run folder given")
    return [load_run(d) for d in dirs]


def _folder_name(path: Path) -> str:
    return path.name if path.name not in ("", ".", "..") else path.resolve().name


def run_labels(runs: Sequence[RunData]) -> list[str]:
    """One distinct label per run: its folder name, else its path, else ``path #position``."""
    names = [_folder_name(r.run_dir) for r in runs]
    labels = [str(r.run_dir) if names.count(n) > 1 else n for r, n in zip(runs, names, strict=True)]
    return [f"{lab} #{i + 1}" if labels.count(lab) > 1 else lab for i, lab in enumerate(labels)]


# --------------------------------------------------------------------------- KPI table


@dataclass(frozen=True)
class CompareRow:
    """One KPI across the runs.

    ``values`` has one entry per run (``None`` where the run lacks the KPI);
    ``diffs`` and ``rel_diffs`` one per run after the first: ``value - baseline``
    and ``(value - baseline) / |baseline|`` (``None`` where either is missing, or
    the baseline is 0 and the value is not).
    """

    key: str
    values: tuple[Number | None, ...]
    diffs: tuple[Number | None, ...]
    rel_diffs: tuple[float | None, ...]


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def flatten_numbers(data: Mapping[str, Any], prefix: str = "") -> dict[str, Number]:
    """The finite numbers of a nested dict under dotted keys (lists, text, booleans left out)."""
    out: dict[str, Number] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_numbers(value, f"{name}."))
        elif _is_number(value):
            out[name] = value
    return out


def _diff(value: Number | None, base: Number | None) -> Number | None:
    return None if value is None or base is None else value - base


def _rel_diff(value: Number | None, base: Number | None) -> float | None:
    diff = _diff(value, base)
    if diff is None or base is None:
        return None
    if base == 0:
        return 0.0 if diff == 0 else None
    return float(diff) / abs(float(base))


def kpi_table(runs: Sequence[RunData]) -> list[CompareRow]:
    """Every numeric KPI of the summaries (keys sorted), side by side, against the first run."""
    flat = [flatten_numbers(r.summary) for r in runs]
    keys = sorted(set().union(*flat))
    rows = []
    for key in keys:
        values = tuple(f.get(key) for f in flat)
        base = values[0]
        rows.append(
            CompareRow(
                key=key,
                values=values,
                diffs=tuple(_diff(v, base) for v in values[1:]),
                rel_diffs=tuple(_rel_diff(v, base) for v in values[1:]),
            )
        )
    return rows


def headline_rows(rows: Sequence[CompareRow]) -> list[CompareRow]:
    """The rows of :data:`HEADLINE_KPIS`, in its order (by key within a pattern)."""
    out: list[CompareRow] = []
    for pattern in HEADLINE_KPIS:
        out += [r for r in rows if fnmatchcase(r.key, pattern) and r not in out]
    return out


def table_json(runs: Sequence[RunData], rows: Sequence[CompareRow]) -> dict[str, Any]:
    """The table as JSON-ready data: runs, baseline and, per KPI, values and differences."""
    labels = run_labels(runs)
    others = labels[1:]
    return {
        "baseline": labels[0],
        "runs": [
            {"label": lab, "path": str(r.run_dir)} for lab, r in zip(labels, runs, strict=True)
        ],
        "kpis": [
            {
                "key": r.key,
                "values": dict(zip(labels, r.values, strict=True)),
                "diff": dict(zip(others, r.diffs, strict=True)),
                "rel_diff": dict(zip(others, r.rel_diffs, strict=True)),
            }
            for r in rows
        ],
    }


def format_value(value: Number | None) -> str:
    """A table cell: integers in full, large floats rounded, others to 4 significant digits."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,d}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def format_diff(diff: Number | None) -> str:
    if diff is None:
        return "–"
    return "0" if diff == 0 else ("+" if diff > 0 else "") + format_value(diff)


def format_rel_diff(rel: float | None) -> str:
    if rel is None:
        return "–"
    return "0%" if rel == 0 else f"{rel:+.1%}"


# --------------------------------------------------------------------------- figures


def _floats(table: pa.Table, name: str) -> FloatArray:
    column = table.column(name).cast(pa.float64())
    return np.asarray(pc.fill_null(column, math.nan).to_numpy(), dtype=np.float64)


def _common_start(runs: Sequence[RunData]) -> dt.date | None:
    """The start date shared by every run, else ``None`` (time since start on the axis)."""
    dates = {r.start_date for r in runs}
    return dates.pop() if len(dates) == 1 else None


def _time_axis(start: dt.date | None, width_s: float) -> tuple[Any, float, str]:
    """``x0``, ``dx`` and the axis title of bins of ``width_s`` drawn at their midpoints."""
    if start is None:
        return width_s / 2 / SECONDS_PER_DAY, width_s / SECONDS_PER_DAY, "Time since start (days)"
    t0 = dt.datetime(start.year, start.month, start.day) + dt.timedelta(seconds=width_s / 2)
    return t0.isoformat(sep=" "), width_s * 1000.0, "Date (UTC)"


def _regular_step_s(runs: Sequence[RunData]) -> float:
    """The widest step of the runs whose series are regular (0 if none is)."""
    steps = [0.0]
    for run in runs:
        t = _floats(run.timeseries, "t_s")
        step = native_step_s(t)
        if t.size > 1 and np.allclose(np.diff(t), step):
            steps.append(step)
    return max(steps)


def _warmups_by_end_s(drawn: Sequence[tuple[RunData, str]]) -> dict[float, list[str]]:
    """The labels of the ``(run, label)`` pairs whose run has a warm-up, by the end of that
    warm-up (s), ascending."""
    by_end: dict[float, list[str]] = {}
    for run, label in drawn:
        if run.warmup_s > 0:
            by_end.setdefault(run.warmup_s, []).append(label)
    return dict(sorted(by_end.items()))


def _mark_warmups(fig: go.Figure, drawn: Sequence[tuple[RunData, str]]) -> go.Figure:
    """Shade the warm-ups of the runs ``drawn`` in ``fig`` (with their labels): a band per
    distinct end, labels stacked; one band that every run drawn shares reads as the report's."""
    by_end = _warmups_by_end_s(drawn)
    shared = len(by_end) == 1 and len(next(iter(by_end.values()))) == len(drawn)
    start = _common_start([run for run, _ in drawn])
    for row, (end_s, labels) in enumerate(by_end.items()):
        label = WARMUP_LABEL if shared else f"warm-up of {', '.join(labels)} (not in the KPIs)"
        mark_warmup(fig, end_s, start, label=label, label_row=row)
    return fig


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    base_layout(fig, title, x_title, y_title)
    fig.update_layout(hovermode="x unified")
    fig.update_yaxes(rangemode="tozero")
    return fig


def _utilisation_pct(run: RunData, edges: FloatArray) -> FloatArray:
    ts = run.timeseries
    t_s = _floats(ts, "t_s")
    busy = bin_mean(StepSeries.of(t_s, _floats(ts, "gpus_busy")), edges)
    if "gpus_total" in ts.column_names:
        fleet = bin_mean(StepSeries.of(t_s, _floats(ts, "gpus_total")), edges)
    else:
        fleet = np.full(busy.shape, float(run.summary["n_gpus"]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(fleet > 0, 100.0 * busy / fleet, 0.0)


def utilisation_compare_figure(runs: Sequence[RunData]) -> go.Figure:
    """Busy GPUs as % of the fleet online over time: one line per run, on common bins."""
    span = max(r.span_s for r in runs)
    width = choose_bin_width_s(span, MAX_UTILISATION_POINTS, _regular_step_s(runs))
    x0, dx, x_title = _time_axis(_common_start(runs), width)
    drawn = list(zip(runs, run_labels(runs), strict=True))
    fig = go.Figure()
    for i, (run, label) in enumerate(drawn):
        fig.add_trace(
            go.Scatter(
                x0=x0,
                dx=dx,
                y=_utilisation_pct(run, bin_edges_s(run.span_s, width)),
                name=label,
                mode="lines",
                line={"width": 1.8, "color": PALETTE[i % len(PALETTE)]},
                hovertemplate="%{y:.1f}%",
            )
        )
    _mark_warmups(fig, drawn)
    return _layout(fig, "GPU utilisation", x_title, "Busy GPUs (% of fleet)")


def power_compare_figure(runs: Sequence[RunData]) -> go.Figure:
    """Facility power (solid) against the grid cap (dashed) in MW: one pair per physical run."""
    labels = run_labels(runs)
    drawn = [(r, lab) for r, lab in zip(runs, labels, strict=True) if r.is_physical]
    physical = [r for r, _ in drawn]
    span = max((r.span_s for r in physical), default=1.0)
    native = _regular_step_s(physical)
    width = choose_bin_width_s(span, MAX_POWER_POINTS, native)
    binned = native == 0.0 or width > native * (1 + 1e-9)
    x0, dx, x_title = _time_axis(_common_start(physical), width)
    fig = go.Figure()
    for i, (run, label) in enumerate(zip(runs, labels, strict=True)):
        if not run.is_physical:
            continue
        t_s = _floats(run.timeseries, "t_s")
        edges = bin_edges_s(run.span_s, width)
        color = PALETTE[i % len(PALETTE)]
        power = StepSeries.of(t_s, _floats(run.timeseries, "facility_power_w"))
        cap = StepSeries.of(t_s, _floats(run.timeseries, "power_cap_w"))
        for name, y, line in (
            (
                f"{label}: facility power" + (" (mean per bin)" if binned else ""),
                bin_mean(power, edges),
                {"width": 1.6, "color": color},
            ),
            (
                f"{label}: grid cap",
                bin_max(cap, edges),
                {"width": 1.6, "color": color, "dash": "dash", "shape": "hv"},
            ),
        ):
            fig.add_trace(
                go.Scatter(
                    x0=x0,
                    dx=dx,
                    y=y / W_PER_MW,
                    name=name,
                    legendgroup=label,
                    mode="lines",
                    line=line,
                    hovertemplate="%{y:,.1f} MW",
                )
            )
    _mark_warmups(fig, drawn)
    return _layout(fig, "Facility power against the grid cap", x_title, "Power (MW)")


def _tiers(runs: Sequence[RunData]) -> list[str]:
    """The tiers of every run: the baseline's order first, then new ones as they come."""
    out: list[str] = []
    for run in runs:
        out += [t for t in run.tiers if t not in out]
    return out


def _waits_s(run: RunData, tier: str) -> FloatArray:
    """``start - submit`` of the run's jobs of ``tier`` that started, but for those submitted
    in its warm-up (before ``warmup_s``: ``in_warmup`` of jobs.parquet), as in the KPIs."""
    jobs = run.jobs
    mask = pc.fill_null(pc.equal(jobs.column("tier"), tier), False).to_numpy()
    submit_s = _floats(jobs, "submit_s")
    wait = _floats(jobs, "start_s") - submit_s
    return wait[mask & (submit_s >= run.warmup_s) & np.isfinite(wait)]


def wait_compare_figures(runs: Sequence[RunData]) -> list[tuple[str, go.Figure]]:
    """Per tier, the empirical CDF of queue waits: one curve per run that has jobs of the tier."""
    labels = run_labels(runs)
    figures = []
    for tier in _tiers(runs):
        fig = wait_figure({lab: _waits_s(r, tier) for r, lab in zip(runs, labels, strict=True)})
        fig.update_layout(title_text=f"Queue wait distribution: tier {tier}")
        figures.append((tier, fig))
    return figures


# --------------------------------------------------------------------------- HTML

_CSS = """
:root { --ink: #1d2733; --muted: #5b6775; --line: #dde3ea; --bg: #f4f6f9; --accent: #1f3b57; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: var(--accent); color: #fff; padding: 22px 32px; }
header h1 { margin: 0; font-size: 24px; font-weight: 600; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 24px 40px; }
h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 2px solid var(--line);
  padding-bottom: 4px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  margin: 0 0 18px; overflow-x: auto; }
.how { color: var(--muted); font-size: 14px; margin: 6px 4px 2px; }
.how b { color: var(--ink); }
.note { background: #fff8e6; border: 1px solid #f0d899; border-radius: 8px; padding: 10px 14px; }
table.kpi { border-collapse: collapse; width: 100%; font-size: 14px; }
table.kpi th, table.kpi td { padding: 5px 10px; border-bottom: 1px solid var(--line);
  text-align: left; white-space: nowrap; }
table.kpi thead th { font-size: 13px; color: var(--muted); border-bottom: 2px solid var(--line); }
table.kpi .v { text-align: right; font-variant-numeric: tabular-nums; }
table.kpi .d { color: var(--muted); }
details summary { cursor: pointer; font-weight: 600; margin: 4px 0 8px; }
footer { color: var(--muted); font-size: 13px; text-align: center; padding: 10px 0 30px; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _band_note(runs: Sequence[RunData]) -> str:
    """Added to the "how to read" line of a figure over time when a run has a warm-up."""
    if not any(r.warmup_s > 0 for r in runs):
        return ""
    return (
        " The grey band shades the warm-up, which the KPIs leave out; where the runs' "
        "warm-ups differ, a band per warm-up names its runs."
    )


def _waits_note(runs: Sequence[RunData]) -> str:
    """Added to the "how to read" line of a wait distribution when a run has a warm-up."""
    if not any(r.warmup_s > 0 for r in runs):
        return ""
    return " Jobs submitted in a run's warm-up are left out, as in the KPIs."


def _runs_html(runs: Sequence[RunData], labels: Sequence[str]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Run", "Folder", "Site", "Policy", "Seed", "Span (days)", "Start", "GPUs")
    )
    body = []
    for i, (run, label) in enumerate(zip(runs, labels, strict=True)):
        s = run.summary
        cells = (
            label + (" (baseline)" if i == 0 else ""),
            run.run_dir,
            s["site"],
            s["policy"],
            "–" if s.get("seed") is None else s["seed"],
            f"{run.span_s / SECONDS_PER_DAY:,.2f}",
            s.get("start_date") or "–",
            f"{s['n_gpus']:,}",
        )
        body.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return (
        f'<table class="kpi"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _kpi_html(labels: Sequence[str], rows: Sequence[CompareRow]) -> str:
    head = [f"<th>KPI</th><th class='v'>{_e(labels[0])}</th>"]
    head += [
        f"<th class='v'>{_e(lab)}</th><th class='v'>Δ</th><th class='v'>Δ %</th>"
        for lab in labels[1:]
    ]
    body = []
    for r in rows:
        cells = [f"<td>{_e(r.key)}</td><td class='v'>{_e(format_value(r.values[0]))}</td>"]
        for v, d, rel in zip(r.values[1:], r.diffs, r.rel_diffs, strict=True):
            cells.append(
                f"<td class='v'>{_e(format_value(v))}</td>"
                f"<td class='v d'>{_e(format_diff(d))}</td>"
                f"<td class='v d'>{_e(format_rel_diff(rel))}</td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="kpi"><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _facility_html(runs: Sequence[RunData], labels: Sequence[str]) -> list[str]:
    flat = [lab for r, lab in zip(runs, labels, strict=True) if not r.is_physical]
    parts = []
    if len(flat) < len(runs):
        parts.append(
            figure_card(
                "fig-power",
                power_compare_figure(runs),
                "Each run's facility power drawn from the grid (solid, mean per step or bin) "
                "and its grid connection cap (dashed, same colour). The gap to the cap is the "
                "headroom." + _band_note([r for r in runs if r.is_physical]),
            )
        )
    if flat:
        parts.append(
            f'<p class="note">Without physics (a bare flat:N pool), no facility power: '
            f"{_e(', '.join(flat))}.</p>"
        )
    return parts


def compare_html(runs: Sequence[RunData]) -> str:
    """The comparison as one self-contained HTML document (plotly.js inlined once)."""
    labels = run_labels(runs)
    rows = kpi_table(runs)
    title = f"narvik comparison: {' vs '.join(labels)}"
    parts = [f"<header><h1>{_e(title)}</h1></header>", "<main>", "<h2>Runs</h2>"]
    parts.append(f'<section class="card" id="runs">{_runs_html(runs, labels)}</section>')
    parts.append("<h2>Key performance indicators</h2>")
    parts.append(
        f'<section class="card" id="kpis">{_kpi_html(labels, headline_rows(rows))}'
        f"<details><summary>All {len(rows)} numeric KPIs of summary.json</summary>"
        f"{_kpi_html(labels, rows)}</details>"
        '<p class="how"><b>How to read this:</b> keys are those of summary.json (nested '
        "objects joined by dots; units in the names: _s seconds, _mwh MWh, _mw MW, _eur "
        f"EUR, _t tonnes). Δ is each run minus the baseline, {_e(labels[0])}; Δ % is Δ over "
        "the baseline's magnitude; a dash means a run lacks the KPI.</p></section>"
    )
    parts.append("<h2>Scheduling</h2>")
    parts.append(
        figure_card(
            "fig-utilisation",
            utilisation_compare_figure(runs),
            "Busy GPUs as a share of the GPUs online, one line per run, as exact time "
            "averages over common bins." + _band_note(runs),
        )
    )
    for i, (_, fig) in enumerate(wait_compare_figures(runs)):
        parts.append(
            figure_card(
                f"fig-waits-{i + 1}",
                fig,
                "Per run, the share of the tier's started jobs that waited at most the wait "
                "on the x axis; a curve further left means shorter waits. Waits under 1 s are "
                "drawn at 1 s." + _waits_note(runs),
            )
        )
    parts.append("<h2>Facility</h2>")
    parts += _facility_html(runs, labels)
    parts.append("</main>")
    parts.append(
        f"<footer>narvik {_e(__version__)} &middot; rendered from the summary.json, jobs.parquet "
        "and timeseries.parquet of each run &middot; re-render with "
        "<code>narvik compare RUN_DIR RUN_DIR...</code></footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n"
        '<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>\n'
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
        "</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n"
    )


def render_compare_html(runs: Sequence[RunData], out_path: str | Path) -> Path:
    """Write :func:`compare_html` to ``out_path`` atomically; :class:`ValueError` if unwritable."""
    target = Path(out_path)
    try:
        write_text_atomic(target, compare_html(runs))
    except OSError as exc:
        raise ValueError(f"{target}: cannot write the comparison ({exc.strerror or exc})") from exc
    return target
