"""The HTML report of a study: ``study.html`` from ``study.json`` and ``study.parquet``.

:func:`render_study_report` reads the study folder written by the study runner (the spec as
plain JSON, one Parquet row per run) and writes one self-contained ``study.html`` beside
them, atomically: plotly.js inlined once, nothing loaded from the network, and the same
inputs give byte-identical HTML (fixed div ids, no timestamps). It shows, over the runs that
finished (status ``ok``):

* each shown KPI against each axis: the mean over seeds with its 95 % Student-t interval,
  one line per combination of the other axes' values;
* a Pareto view of two KPIs, one point per study point, the non-dominated ones joined;
* the points ranked by one KPI, with links to every seed's ``runs/<run_id>/report.html``;
* the failed runs and their errors.

The statistics are in :mod:`narvik.kpi.study_stats`. This module reads ``study.json`` as
plain JSON: the kpi layer does not import :mod:`narvik.study`.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pyarrow as pa
import pyarrow.parquet as pq
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from narvik import __version__
from narvik.atomic import write_text_atomic
from narvik.kpi.plots import PALETTE, TEMPLATE
from narvik.kpi.report import _CSS as RUN_REPORT_CSS
from narvik.kpi.report import REPORT_FILE, figure_card, read_json_object
from narvik.kpi.study_stats import CONFIDENCE, Interval, lower_is_better, mean_ci, pareto_front

STUDY_JSON = "study.json"
STUDY_PARQUET = "study.parquet"
STUDY_HTML = "study.html"
RUNS_DIR = "runs"
OK = "ok"

#: Columns of ``study.parquet`` that every study has (then one per axis, then the KPIs).
REQUIRED_COLUMNS = ("run_id", "seed", "status", "error")
#: Columns that are never KPIs (besides the axes).
NOT_KPIS = ("run_id", "seed", "status", "error")
#: The KPIs shown by default, those present; the p95 wait of every tier goes after ``erf``.
DEFAULT_KPIS_FIRST = ("utilization", "pue", "erf")
DEFAULT_KPIS_LAST = (
    "peak_facility_power_mw",
    "energy_cost_eur",
    "co2_t",
    "heat_reused_mwh",
    "preemptions_total",
)
TIER_P95 = re.compile(r"^wait_s\.by_tier\.[^.]+\.p95$")
#: Default Pareto pair: utilisation against the national tier's p95 wait.
DEFAULT_PARETO = ("utilization", "wait_s.by_tier.national.p95")
LABEL_MAX_CHARS = 48
#: Legend entries per row above a figure (for its height), and most ticks at axis values.
LEGEND_ITEMS_PER_ROW = 3
MAX_TICKS = 12

_STUDY_CSS = """
table.kpi thead th { font-size: 13px; font-weight: 600; color: var(--muted);
  vertical-align: bottom; border-bottom: 2px solid var(--line); }
