"""The HTML report of a simulation run: ``report.html`` from the files of a run folder.

:func:`render_report` reads ``summary.json``, ``jobs.parquet`` and
``timeseries.parquet`` (columns and keys: ARCHITECTURE.md), builds the figures
of :mod:`narvik.kpi.plots` and writes one self-contained ``report.html`` beside
them, atomically: plotly.js is inlined once in the head, nothing is loaded from
the network, and the same input files give byte-identical HTML (fixed div ids,
no timestamps, no random sampling).

The facility figures (power against the grid cap, PUE against ambient
temperature, heat to offtakers) are drawn for physical sites only; a ``flat:N``
pool has no physics and gets a note instead.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from plotly.offline import get_plotlyjs

from narvik import __version__
from narvik.atomic import write_text_atomic
from narvik.kpi.plots import (
    StepSeries,
    busy_gpus_series,
    heat_figure,
    kpi_rows,
    mark_warmup,
    power_figure,
    pue_figure,
    utilisation_figure,
    wait_figure,
)
from narvik.kpi.tenancy_plots import BILLS_DIV_ID, TenancyTable, tenancy_view
from narvik.units import SECONDS_PER_DAY

SUMMARY_FILE = "summary.json"
JOBS_FILE = "jobs.parquet"
TIMESERIES_FILE = "timeseries.parquet"
REPORT_FILE = "report.html"

#: Keys ``summary.json`` must have for a report; the others are shown as "–" when absent.
REQUIRED_SUMMARY_KEYS = ("site", "policy", "n_gpus", "jobs")
JOBS_COLUMNS = ("job_id", "tier", "gpus", "submit_s", "start_s", "end_s", "state")
TIMESERIES_COLUMNS = ("t_s", "gpus_busy")
PHYSICAL_TIMESERIES_COLUMNS = (
    "it_power_w",
    "facility_power_w",
    "power_cap_w",
    "ambient_c",
    "pue",
)
PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}

_CSS = """
:root { --ink: #1d2733; --muted: #5b6775; --line: #dde3ea; --bg: #f4f6f9; --accent: #1f3b57; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: var(--accent); color: #fff; padding: 22px 32px; }
header h1 { margin: 0 0 6px; font-size: 24px; font-weight: 600; }
header dl { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 0; }
header dt { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; opacity: .75; }
header dd { margin: 0; font-weight: 600; }
header div { display: flex; flex-direction: column; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 24px 40px; }
h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 2px solid var(--line);
  padding-bottom: 4px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  margin: 0 0 18px; }
.how { color: var(--muted); font-size: 14px; margin: 6px 4px 2px; }
.how b { color: var(--ink); }
.note { background: #fff8e6; border: 1px solid #f0d899; border-radius: 8px; padding: 10px 14px; }
.kpis { columns: 2 480px; column-gap: 28px; }
table.kpi { border-collapse: collapse; width: 100%; font-size: 14px; margin-bottom: 10px;
  break-inside: avoid; }
table.kpi th, table.kpi td { padding: 5px 10px; border-bottom: 1px solid var(--line);
  text-align: left; }
table.kpi td.v { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kpi td.u { color: var(--muted); white-space: nowrap; }
table.kpi tr.g th { background: #eef2f6; font-size: 13px; text-transform: uppercase;
  letter-spacing: .04em; color: var(--accent); }
footer { color: var(--muted); font-size: 13px; text-align: center; padding: 10px 0 30px; }
"""
#: Styles of the tenancy section, added only to reports that have one (others stay unchanged).
_TENANCY_CSS = """
.card h3 { font-size: 16px; margin: 4px 0 8px; color: var(--accent); }
.tgrid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr));
  gap: 0 18px; align-items: start; }
.scroll { overflow-x: auto; }
table.kpi thead th { font-size: 13px; font-weight: 600; color: var(--muted);
  vertical-align: bottom; border-bottom: 2px solid var(--line); }
