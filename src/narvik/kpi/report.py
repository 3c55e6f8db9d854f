"""The HTML report of a simulation run: ``report.html`` from the files of a run folder.

:func:`render_report` reads ``summary.json``, ``jobs.parquet`` and
``timeseries.parquet`` (columns and keys: ARCHITECTURE.md), builds the figures
of :mod:`narvik.kpi.plots` and writes one self-contained ``report.html`` beside
them, atomically: plotly.js is inlined once in the head, nothing is loaded from
the network, and the same input files give byte-identical HTML (fixed div ids,
no timestamps, no random sampling).

:mod:`narvik.kpi.run_data` reads and checks the files. The facility figures (power
against the grid cap, PUE against ambient temperature, heat to offtakers) and the
queue over time are drawn for physical sites only; a ``flat:N`` pool has no physics
and gets a note instead. Every figure over time marks the warm-up the KPIs leave
out, and the wait distributions count the jobs the KPIs count (submitted at or
after its end). Physical sites also get the power-quality section of
:mod:`narvik.kpi.power_report` (ten minutes at 0.1 s rebuilt from the jobs).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pyarrow.compute as pc
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
from narvik.kpi.report_text import (
    GUARANTEE_WAITS_KEY,
    READING_GUIDE,
    ChillerUse,
    guarantee_lines,
    pue_how_to_read,
)
from narvik.kpi.run_data import (
    JOBS_FILE,
    SUMMARY_FILE,
    TIMESERIES_FILE,
    RunData,
    floats,
    load_run,
    read_json_object,
)
from narvik.kpi.tenancy_plots import BILLS_DIV_ID, TenancyTable, tenancy_view
from narvik.kpi.wait_plots import queue_figure, waits_by_group
from narvik.units import J_PER_MWH, SECONDS_PER_DAY

__all__ = [  # the loading names stay importable from here (narvik.kpi.run_data holds them)
    "JOBS_FILE",
    "REPORT_FILE",
    "SUMMARY_FILE",
    "TIMESERIES_FILE",
    "RunData",
    "Section",
    "facility_sections",
    "figure_card",
    "load_run",
    "queue_section",
    "read_json_object",
    "render_html",
    "render_report",
    "scheduling_sections",
    "tenancy_html",
    "tenant_wait_section",
]

REPORT_FILE = "report.html"
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
.guide dl { margin: 4px 4px 8px; }
.guide dt { font-weight: 600; color: var(--accent); }
.guide dd { margin: 0 0 6px 18px; }
.guide ul { margin: 4px 0 6px; padding-left: 22px; }
"""


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


def _counted_jobs(run: RunData) -> np.ndarray:
    """The jobs the KPIs count: submitted at or after the warm-up's end (all without one)."""
    return floats(run.jobs, "submit_s") >= run.warmup_s


def _waits_note(run: RunData) -> str:
    """Added to the "how to read" line of a wait distribution of a run with a warm-up."""
    if run.warmup_s <= 0:
        return ""
    return " Jobs submitted in the warm-up are left out, as in the KPIs."


def scheduling_sections(run: RunData) -> list[Section]:
    """Utilisation by tier over time and the queue wait distribution by tier."""
    ts = run.timeseries
    t_s = floats(ts, "t_s")
    start = floats(run.jobs, "start_s")
    end = floats(run.jobs, "end_s")
    submit = floats(run.jobs, "submit_s")
    gpus = floats(run.jobs, "gpus")
    masks = _tier_masks(run)
    tier_columns = [f"gpus_busy[{t}]" for t in run.tiers]
    if run.is_physical and all(c in ts.column_names for c in tier_columns):
        by_tier = {
            t: StepSeries.of(t_s, floats(ts, c))
            for t, c in zip(run.tiers, tier_columns, strict=True)
        }
        source = "the busy GPUs of each tier, step by step"
    else:
        by_tier = {t: busy_gpus_series(start[m], end[m], gpus[m]) for t, m in masks.items()}
        source = "job starts and ends in jobs.parquet"
    fleet: float | StepSeries = float(run.summary["n_gpus"])
    if "gpus_total" in ts.column_names:
        fleet = StepSeries.of(t_s, floats(ts, "gpus_total"))
    total = StepSeries.of(t_s, floats(ts, "gpus_busy"))
    util = utilisation_figure(by_tier, fleet, run.span_s, run.start_date, busy_total=total)
    mark_warmup(util, run.warmup_s, run.start_date)
    counted = _counted_jobs(run)
    waits = {t: (start - submit)[m & counted & np.isfinite(start)] for t, m in masks.items()}
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
            "jobs still pending are not included." + _waits_note(run),
        ),
    ]