table.kpi th.v { text-align: right; }
table.kpi tr.best td { background: #eef7ee; }
table.kpi td.links { white-space: nowrap; }
table.kpi td.links a, table.kpi td.links span { margin-right: 6px; }
table.kpi td.links a { color: var(--accent); }
table.kpi td.links span.failed { color: #a33; text-decoration: line-through; }
.scroll { overflow-x: auto; }
pre.err { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: 12px;
  max-width: 720px; }
code { font-size: 13px; }
"""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class AxisSpec:
    """An axis of the study: its dotted path and its values (as ``study.json`` has them)."""

    path: str
    values: tuple[Any, ...]
    labels: tuple[str, ...] = ()
    """Names of the values, given by the study (``axes.labels``), shown instead of them."""

    @property
    def keys(self) -> tuple[str, ...]:
        """The canonical key of each value, without repeats, in the study's order."""
        return tuple(dict.fromkeys(value_key(v) for v in self.values))

    @property
    def numeric(self) -> bool:
        return all(_is_number(v) for v in self.values)

    def label(self, key: str) -> str:
        for i, v in enumerate(self.values):
            if value_key(v) == key:
                return self.labels[i] if i < len(self.labels) else value_label(v)
        return key


@dataclass(frozen=True)
class ReportSettings:
    """The ``report`` table of the study: what the HTML shows."""

    kpis: tuple[str, ...] = ()
    pareto: tuple[str, str] | None = None
    minimize: tuple[str, ...] = ()
    maximize: tuple[str, ...] = ()

    def lower(self, kpi: str) -> bool:
        """Whether lower values of ``kpi`` are better (the study's lists, else its name)."""
        return lower_is_better(kpi, self.minimize, self.maximize)

    rank_by: str | None = None


@dataclass(frozen=True)
class StudyRun:
    """One row of ``study.parquet``."""

    run_id: str
    point: tuple[str, ...]
    """The canonical key of its value on each axis."""
    cells: tuple[Any, ...]
    """Its value on each axis, as in the Parquet file."""
    seed: int | None
    ok: bool
    error: str | None
    kpis: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyPoint:
    """A point of the study (a value on each axis) and its runs, one per seed."""

    index: int
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    runs: tuple[StudyRun, ...]

    @property
    def ok_runs(self) -> tuple[StudyRun, ...]:
        return tuple(r for r in self.runs if r.ok)

    def stat(self, kpi: str) -> Interval:
        """Mean of ``kpi`` over the seeds that finished, with its confidence interval."""
        return mean_ci((r.kpis.get(kpi, math.nan) for r in self.ok_runs), CONFIDENCE)

    def describe(self, axes: Sequence[AxisSpec]) -> str:
        pairs = zip(axes, self.labels, strict=True)
        return ", ".join(f"{a.path}={_short(v)}" for a, v in pairs) or "base"


@dataclass(frozen=True, eq=False)
class StudyData:
    """The two files of a study folder, checked and loaded."""

    study_dir: Path
    name: str
    scenario: str
    mode: str
    seeds: tuple[int, ...]
    axes: tuple[AxisSpec, ...]
    report: ReportSettings
    overrides: Mapping[str, Any]
    runs: tuple[StudyRun, ...]
    kpi_columns: tuple[str, ...]
    """Numeric columns of ``study.parquet`` other than the axes, seed and ids, in file order."""

    @property
    def n_ok(self) -> int:
        return sum(r.ok for r in self.runs)

    @property
    def failed(self) -> tuple[StudyRun, ...]:
        return tuple(r for r in self.runs if not r.ok)


def value_key(value: Any) -> str:
    """A canonical key of an axis value or of its Parquet cell (lists and tables are JSON
    strings in the file; integral floats equal their integers)."""
    if isinstance(value, dict | list | tuple):
        value = json.dumps(value, sort_keys=True)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, default=str)


def value_label(value: Any) -> str:
    """An axis value as text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(text: str, limit: int = LABEL_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return math.nan


# --------------------------------------------------------------------------- loading


def _str_list(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{path}: {key!r} must be a list of KPI names")
    return tuple(value)


def _parse_axes(raw: Any, path: Path) -> tuple[AxisSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{path}: 'axes' must be a list of {{path, values}} objects")
    axes = []
    for i, a in enumerate(raw):
        ok = isinstance(a, dict) and isinstance(a.get("path"), str)
        if not ok or not isinstance(a.get("values"), list):
            raise ValueError(f"{path}: 'axes.{i}' must be an object with 'path' and 'values'")
        axes.append(AxisSpec(a["path"], tuple(a["values"]), tuple(a.get("labels") or ())))
    return tuple(axes)


def _parse_report(raw: Any, path: Path) -> ReportSettings:
    if raw is None:
        return ReportSettings()
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: 'report' must be an object")
    pareto = _str_list(raw.get("pareto"), path, "report.pareto")
    if pareto and len(pareto) != 2:
        raise ValueError(f"{path}: 'report.pareto' must name two KPIs (x, y)")
    rank_by = raw.get("rank_by")
    if rank_by is not None and not isinstance(rank_by, str):
        raise ValueError(f"{path}: 'report.rank_by' must be a KPI name")
    return ReportSettings(
        kpis=_str_list(raw.get("kpis"), path, "report.kpis"),
        pareto=(pareto[0], pareto[1]) if pareto else None,
        minimize=_str_list(raw.get("minimize"), path, "report.minimize"),
        maximize=_str_list(raw.get("maximize"), path, "report.maximize"),
        rank_by=rank_by,
    )


def _read_table(path: Path, axes: Sequence[AxisSpec]) -> pa.Table:
    if not path.is_file():
        raise ValueError(
            f"{path}: missing; a study folder holds {STUDY_PARQUET} (narvik study run)"
        )
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
    required = list(REQUIRED_COLUMNS) + [a.path for a in axes]
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def _numeric_columns(table: pa.Table, axes: Sequence[AxisSpec]) -> tuple[str, ...]:
    skip = set(NOT_KPIS) | {a.path for a in axes}
    out = []
    for f in table.schema:
        t = f.type
        numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
        if numeric and f.name not in skip:
            out.append(f.name)
    return tuple(out)


def _runs(table: pa.Table, axes: Sequence[AxisSpec], kpis: Sequence[str]) -> tuple[StudyRun, ...]:
    runs = []
    for row in table.to_pylist():
        cells = tuple(row[a.path] for a in axes)
        seed = row["seed"]
        runs.append(
            StudyRun(
                run_id=str(row["run_id"]),
                point=tuple(value_key(c) for c in cells),
                cells=cells,
                seed=int(seed) if _is_number(seed) else None,
                ok=row["status"] == OK,
                error=None if row["error"] is None else str(row["error"]),
                kpis={k: _to_float(row[k]) for k in kpis},
            )
        )
    return tuple(runs)


def load_study(study_dir: str | os.PathLike[str]) -> StudyData:
    """Read and check ``study.parquet`` and ``study.json`` of a study folder
    (:class:`ValueError` naming the file when one is missing or malformed)."""
    folder = Path(study_dir)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such study folder")
    parquet_path, json_path = folder / STUDY_PARQUET, folder / STUDY_JSON
    if not parquet_path.is_file():
        _read_table(parquet_path, ())  # raises, naming the file
    spec = read_json_object(json_path, f"a study folder holds {STUDY_JSON} (narvik study run)")
    axes = _parse_axes(spec.get("axes"), json_path)
    table = _read_table(parquet_path, axes)
    kpis = _numeric_columns(table, axes)
    seeds = spec.get("seeds") or []
    overrides = spec.get("overrides") or {}
    return StudyData(
        study_dir=folder,
        name=str(spec.get("name") or folder.name),
        scenario=str(spec.get("scenario") or "–"),
        mode=str(spec.get("mode") or "grid"),
        seeds=tuple(int(s) for s in seeds if _is_number(s)),
        axes=axes,
        report=_parse_report(spec.get("report"), json_path),
        overrides=overrides if isinstance(overrides, dict) else {},
        runs=_runs(table, axes, kpis),
        kpi_columns=kpis,
    )


# --------------------------------------------------------------------------- selection


def study_points(data: StudyData) -> list[StudyPoint]:
    """The points of the study in the order of their first run, each with its runs."""
    grouped: dict[tuple[str, ...], list[StudyRun]] = {}
    for r in data.runs:
        grouped.setdefault(r.point, []).append(r)
    points = []
    for i, (keys, runs) in enumerate(grouped.items()):
        labels = tuple(
            a.label(k) if k in a.keys else value_label(runs[0].cells[j])
            for j, (a, k) in enumerate(zip(data.axes, keys, strict=True))
        )
        points.append(StudyPoint(i, keys, labels, tuple(runs)))
    return points


def _has_data(data: StudyData, kpi: str) -> bool:
    return any(r.ok and math.isfinite(r.kpis.get(kpi, math.nan)) for r in data.runs)


def default_kpis(data: StudyData) -> list[str]:
    """The standard KPIs that some finished run has: utilisation, PUE, ERF, the p95 wait of
    every tier, peak power, energy cost, CO2, heat reused and preemptions."""
    tiers = [c for c in data.kpi_columns if TIER_P95.match(c)]
    wanted = [*DEFAULT_KPIS_FIRST, *tiers, *DEFAULT_KPIS_LAST]
    return [k for k in wanted if k in data.kpi_columns and _has_data(data, k)]


def shown_kpis(data: StudyData) -> tuple[list[str], list[str]]:
    """The KPIs the report shows (``report.kpis`` or :func:`default_kpis`) and notes on the
    requested ones that ``study.parquet`` does not have."""
    if not data.report.kpis:
        return default_kpis(data), []
    shown = [k for k in dict.fromkeys(data.report.kpis) if k in data.kpi_columns]
    missing = [k for k in data.report.kpis if k not in data.kpi_columns]
    notes = [f"report.kpis: {k!r} is not a numeric column of {STUDY_PARQUET}" for k in missing]
    return shown, notes


def pareto_pair(data: StudyData, shown: Sequence[str]) -> tuple[tuple[str, str] | None, list[str]]:
    """The two KPIs of the Pareto view (``report.pareto``, else utilisation against the
    national p95 wait, else the first two shown KPIs) and notes on a requested pair that
    cannot be drawn."""
    notes = []
    if data.report.pareto is not None:
        absent = [k for k in data.report.pareto if k not in data.kpi_columns]
        if not absent:
            return data.report.pareto, []
        notes.append(
            f"report.pareto: {', '.join(repr(k) for k in absent)} not in {STUDY_PARQUET}; "
            "showing the default pair instead"
        )
    if all(k in data.kpi_columns and _has_data(data, k) for k in DEFAULT_PARETO):
        return DEFAULT_PARETO, notes
    if len(shown) >= 2:
        return (shown[0], shown[1]), notes
    return None, notes


def rank_kpi(data: StudyData, shown: Sequence[str]) -> str | None:
    """``report.rank_by`` when it is a column, else the first shown KPI."""
    if data.report.rank_by is not None and data.report.rank_by in data.kpi_columns:
        return data.report.rank_by
    return shown[0] if shown else None


def ranked(points: Sequence[StudyPoint], kpi: str | None, lower: bool) -> list[StudyPoint]:
    """The points best first by the mean of ``kpi`` (points without a value last, ties in
    study order)."""
    if kpi is None:
        return list(points)

    def key(p: StudyPoint) -> tuple[bool, float, int]:
        m = p.stat(kpi).mean
        if not math.isfinite(m):
            return (True, 0.0, p.index)
        return (False, m if lower else -m, p.index)

    return sorted(points, key=key)


# --------------------------------------------------------------------------- figures


def _direction(report: ReportSettings, kpi: str) -> str:
    return "lower is better" if report.lower(kpi) else "higher is better"


def _none_if_nan(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _layout(fig: go.Figure, title: str, plot_height: int, legend_rows: int) -> go.Figure:
    """Title and legend above the plots (the legend in rows of its own, never over a plot),
    in pixels from the top of the figure."""
    top = 60 + 26 * legend_rows
    height = plot_height + top + 70
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.01, "xanchor": "left", "yref": "container"},
        showlegend=legend_rows > 0,
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 1.0 - 46 / height,
            "yanchor": "top",
            "xanchor": "left",
            "x": 0.0,
            "bgcolor": "rgba(255,255,255,0.8)",
        },
        height=height,
        margin={"l": 70, "r": 30, "t": top, "b": 70},
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13},
    )
    fig.update_layout(title_y=1.0 - 14 / height, title_yanchor="top")
    return fig


def axis_figure(
    data: StudyData, points: Sequence[StudyPoint], axis_index: int, kpis: Sequence[str]
) -> go.Figure:
    """One panel per KPI: its mean over seeds (with the interval as error bars) at each value
    of the axis, one line per combination of the other axes' values."""
    axis = data.axes[axis_index]
    others = [i for i in range(len(data.axes)) if i != axis_index]
    groups: dict[tuple[str, ...], list[StudyPoint]] = {}
    for p in points:
        groups.setdefault(tuple(p.keys[i] for i in others), []).append(p)
    cols = 1 if len(kpis) == 1 else 2
    rows = max(1, math.ceil(len(kpis) / cols))
    titles = [f"{k} ({_direction(data.report, k)})" for k in kpis]
    spacing = min(0.3, 100 / (300 * rows)) if rows > 1 else 0.0
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=spacing)
    x_keys = list(axis.keys)
    x_extra = [p.keys[axis_index] for p in points if p.keys[axis_index] not in x_keys]
    x_keys += list(dict.fromkeys(x_extra))
    x_labels = [_short(axis.label(k)) for k in x_keys]
    xs: list[Any] = [json.loads(k) for k in x_keys] if axis.numeric else x_labels
    drawn = [ms for ms in groups.values() if any(p.ok_runs for p in ms)]
    for g, members in enumerate(drawn):
        name = _group_name(data, others, members[0]) if others else "mean over seeds"
        at = {p.keys[axis_index]: p for p in members}
        color = PALETTE[g % len(PALETTE)]
        for k, kpi in enumerate(kpis):
            stats = [at[x].stat(kpi) if x in at else None for x in x_keys]
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[None if s is None else _none_if_nan(s.mean) for s in stats],
                    error_y={
                        "type": "data",
                        "array": [None if s is None else s.half_width for s in stats],
                        "visible": True,
                        "thickness": 1.3,
                        "width": 5,
                    },
                    customdata=[0 if s is None else s.n for s in stats],
                    mode="lines+markers",
                    name=name,
                    legendgroup=f"g{g}",
                    showlegend=k == 0,
                    line={"color": color, "width": 2},
                    marker={"color": color, "size": 8},
                    connectgaps=True,
                    hovertemplate=f"{_e_js(axis.path)}=%{{x}}<br>{_e_js(kpi)}=%{{y:.4g}}"
                    "<br>seeds: %{customdata}<extra>%{fullData.name}</extra>",
                ),
                row=k // cols + 1,
                col=k % cols + 1,
            )
    if axis.numeric:
        fig.update_xaxes(**_numeric_ticks([float(x) for x in xs], x_labels))
    else:
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=x_labels)
    fig.update_xaxes(title_text=axis.path)
    legend_rows = math.ceil(len(drawn) / LEGEND_ITEMS_PER_ROW) if others else 0
    _layout(fig, f"KPIs against {axis.path}", 300 * rows, legend_rows)
    return fig