table.kpi th.v { text-align: right; }
table.tt td { white-space: nowrap; }
table.kpi tr.m td { border-top: 2px solid #c9d3de; }
table.kpi tfoot td { font-weight: 600; border-top: 2px solid var(--accent); }
.tnote { font-size: 14px; margin: 6px 4px 2px; }
"""


@dataclass(frozen=True, eq=False)
class RunData:
    """The three files of a run folder, checked against the contract and loaded."""

    run_dir: Path
    summary: dict[str, Any]
    jobs: pa.Table
    timeseries: pa.Table

    @property
    def site(self) -> str:
        return str(self.summary["site"])

    @property
    def is_physical(self) -> bool:
        """A site with physics: anything but a bare ``flat:N`` pool."""
        return not self.site.startswith("flat:")

    @property
    def start_date(self) -> dt.date | None:
        return _start_date(self.summary, self.run_dir / SUMMARY_FILE)

    @property
    def tiers(self) -> list[str]:
        """The tiers of ``summary.json`` in its order, then any other tier of the jobs, sorted."""
        listed = [str(t) for t in self.summary.get("tiers") or []]
        seen = set(listed)
        in_jobs = pc.unique(self.jobs.column("tier").drop_null()).to_pylist()
        return listed + sorted(str(t) for t in in_jobs if str(t) not in seen)

    @property
    def span_s(self) -> float:
        """``span_s`` of the summary, else the last recorded instant or job end."""
        span = self.summary.get("span_s")
        if isinstance(span, int | float) and not isinstance(span, bool) and span > 0:
            return float(span)
        candidates = [_max(self.timeseries.column("t_s")), _max(self.jobs.column("end_s"))]
        candidates += [_max(self.jobs.column("submit_s"))]
        return max([c for c in candidates if c is not None] + [1.0])

    @property
    def warmup_s(self) -> float:
        """End of the warm-up the KPIs leave out, s (0: none, or a summary without it)."""
        value = self.summary.get("warmup_s")
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        return 0.0

    @property
    def offtaker_names(self) -> list[str]:
        return [str(o["name"]) for o in self.summary.get("offtakers") or []]


def _max(column: pa.ChunkedArray) -> float | None:
    value = pc.max(column).as_py()
    return float(value) if value is not None and math.isfinite(value) else None


def _start_date(summary: Mapping[str, Any], path: Path) -> dt.date | None:
    value = summary.get("start_date")
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ValueError(f"{path}: 'start_date' is not an ISO date: {value!r}") from exc


# --------------------------------------------------------------------------- loading


def read_json_object(path: Path, missing: str) -> dict[str, Any]:
    """A JSON object from ``path``; a ValueError naming the file when it is missing
    (``missing`` says what should hold it), unreadable or not an object."""
    if not path.is_file():
        raise ValueError(f"{path}: missing; {missing}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _read_summary(path: Path) -> dict[str, Any]:
    summary = read_json_object(path, f"a run folder holds {SUMMARY_FILE} (narvik simulate)")
    for key in REQUIRED_SUMMARY_KEYS:
        if key not in summary:
            raise ValueError(f"{path}: missing key {key!r}")
    n = summary["n_gpus"]
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"{path}: 'n_gpus' must be a positive integer, got {n!r}")
    if not isinstance(summary["jobs"], dict):
        raise ValueError(f"{path}: 'jobs' must be an object of counts by state")
    tiers = summary.get("tiers")
    if tiers is not None and not (
        isinstance(tiers, list) and all(isinstance(t, str) for t in tiers)
    ):
        raise ValueError(f"{path}: 'tiers' must be a list of tier names")
    offtakers = summary.get("offtakers")
    if offtakers is not None and not (
        isinstance(offtakers, list) and all(isinstance(o, dict) and "name" in o for o in offtakers)
    ):
        raise ValueError(f"{path}: 'offtakers' must be a list of objects with a 'name'")
    _start_date(summary, path)
    return summary


def _read_parquet(
    path: Path, required: Sequence[str], optional_prefixes: Sequence[str] = ()
) -> pa.Table:
    """Read the required columns and those starting with ``optional_prefixes``."""
    if not path.is_file():
        raise ValueError(f"{path}: missing; a run folder holds {path.name} (narvik simulate)")
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
    missing = [c for c in required if c not in schema.names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    wanted = list(required) + [
        n for n in schema.names if n not in required and n.startswith(tuple(optional_prefixes))
    ]
    try:
        return pq.read_table(path, columns=wanted)
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc


def _check_numeric(table: pa.Table, columns: Sequence[str], path: Path) -> None:
    for name in columns:
        t = table.schema.field(name).type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)):
            raise ValueError(f"{path}: column {name!r} must be numeric, got {t}")


def load_run(run_dir: str | Path) -> RunData:
    """Read and check the three files of a run folder (:class:`ValueError` naming the file)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such run folder")
    summary = _read_summary(run_dir / SUMMARY_FILE)
    physical = not str(summary["site"]).startswith("flat:")
    jobs_path = run_dir / JOBS_FILE
    jobs = _read_parquet(jobs_path, JOBS_COLUMNS)
    _check_numeric(jobs, ("gpus", "submit_s", "start_s", "end_s"), jobs_path)
    if not _is_text(jobs.schema.field("tier").type):
        raise ValueError(f"{jobs_path}: column 'tier' must be text")
    ts_path = run_dir / TIMESERIES_FILE
    required = list(TIMESERIES_COLUMNS)
    prefixes: list[str] = []
    if physical:
        required += PHYSICAL_TIMESERIES_COLUMNS
        for o in summary.get("offtakers") or []:
            required += [f"heat_demand_w[{o['name']}]", f"heat_delivered_w[{o['name']}]"]
        prefixes = ["gpus_busy[", "gpus_total"]
    timeseries = _read_parquet(ts_path, required, prefixes)
    _check_numeric(timeseries, timeseries.column_names, ts_path)
    if timeseries.num_rows > 1:
        t = _floats(timeseries, "t_s")
        if not np.all(np.diff(t) >= 0):
            raise ValueError(f"{ts_path}: column 't_s' must be non-decreasing")
    return RunData(run_dir=run_dir, summary=summary, jobs=jobs, timeseries=timeseries)


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _floats(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name).cast(pa.float64())
    return pc.fill_null(column, math.nan).to_numpy()


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Section:
    """A figure of the report with its div id and its "how to read this" line."""

    div_id: str
    figure: go.Figure
    how_to_read: str


def _tier_masks(run: RunData) -> dict[str, np.ndarray]:
    tier = run.jobs.column("tier")
    return {t: pc.fill_null(pc.equal(tier, t), False).to_numpy() for t in run.tiers}


def scheduling_sections(run: RunData) -> list[Section]:
    """Utilisation by tier over time and the queue wait distribution by tier."""
    ts = run.timeseries
    t_s = _floats(ts, "t_s")
    start = _floats(run.jobs, "start_s")
    end = _floats(run.jobs, "end_s")
    submit = _floats(run.jobs, "submit_s")
    gpus = _floats(run.jobs, "gpus")
    masks = _tier_masks(run)
    tier_columns = [f"gpus_busy[{t}]" for t in run.tiers]
    if run.is_physical and all(c in ts.column_names for c in tier_columns):
        by_tier = {
            t: StepSeries.of(t_s, _floats(ts, c))
            for t, c in zip(run.tiers, tier_columns, strict=True)
        }
        source = "the busy GPUs of each tier, step by step"
    else:
        by_tier = {t: busy_gpus_series(start[m], end[m], gpus[m]) for t, m in masks.items()}
        source = "job starts and ends in jobs.parquet"
    fleet: float | StepSeries = float(run.summary["n_gpus"])
    if "gpus_total" in ts.column_names:
        fleet = StepSeries.of(t_s, _floats(ts, "gpus_total"))
    total = StepSeries.of(t_s, _floats(ts, "gpus_busy"))
    util = utilisation_figure(by_tier, fleet, run.span_s, run.start_date, busy_total=total)
    mark_warmup(util, run.warmup_s, run.start_date)
    waits = {t: (start - submit)[m & np.isfinite(start)] for t, m in masks.items()}
    return [
        Section(
            "fig-utilisation",
            util,
            "Stacked areas: the share of the GPU fleet each tenant tier keeps busy "
            f"(from {source}); the top of the stack is the fleet's utilisation and the dotted "
            "line the recorded total. Long runs are shown as exact time averages per bin "
            "(daily for a year of hourly steps)." + _warmup_band(run),
        ),
        Section(
            "fig-waits",
            wait_figure(waits),
            "Each curve is one tier's cumulative distribution of queue wait (start - submit) "
            "over the jobs that started: read across at 50% for the median, at 95% for the "
            "tail; a curve further left means shorter waits. Waits under 1 s are drawn at 1 s; "
            "jobs still pending are not included.",
        ),
    ]


def _warmup_band(run: RunData) -> str:
    """Added to the "how to read" line of a figure over time of a run with a warm-up."""
    return " The grey band is the warm-up, which the KPIs leave out." if run.warmup_s > 0 else ""


def facility_sections(run: RunData) -> list[Section]:
    """Power against the cap, PUE against ambient temperature and heat per offtaker."""
    ts = run.timeseries
    t_s = _floats(ts, "t_s")
    start_date = run.start_date
    power = power_figure(
        StepSeries.of(t_s, _floats(ts, "facility_power_w")),
        StepSeries.of(t_s, _floats(ts, "power_cap_w")),
        run.span_s,
        start_date,
        it_power_w=StepSeries.of(t_s, _floats(ts, "it_power_w")),
    )
    mark_warmup(power, run.warmup_s, start_date)
    sections = [
        Section(
            "fig-power",
            power,
            "Facility power drawn from the grid (IT plus cooling and power-chain losses) and "
            "the IT power within it, against the grid connection cap (dashed). The gap to the "
            "cap is the headroom for more GPUs or a hotter day." + _warmup_band(run),
        ),
        Section(
            "fig-pue",
            pue_figure(t_s, _floats(ts, "ambient_c"), _floats(ts, "pue"), start_date),
            "One point per step: PUE (facility power / IT power) against the outdoor "
            "temperature. The flat floor at low temperatures is free cooling by the dry "
            "coolers; the rise at high temperatures is the trim chillers taking over.",
        ),
    ]
    names = run.offtaker_names
    if names:
        offtakers = {
            n: (_floats(ts, f"heat_demand_w[{n}]"), _floats(ts, f"heat_delivered_w[{n}]"))
            for n in names
        }
        sections.append(
            Section(
                "fig-heat",
                heat_figure(t_s, run.span_s, offtakers, start_date),
                "For each heat offtaker, the pale bar is the heat it asked for and the solid "
                "bar in front the heat delivered from the GPU cooling loop; a visible pale "
                "part is demand left unmet.",
            )
        )
    return sections


# --------------------------------------------------------------------------- HTML


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _header(run: RunData) -> str:
    s = run.summary
    span_days = run.span_s / SECONDS_PER_DAY
    items = [
        ("Scenario", s["scenario"]) if s.get("scenario") else None,
        ("Site", s["site"]),
        ("Phase", s["phase"]) if s.get("phase") else None,
        ("Policy", s["policy"]),
        ("Seed", "–" if s.get("seed") is None else s["seed"]),
        ("Span", f"{span_days:,.2f} days"),
        ("Start date", s.get("start_date") or "– (no calendar)"),
        ("GPUs", f"{s['n_gpus']:,}"),
        (
            ("Warm-up", f"{run.warmup_s / SECONDS_PER_DAY:,.2f} days, excluded from the KPIs")
            if run.warmup_s > 0
            else None
        ),
    ]
    fields = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in filter(None, items))
    return f"<header><h1>narvik simulation report: {_e(s['site'])}</h1><dl>{fields}</dl></header>"