def queue_section(run: RunData) -> Section | None:
    """Jobs waiting over time, from ``queued_jobs`` of the time series (physical sites);
    None when the time series does not record it."""
    ts = run.timeseries
    if "queued_jobs" not in ts.column_names or ts.num_rows == 0:
        return None
    figure = queue_figure(
        floats(ts, "t_s"), floats(ts, "queued_jobs"), run.span_s, run.start_date, run.warmup_s
    )
    return Section(
        "fig-queue",
        figure,
        "The number of jobs waiting in the queue (submitted, not rejected, not yet started) "
        "at the end of each step. A queue that keeps growing means more work arrives than "
        "the free GPUs can take; its waits then grow too (long runs show the mean and the "
        "peak per bin)." + _warmup_band(run),
    )


def tenant_wait_section(run: RunData) -> Section | None:
    """The wait distribution per tenant, from the ``tenant`` column of the jobs (None
    without it); tenants in the order of the summary's ``waits_by_guarantee``."""
    if "tenant" not in run.jobs.column_names:
        return None
    tenancy = run.summary.get("tenancy") or {}
    listed = tenancy.get("waits_by_guarantee") if isinstance(tenancy, Mapping) else None
    tenants = pc.dictionary_encode(run.jobs.column("tenant")).combine_chunks()
    waits = waits_by_group(
        pc.fill_null(tenants.indices, -1).to_numpy(zero_copy_only=False),
        [str(n) for n in tenants.dictionary.to_pylist()],
        floats(run.jobs, "submit_s"),
        floats(run.jobs, "start_s"),
        _counted_jobs(run),
        [str(k) for k in listed] if isinstance(listed, Mapping) else (),
    )
    return Section(
        "fig-waits-tenant",
        wait_figure(waits, by="tenant"),
        "Each curve is one tenant's cumulative distribution of queue wait (first start - "
        "submit) over its jobs that started, inside and beyond its guarantee together: read "
        "across at 50% for the median, at 95% for the tail. A curve that rises at once and "
        "then creeps to the right is a tenant whose guaranteed work starts at once while "
        "its borrowed work waits (the table above splits them). Waits under 1 s are drawn "
        "at 1 s." + _waits_note(run),
    )


def chiller_use(run: RunData) -> ChillerUse:
    """The trim chillers over the steps of the PUE figure (every step of the time series),
    from its ``chiller_power_w``; without that column, the summary's ``chiller_energy_mwh``."""
    ts = run.timeseries
    if "chiller_power_w" not in ts.column_names:
        value = run.summary.get("chiller_energy_mwh")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return ChillerUse(float(value))
        return ChillerUse(None)
    t_s = floats(ts, "t_s")
    power_w = np.nan_to_num(floats(ts, "chiller_power_w"), nan=0.0)
    end_s = max(run.span_s, float(t_s.max(initial=0.0)))
    width_s = np.clip(np.diff(np.append(t_s, end_s)), 0.0, None)
    energy_mwh = float(np.sum(power_w * width_s)) / J_PER_MWH
    return ChillerUse(energy_mwh, int(np.count_nonzero(power_w > 0)), int(t_s.size))


def _warmup_band(run: RunData) -> str:
    """Added to the "how to read" line of a figure over time of a run with a warm-up."""
    return " The grey band is the warm-up, which the KPIs leave out." if run.warmup_s > 0 else ""