def _numeric_ticks(xs: Sequence[float], labels: Sequence[str]) -> dict[str, Any]:
    """Ticks at the axis values when they are few; a log scale when they are positive and
    span two decades or more."""
    out: dict[str, Any] = {}
    if len(xs) <= MAX_TICKS:
        out.update(tickmode="array", tickvals=list(xs), ticktext=list(labels))
    if xs and min(xs) > 0 and max(xs) / min(xs) >= 100:
        out["type"] = "log"
    return out


def _group_name(data: StudyData, others: Sequence[int], p: StudyPoint) -> str:
    return ", ".join(f"{data.axes[i].path}={_short(p.labels[i], 32)}" for i in others)


def _e_js(text: str) -> str:
    """Text for a plotly hover template, which is HTML."""
    return html.escape(text)


def pareto_figure(
    data: StudyData, points: Sequence[StudyPoint], pair: tuple[str, str]
) -> tuple[go.Figure, list[StudyPoint]]:
    """Every point with a value of both KPIs at its means (intervals as error bars), the
    non-dominated ones marked and joined; returns the figure and the front, sorted by x."""
    x_kpi, y_kpi = pair
    lower = (
        data.report.lower(x_kpi),
        data.report.lower(y_kpi),
    )
    stats = [(p, p.stat(x_kpi), p.stat(y_kpi)) for p in points]
    drawn = [(p, sx, sy) for p, sx, sy in stats if math.isfinite(sx.mean + sy.mean)]
    front_idx = pareto_front([(sx.mean, sy.mean) for _, sx, sy in drawn], lower)
    front = [drawn[i] for i in front_idx]
    fig = go.Figure()
    for name, members, style in (
        ("study points", drawn, {"color": "#8a96a3", "size": 9, "symbol": "circle"}),
        ("Pareto front", front, {"color": PALETTE[5], "size": 12, "symbol": "diamond"}),
    ):
        fig.add_trace(
            go.Scatter(
                x=[sx.mean for _, sx, _ in members],
                y=[sy.mean for _, _, sy in members],
                error_x={"type": "data", "array": [sx.half_width for _, sx, _ in members]},
                error_y={"type": "data", "array": [sy.half_width for _, _, sy in members]},
                text=[p.describe(data.axes) for p, _, _ in members],
                mode="lines+markers" if name == "Pareto front" else "markers",
                name=name,
                marker=style,
                line={"color": style["color"], "width": 2, "dash": "dot"},
                hovertemplate=f"%{{text}}<br>{_e_js(x_kpi)}=%{{x:.4g}}<br>"
                f"{_e_js(y_kpi)}=%{{y:.4g}}<extra>%{{fullData.name}}</extra>",
            )
        )
    fig.update_xaxes(title_text=f"{x_kpi} ({_direction(data.report, x_kpi)})")
    fig.update_yaxes(title_text=f"{y_kpi} ({_direction(data.report, y_kpi)})")
    _layout(fig, f"Pareto view: {x_kpi} against {y_kpi}", 420, 1)
    return fig, [p for p, _, _ in front]