def _kpi_tables(summary: Mapping[str, Any]) -> str:
    """One small table per KPI group, flowed into two columns by the CSS."""
    groups: dict[str, list[str]] = {}
    for r in kpi_rows(summary):
        groups.setdefault(r.group, []).append(
            f'<tr><td>{_e(r.label)}</td><td class="v">{_e(r.value)}</td>'
            f'<td class="u">{_e(r.unit)}</td></tr>'
        )
    tables = [
        f'<table class="kpi"><thead><tr class="g"><th colspan="3">{_e(group)}</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        for group, rows in groups.items()
    ]
    return f'<div class="kpis">{"".join(tables)}</div>'


def _figure_html(section: Section) -> str:
    return figure_card(section.div_id, section.figure, section.how_to_read)


def figure_card(div_id: str, figure: go.Figure, how_to_read: str) -> str:
    """A card holding one plotly figure (plotly.js comes once, in the page's head) and
    how to read it: every narvik page (report, study, comparison) lays figures out so."""
    div = pio.to_html(
        figure,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=PLOTLY_CONFIG,
        validate=False,
    )
    return (
        f'<section class="card" id="{_e(div_id)}-card">{div}'
        f'<p class="how"><b>How to read this:</b> {_e(how_to_read)}</p></section>'
    )