def facility_sections(run: RunData) -> list[Section]:
    """Power against the cap, PUE against ambient temperature and heat per offtaker."""
    ts = run.timeseries
    t_s = floats(ts, "t_s")
    start_date = run.start_date
    power = power_figure(
        StepSeries.of(t_s, floats(ts, "facility_power_w")),
        StepSeries.of(t_s, floats(ts, "power_cap_w")),
        run.span_s,
        start_date,
        it_power_w=StepSeries.of(t_s, floats(ts, "it_power_w")),
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
            pue_figure(t_s, floats(ts, "ambient_c"), floats(ts, "pue"), start_date, run.warmup_s),
            pue_how_to_read(chiller_use(run), warmup=run.warmup_s > 0),
        ),
    ]
    names = run.offtaker_names
    if names:
        offtakers = {
            n: (floats(ts, f"heat_demand_w[{n}]"), floats(ts, f"heat_delivered_w[{n}]"))
            for n in names
        }
        sections.append(
            Section(
                "fig-heat",
                heat_figure(t_s, run.span_s, offtakers, start_date, run.warmup_s),
                "For each heat offtaker, the pale bar is the heat it asked for and the solid "
                "bar in front the heat delivered from the GPU cooling loop; a visible pale "
                "part is demand left unmet." + _warmup_band(run),
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


CURTAIL = "tenancy-curtailments"


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
        _table_html(tables[GUARANTEE_WAITS_KEY]),
    ]
    tenant_waits = tenant_wait_section(run)
    if tenant_waits is not None:
        parts.append(_figure_html(tenant_waits))
    parts += [
        '<div class="tgrid">',
        _table_html(tables["tenancy-guarantees"]),
        _table_html(tables["tenancy-preemptions"]),
        "</div>",
        *([_table_html(tables[CURTAIL])] if CURTAIL in tables else []),  # not on flat pools
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
                    "site's revenue for the month."
                    + (
                        " The warm-up is not billed: the first month counts from its end."
                        if run.warmup_s > 0
                        else ""
                    ),
                )
            )
        )
    parts += [_table_html(tables["tenancy-ledger"]), _table_html(tables["tenancy-owners"])]
    return "\n".join(parts)


def _guide_html(run: RunData) -> str:
    """The card under the KPI tables of a multi-tenant run: what its waits, guarantee hours
    and start SLO measure, and, per tenant with a quota, the three side by side."""
    terms = "".join(f"<dt>{_e(term)}</dt><dd>{_e(text)}</dd>" for term, text in READING_GUIDE)
    tenancy = run.summary.get("tenancy")
    lines = guarantee_lines(tenancy) if isinstance(tenancy, Mapping) else []
    in_run = ""
    if lines:
        in_run = (
            '<p class="tnote">In this run (the table <a href="#'
            f'{GUARANTEE_WAITS_KEY}">Waits inside and beyond the guarantee</a> has them all):'
            f"</p><ul>{''.join(f'<li>{_e(line)}</li>' for line in lines)}</ul>"
        )
    return (
        '<section class="card guide" id="reading-guide"><h3>Waits, guarantee hours and the '
        f"start SLO: what each measures</h3><dl>{terms}</dl>{in_run}</section>"
    )


def render_html(run: RunData) -> str:
    """The report as one self-contained HTML document (plotly.js inlined in the head)."""
    parts = [_header(run), "<main>"]
    tenancy = tenancy_html(run)
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
    if tenancy:
        parts.append(_guide_html(run))
    parts.append("<h2>Scheduling</h2>")
    parts += [_figure_html(s) for s in scheduling_sections(run)]
    queue = queue_section(run)
    if queue is not None:
        parts.append(_figure_html(queue))
    parts.append("<h2>Facility</h2>")
    if run.is_physical:
        parts += [_figure_html(s) for s in facility_sections(run)]
        if not run.offtaker_names:
            parts.append('<p class="note">This site has no heat offtakers: no heat figure.</p>')
        # imported here: the rebuild loads the facility's physics (CoolProp, scipy), which
        # the pages that only borrow figure_card (comparison, study) do not need
        from narvik.kpi.power_report import power_quality_html

        parts.append(power_quality_html(run, figure_card))
    else:
        parts.append(
            f'<p class="note">{_e(run.site)} is a bare pool of GPU slots without physics: '
            "facility power, PUE and heat reuse are not modelled, so their figures are "
            "left out. Run a physical site (e.g. <code>--site stargate-norway</code>) "
            "to see them.</p>"
        )
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