# --------------------------------------------------------------------------- HTML


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def format_number(x: float) -> str:
    """A KPI value for a table: thousands separated when large, four significant digits
    otherwise; "–" when missing."""
    if not math.isfinite(x):
        return "–"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:,.1f}"
    return f"{x:.4g}"


def format_interval(s: Interval) -> str:
    if s.half_width is None or not math.isfinite(s.mean):
        return format_number(s.mean)
    return f"{format_number(s.mean)} ± {format_number(s.half_width)}"


def _header(data: StudyData) -> str:
    items = [
        ("Scenario", data.scenario),
        ("Runs", len(data.runs)),
        ("OK", data.n_ok),
        ("Failed", len(data.failed)),
        ("Seeds", ", ".join(str(s) for s in data.seeds) or "–"),
        ("Axes", ", ".join(a.path for a in data.axes) or "none"),
        ("Mode", data.mode),
    ]
    fields = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in items)
    return f"<header><h1>narvik study report: {_e(data.name)}</h1><dl>{fields}</dl></header>"


def _settings_html(data: StudyData) -> str:
    rows = [
        f"<tr><td><code>{_e(a.path)}</code></td><td>axis</td>"
        f"<td>{_e(', '.join(value_label(v) for v in a.values))}</td></tr>"
        for a in data.axes
    ]
    rows += [
        f"<tr><td><code>{_e(k)}</code></td><td>every run</td><td>{_e(value_label(v))}</td></tr>"
        for k, v in sorted(data.overrides.items())
    ]
    if not rows:
        return '<p class="note">The study has no axes and no overrides: one point.</p>'
    return (
        '<section class="card" id="settings"><div class="scroll"><table class="kpi">'
        "<thead><tr><th>Scenario field</th><th>Set for</th><th>Values</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        f'<p class="how">Scenario <code>{_e(data.scenario)}</code>; axes combined by '
        f"<b>{_e(data.mode)}</b>, each point run once per seed.</p></section>"
    )