def _table_html(table: TenancyTable) -> str:
    """A titled card with one table of the tenancy section, its notes and how to read it."""
    body = f'<section class="card" id="{_e(table.key)}"><h3>{_e(table.title)}</h3>'
    if table.rows:
        numeric = [c.numeric for c in table.columns]
        head = "".join(
            f'<th class="v">{_e(c.header)}</th>' if c.numeric else f"<th>{_e(c.header)}</th>"
            for c in table.columns
        )

        def cells(row: Sequence[str]) -> str:
            return "".join(
                f'<td class="v">{_e(v)}</td>' if n else f"<td>{_e(v)}</td>"
                for v, n in zip(row, numeric, strict=True)
            )

        rows = []
        for i, row in enumerate(table.rows):
            rule = table.group_first_column and i > 0 and row[0] != table.rows[i - 1][0]
            rows.append(f'<tr class="m">{cells(row)}</tr>' if rule else f"<tr>{cells(row)}</tr>")
        foot = "".join(f"<tr>{cells(row)}</tr>" for row in table.total)
        body += (
            f'<div class="scroll"><table class="kpi tt"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody>"
            + (f"<tfoot>{foot}</tfoot>" if foot else "")
            + "</table></div>"
        )
    else:
        body += f'<p class="note">{_e(table.empty)}</p>'
    body += "".join(f'<p class="tnote">{_e(n)}</p>' for n in table.notes)
    return body + f'<p class="how"><b>How to read this:</b> {_e(table.how_to_read)}</p></section>'