def _axes_html(data: StudyData, points: Sequence[StudyPoint], kpis: Sequence[str]) -> str:
    if not data.axes:
        return '<p class="note">The study has no axes: its single point is in the ranking.</p>'
    if not kpis:
        return '<p class="note">No KPI to show: no run finished with one of them.</p>'
    parts = []
    for i, axis in enumerate(data.axes):
        others = [a.path for j, a in enumerate(data.axes) if j != i]
        lines = (
            f"one line per combination of {', '.join(others)}"
            if others
            else "a single line (one axis)"
        )
        parts.append(
            figure_card(
                f"fig-axis-{i}",
                axis_figure(data, points, i, kpis),
                f"Each panel is one KPI against {axis.path}; a marker is the mean over the "
                f"seeds that finished and its bar the {CONFIDENCE:.0%} confidence interval "
                f"of that mean (Student t; no bar with one seed); {lines}.",
            )
        )
    return "\n".join(parts)


def _pareto_html(
    data: StudyData, points: Sequence[StudyPoint], pair: tuple[str, str] | None
) -> str:
    if pair is None:
        return '<p class="note">A Pareto view needs two KPIs with values: none here.</p>'
    fig, front = pareto_figure(data, points, pair)
    listed = "; ".join(p.describe(data.axes) for p in front) or "none"
    return figure_card(
        "fig-pareto",
        fig,
        f"One marker per study point at its means over seeds, with {CONFIDENCE:.0%} "
        "intervals as bars. The diamonds joined by the dotted line are the Pareto front: "
        "no other point is at least as good on both KPIs and better on one (directions in "
        f"the axis titles). On the front: {listed}.",
    )


def _run_links(point: StudyPoint) -> str:
    """A link to each finished seed's run report; failed seeds struck through."""
    links = []
    for r in point.runs:
        seed = _e("–" if r.seed is None else r.seed)
        if r.ok:
            href = f"{RUNS_DIR}/{r.run_id}/{REPORT_FILE}"
            links.append(f'<a href="{_e(href)}" title="run {_e(r.run_id)}">{seed}</a>')
        else:
            links.append(f'<span class="failed" title="failed: see below">{seed}</span>')
    return " ".join(links)


def _ranking_html(
    data: StudyData, points: Sequence[StudyPoint], kpis: Sequence[str], by: str | None
) -> str:
    lower = by is not None and data.report.lower(by)
    order = ranked(points, by, lower)
    head = ["#", *(a.path for a in data.axes), "Seeds ok"]
    head_html = "".join(f"<th>{_e(h)}</th>" for h in head)
    head_html += "".join(
        f'<th class="v">{_e(k)}{" ▲" if k == by and lower else " ▼" if k == by else ""}</th>'
        for k in kpis
    )
    head_html += "<th>Run report by seed</th>"
    rows = []
    for rank, p in enumerate(order, start=1):
        cells = [f"<td>{rank}</td>"]
        cells += [f"<td>{_e(_short(v))}</td>" for v in p.labels]
        cells.append(f"<td>{len(p.ok_runs)}/{len(p.runs)}</td>")
        cells += [f'<td class="v">{_e(format_interval(p.stat(k)))}</td>' for k in kpis]
        cells.append(f'<td class="links">{_run_links(p)}</td>')
        cls = ' class="best"' if rank == 1 and by is not None and p.ok_runs else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    how = (
        f"Points ranked by the mean of {by} ({_direction(data.report, by)}), best "
        "first; points without a value last."
        if by is not None
        else "No KPI to rank by: points in study order."
    )
    return (
        '<section class="card" id="ranking"><div class="scroll"><table class="kpi">'
        f"<thead><tr>{head_html}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        f'<p class="how"><b>How to read this:</b> {_e(how)} Each KPI is the mean over the '
        f"seeds that finished ± the half-width of its {CONFIDENCE:.0%} confidence interval "
        "(no interval with one seed); each seed number opens that run's report (struck "
        "through: the run failed).</p></section>"
    )