def tenancy_html(run: RunData) -> str:
    """The "Tenancy" section of a multi-tenant run; "" when the summary has no ``tenancy``."""
    view = tenancy_view(run.summary, run.start_date)
    if not view.tables:
        return ""
    tables = {t.key: t for t in view.tables}
    parts = [
        '<h2 id="tenancy">Tenancy</h2>',
        '<p class="how">The site is shared by tenants grouped in tiers; each tenant may hold '
        "a GPU quota (its guarantee) and borrow idle capacity beyond it, which is reclaimed "
        "by preemption when the owner of the quota needs it. The tables below show the "
        "service each tier got, the guarantees kept, the work lost to preemption, how the "
        "site answered the grid operator, and what each tenant was billed.</p>",
        _table_html(tables["tenancy-service"]),
        '<div class="tgrid">',
        _table_html(tables["tenancy-guarantees"]),
        _table_html(tables["tenancy-preemptions"]),
        "</div>",
        _table_html(tables["tenancy-curtailments"]),
        _table_html(tables["tenancy-reservations"]),
    ]
    if view.bills is not None:
        parts.append(
            _figure_html(
                Section(
                    BILLS_DIV_ID,
                    view.bills,
                    "Each bar is one calendar month (UTC); its segments are the tenants' "
                    "bills for the GPU-hours they ran that month (guaranteed and borrowed "
                    "hours at their prices), in million EUR. The height of the bar is the "
                    "site's revenue for the month.",
                )
            )
        )
    parts += [_table_html(tables["tenancy-ledger"]), _table_html(tables["tenancy-owners"])]
    return "\n".join(parts)


def render_html(run: RunData) -> str:
    """The report as one self-contained HTML document (plotly.js inlined in the head)."""
    parts = [_header(run), "<main>"]
    parts.append("<h2>Key performance indicators</h2>")
    parts.append(f'<section class="card" id="kpis">{_kpi_tables(run.summary)}')
    if run.warmup_s > 0:
        over = (
            f"totals over the run after its warm-up of {run.warmup_s / SECONDS_PER_DAY:,.2f} "
            "days (jobs submitted before its end and the time before it are left out)"
        )
    else:
        over = "totals over the whole run"
    parts.append(
        f'<p class="how"><b>How to read this:</b> {_e(over)}; waits are '
        "start - submit of the jobs that started, in hours; PUE, REF and ERF follow ISO/IEC "
        "30134; a dash means the run did not record the value.</p></section>"
    )
    parts.append("<h2>Scheduling</h2>")
    parts += [_figure_html(s) for s in scheduling_sections(run)]
    parts.append("<h2>Facility</h2>")
    if run.is_physical:
        parts += [_figure_html(s) for s in facility_sections(run)]
        if not run.offtaker_names:
            parts.append('<p class="note">This site has no heat offtakers: no heat figure.</p>')
    else:
        parts.append(
            f'<p class="note">{_e(run.site)} is a bare pool of GPU slots without physics: '
            "facility power, PUE and heat reuse are not modelled, so their figures are "
            "left out. Run a physical site (e.g. <code>--site stargate-norway</code>) "
            "to see them.</p>"
        )
    tenancy = tenancy_html(run)
    if tenancy:
        parts.append(tenancy)
    parts.append("</main>")
    parts.append(
        f"<footer>narvik {_e(__version__)} &middot; rendered from {SUMMARY_FILE}, {JOBS_FILE} "
        f"and {TIMESERIES_FILE} &middot; re-render with <code>narvik report DIR</code></footer>"
    )
    title = f"narvik report: {run.site}, {run.summary['policy']}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}{_TENANCY_CSS if tenancy else ''}</style>\n"
        '<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>\n'
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
        "</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n"
    )


def render_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from the run's files, atomically; return its path.

    Raises :class:`ValueError` naming the file when one of ``summary.json``,
    ``jobs.parquet`` or ``timeseries.parquet`` is missing or unreadable.
    """
    run = load_run(run_dir)
    target = run.run_dir / REPORT_FILE
    write_text_atomic(target, render_html(run))
    return target