def _failed_html(data: StudyData) -> str:
    failed = data.failed
    if not failed:
        return '<p class="note" id="failed">No run failed.</p>'
    head = ["Run", *(a.path for a in data.axes), "Seed", "Error"]
    rows = []
    for r in failed:
        cells = [f"<td><code>{_e(r.run_id)}</code></td>"]
        cells += [
            f"<td>{_e(_short(a.label(k) if k in a.keys else value_label(c)))}</td>"
            for a, k, c in zip(data.axes, r.point, r.cells, strict=True)
        ]
        cells.append(f"<td>{_e('–' if r.seed is None else r.seed)}</td>")
        cells.append(f'<td><pre class="err">{_e(r.error or "(no error recorded)")}</pre></td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<section class="card" id="failed"><div class="scroll"><table class="kpi">'
        f"<thead><tr>{''.join(f'<th>{_e(h)}</th>' for h in head)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="how"><b>How to read this:</b> runs that did not finish, with the error '
        "the runner recorded; they count in no mean above. Running the study again retries "
        "them.</p></section>"
    )


def render_study_html(data: StudyData) -> str:
    """The study report as one self-contained HTML document (plotly.js inlined in the head)."""
    points = study_points(data)
    kpis, notes = shown_kpis(data)
    pair, pareto_notes = pareto_pair(data, kpis)
    by = rank_kpi(data, kpis)
    if data.report.rank_by is not None and data.report.rank_by != by:
        notes.append(f"report.rank_by: {data.report.rank_by!r} is not in {STUDY_PARQUET}")
    parts = [_header(data), "<main>"]
    parts += [f'<p class="note">{_e(n)}</p>' for n in notes + pareto_notes]
    parts += ["<h2>Study</h2>", _settings_html(data)]
    parts += ["<h2>KPIs along each axis</h2>", _axes_html(data, points, kpis)]
    parts += ["<h2>Pareto view</h2>", _pareto_html(data, points, pair)]
    parts += ["<h2>Ranking</h2>", _ranking_html(data, points, kpis, by)]
    parts += [f"<h2>Failed runs ({len(data.failed)})</h2>", _failed_html(data), "</main>"]
    parts.append(
        f"<footer>narvik {_e(__version__)} &middot; rendered from {STUDY_JSON} and "
        f"{STUDY_PARQUET} &middot; re-render with <code>narvik study report DIR</code></footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(f'narvik study: {data.name}')}</title>\n"
        f"<style>{RUN_REPORT_CSS}{_STUDY_CSS}</style>\n"
        '<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>\n'
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
        "</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n"
    )


def render_study_report(study_dir: str | os.PathLike[str]) -> Path:
    """Write ``study_dir/study.html`` from ``study.json`` and ``study.parquet``, atomically;
    return its path.

    Raises :class:`ValueError` naming the file when one of them is missing or malformed.
    """
    data = load_study(study_dir)
    target = data.study_dir / STUDY_HTML
    write_text_atomic(target, render_study_html(data))
    return target
