"""The tenancy part of the report: tables and the monthly bill figure of a multi-tenant run.

Pure functions from the ``tenancy`` object of ``summary.json`` (written for runs
under the ``narvik`` policy, see :mod:`narvik.kpi.tenancy_summary`) to table rows
of formatted text and to a plotly figure; :mod:`narvik.kpi.report` turns them into
HTML. Every column header carries its unit; a missing value is shown as "–".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go

from narvik.kpi.plots import _color, base_layout
from narvik.sim.tenancy_setup import OTHER_TENANT
from narvik.units import SECONDS_PER_HOUR

#: Pseudo-tenant of the ledger carrying the energy of steps with no busy GPU.
IDLE_TENANT = "(idle)"
#: Key of the totals of ``tenancy["preemptions"]``.
TOTAL_KEY = "(total)"
#: The HTML id of the monthly bill figure.
BILLS_DIV_ID = "fig-bills"
DASH = "–"


@dataclass(frozen=True)
class Column:
    """A column of a tenancy table: its header (with the unit) and whether it holds numbers."""

    header: str
    numeric: bool = True


@dataclass(frozen=True)
class TenancyTable:
    """One titled table of the tenancy section, as formatted text.

    ``total`` rows are drawn in bold below the body; ``notes`` are sentences shown
    under the table; ``empty`` replaces the table when it has no rows. When
    ``group_first_column`` is set, a rule separates rows whose first cell changes
    (the months of the ledger).
    """

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    how_to_read: str
    total: tuple[tuple[str, ...], ...] = ()
    notes: tuple[str, ...] = ()
    empty: str = ""
    group_first_column: bool = False


@dataclass(frozen=True)
class TenancyView:
    """The tables and the bill figure of a run's tenancy section, in report order."""

    tables: list[TenancyTable] = field(default_factory=list)
    bills: go.Figure | None = None


# --------------------------------------------------------------------------- formatting


def _num(value: Any, fmt: str = ",.2f", scale: float = 1.0) -> str:
    if value is None or isinstance(value, bool):
        return DASH
    try:
        v = float(value) * scale
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return DASH
    text = format(v, fmt)
    return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text


def _yes_no(value: Any) -> str:
    return DASH if value is None else ("yes" if value else "no")


def _origin(start_date: dt.date | None) -> dt.datetime | None:
    if start_date is None:
        return None
    return dt.datetime(start_date.year, start_date.month, start_date.day)


def _when(t_s: Any, start_date: dt.date | None) -> str:
    """An instant of the run as "YYYY-MM-DD HH:MM" UTC, or hours from the start without a date."""
    if t_s is None:
        return DASH
    try:
        s = float(t_s)
    except (TypeError, ValueError):
        return DASH
    if not math.isfinite(s):
        return DASH
    origin = _origin(start_date)
    if origin is None:
        return f"start + {s / SECONDS_PER_HOUR:,.1f} h"
    return (origin + dt.timedelta(seconds=s)).strftime("%Y-%m-%d %H:%M")


def _rows(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in value or [] if isinstance(r, Mapping)]


def _items(value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if not isinstance(value, Mapping):
        return []
    return [(str(k), v if isinstance(v, Mapping) else {}) for k, v in value.items()]


# --------------------------------------------------------------------------- tables


def service_table(tenancy: Mapping[str, Any]) -> TenancyTable:
    """Jobs, waits, start-SLO attainment and Jain's fairness index per tier."""
    waits = dict(_items(tenancy.get("wait_slo_by_tier")))
    fairness = tenancy.get("fairness_jain_by_tier") or {}
    tiers = list(waits) + [str(t) for t in fairness if str(t) not in waits]
    to_h = 1 / SECONDS_PER_HOUR
    rows = []
    for tier in tiers:
        w = waits.get(tier, {})
        scope = w.get("jobs_in_slo_scope")
        met = w.get("slo_met")
        has_slo = w.get("slo_s") is not None
        rows.append(
            (
                tier,
                _num(w.get("jobs"), ",.0f"),
                _num(w.get("jobs_started"), ",.0f"),
                _num(w.get("wait_p50_s"), ",.2f", to_h),
                _num(w.get("wait_p95_s"), ",.2f", to_h),
                _num(w.get("slo_s"), ",.2f", to_h) if has_slo else "no SLO",
                f"{_num(met, ',.0f')} / {_num(scope, ',.0f')}" if has_slo else DASH,
                _num(w.get("slo_attainment"), ".2f", 100.0),
                _num(fairness.get(tier), ".3f"),
            )
        )
    return TenancyTable(
        key="tenancy-service",
        title="Service per tier",
        columns=(
            Column("Tier", numeric=False),
            Column("Jobs (jobs)"),
            Column("Started (jobs)"),
            Column("Wait p50 (h)"),
            Column("Wait p95 (h)"),
            Column("Start SLO (h)"),
            Column("SLO met / in scope (jobs)"),
            Column("SLO attainment (%)"),
            Column("Jain's fairness index (0–1)"),
        ),
        rows=tuple(rows),
        how_to_read=(
            "Waits are first start - submit over all the jobs that started, inside and "
            "beyond their tenant's guarantee (the next table splits them). The start SLO "
            "promises a start within the given time to work that fits its tenant's unused "
            "guarantee; attainment is the share of such jobs that started in time (jobs "
            "still waiting at the end count only once their deadline has passed). Jain's "
            "index compares the GPU-hours each tenant of the tier got with its weighted fair "
            "share: 1 is perfectly fair, 1/n means one of n tenants got everything."
        ),
        empty="The run recorded no tiers.",
    )


def _wait_cells(side: Mapping[str, Any]) -> tuple[str, ...]:
    """Started / jobs and the p50, p95 and mean wait (h) of one side of the guarantee."""
    to_h = 1 / SECONDS_PER_HOUR
    return (
        f"{_num(side.get('jobs_started'), ',.0f')} / {_num(side.get('jobs'), ',.0f')}",
        _num(side.get("p50_s"), ",.2f", to_h),
        _num(side.get("p95_s"), ",.2f", to_h),
        _num(side.get("mean_s"), ",.2f", to_h),
    )


def _guarantee_row(name: str, tier: Any, entry: Mapping[str, Any]) -> tuple[str, ...]:
    inside = entry.get("inside")
    beyond = entry.get("beyond")
    return (
        name,
        str(tier or DASH),
        *_wait_cells(inside if isinstance(inside, Mapping) else {}),
        *_wait_cells(beyond if isinstance(beyond, Mapping) else {}),
    )


def guarantee_waits_table(tenancy: Mapping[str, Any]) -> TenancyTable:
    """Waits of the work inside and beyond each tenant's guarantee, then per tier."""
    rows = tuple(
        _guarantee_row(tenant, w.get("tier"), w)
        for tenant, w in _items(tenancy.get("waits_by_guarantee"))
    )
    total = tuple(
        _guarantee_row("All tenants", tier, w)
        for tier, w in _items(tenancy.get("waits_by_guarantee_by_tier"))
    )
    notes: tuple[str, ...] = ()
    if any(row[0] == OTHER_TENANT for row in rows):
        notes = (
            f"{OTHER_TENANT} gathers the jobs of tenants of the workload that the tenancy "
            "does not list; they hold no guarantee.",
        )
    columns = [Column("Tenant", numeric=False), Column("Tier", numeric=False)]
    for side in ("Inside", "Beyond"):
        columns += [
            Column(f"{side}: started / jobs (jobs)"),
            Column(f"{side}: wait p50 (h)"),
            Column(f"{side}: wait p95 (h)"),
            Column(f"{side}: wait mean (h)"),
        ]
    return TenancyTable(
        key="tenancy-waits-guarantee",
        title="Waits inside and beyond the guarantee",
        columns=tuple(columns),
        rows=rows,
        total=total,
        notes=notes,
        how_to_read=(
            "A job is inside the guarantee when it fit what was left of its tenant's "
            "guarantee when it was submitted (its quota and the GPUs it had booked for that "
            "moment, less the GPUs its guaranteed work held and those already promised to "
            "its earlier queued jobs): this is the work the start SLO and the guarantee "
            "hours judge. Every other job is beyond "
            "the guarantee: it can only run on capacity other tenants leave idle (borrowed, "
            "and preemptible), with no promise of a start, so it may wait long when the site "
            "is full. Waits are first start - submit over the started jobs; the bold rows "
            "are whole tiers."
        ),
        empty="The run recorded no waits by guarantee (written by an older narvik).",
    )


def guarantees_table(tenancy: Mapping[str, Any]) -> TenancyTable:
    """Hours in which each tenant with a quota got its guarantee."""
    rows = tuple(
        (
            tenant,
            _num(g.get("hours_met"), ",.0f"),
            _num(g.get("hours"), ",.0f"),
            _num(g.get("share_met"), ".2f", 100.0),
        )
        for tenant, g in _items(tenancy.get("guarantee_hours"))
    )
    return TenancyTable(
        key="tenancy-guarantees",
        title="Guarantees",
        columns=(
            Column("Tenant", numeric=False),
            Column("Hours met (h)"),
            Column("Hours in the run (h)"),
            Column("Share met (%)"),
        ),
        rows=rows,
        how_to_read=(
            "For each tenant with a GPU quota: the hours of the run in which none of its "
            "jobs that fit its unused guarantee waited longer than the grace period."
        ),
        empty="No tenant has a GPU quota in this run.",
    )


def preemptions_table(tenancy: Mapping[str, Any], summary: Mapping[str, Any]) -> TenancyTable:
    """Preemptions and the GPU-hours of work they lost, per tenant and in total."""
    items = _items(tenancy.get("preemptions"))
    rows = tuple(
        (
            tenant,
            _num(p.get("preemptions"), ",.0f"),
            _num(p.get("jobs_preempted"), ",.0f"),
            _num(p.get("gpu_hours_lost"), ",.1f"),
        )
        for tenant, p in items
        if tenant != TOTAL_KEY
    )
    total = dict(items).get(TOTAL_KEY, {})
    total_row = (
        "Total",
        _num(total.get("preemptions", summary.get("preemptions_total")), ",.0f"),
        _num(total.get("jobs_preempted"), ",.0f"),
        _num(total.get("gpu_hours_lost", summary.get("gpu_hours_lost_to_preemption")), ",.1f"),
    )
    return TenancyTable(
        key="tenancy-preemptions",
        title="Preemptions",
        columns=(
            Column("Tenant", numeric=False),
            Column("Preemptions (count)"),
            Column("Jobs preempted (jobs)"),
            Column("GPU-hours lost (GPU·h)"),
        ),
        rows=rows,
        total=(total_row,),
        how_to_read=(
            "A job is preempted when capacity it borrowed is reclaimed by the tenant that "
            "owns it, or to shed power; the GPU-hours lost are the work done since the "
            "job's last checkpoint, which has to be run again."
        ),
    )


def curtailments_table(tenancy: Mapping[str, Any], start_date: dt.date | None) -> TenancyTable:
    """The grid operator's curtailment calls and how the site met them."""
    rows = []
    for c in _rows(tenancy.get("curtailments")):
        rows.append(
            (
                _when(c.get("start_s"), start_date),
                _num(c.get("duration_h"), ",.1f"),
                _num(c.get("shed_mw"), ",.1f"),
                _yes_no(c.get("met")),
                _num(c.get("max_excess_mw"), ",.1f"),
                _num(c.get("min_gpu_cap_fraction"), ".0f", 100.0),
                _num(c.get("preempted_jobs"), ",.0f"),
            )
        )
    notes = []
    met = tenancy.get("curtailments_met") or {}
    if met:
        notes.append(
            f"Curtailments met by their deadline: {_num(met.get('met'), ',.0f')} of "
            f"{_num(met.get('total'), ',.0f')}."
        )
    power = tenancy.get("power") or {}
    if power:
        notes.append(
            "Power budget exceeded outside curtailment deadlines: "
            f"{_num(power.get('passes_over_budget_outside_deadlines'), ',.0f')} of "
            f"{_num(power.get('passes'), ',.0f')} scheduling passes. Lowest GPU power cap "
            f"in the run: {_num(power.get('min_gpu_cap_fraction'), '.0f', 100.0)}% of TDP; "
            f"peak IT power: {_num(power.get('max_it_power_mw'), ',.1f')} MW."
        )
    return TenancyTable(
        key="tenancy-curtailments",
        title="Grid curtailments",
        columns=(
            Column("Start (UTC)" if start_date else "Start (h from start)", numeric=False),
            Column("Duration (h)"),
            Column("Shed (MW)"),
            Column("Met by deadline (yes/no)", numeric=False),
            Column("Largest excess (MW)"),
            Column("Lowest GPU power cap (% of TDP)"),
            Column("Jobs preempted (jobs)"),
        ),
        rows=tuple(rows),
        how_to_read=(
            "Each row is a call of the grid operator to shed power below the grid cap for a "
            "while. It is met when, from its deadline to its end, the facility stayed under "
            "the lowered cap; the largest excess is the most it went over. The site sheds by "
            "lowering the GPUs' power cap (100% of TDP: not lowered) and by preempting jobs."
        ),
        notes=tuple(notes),
        empty="The grid operator called no curtailment in this run.",
    )


def reservations_table(tenancy: Mapping[str, Any], start_date: dt.date | None) -> TenancyTable:
    """Advance reservations of GPUs and whether they were honoured."""
    rows = []
    for r in _rows(tenancy.get("reservations")):
        start: Any = r.get("start_s")
        end: Any = r.get("end_s")
        try:
            length_h = (float(end) - float(start)) / SECONDS_PER_HOUR
        except (TypeError, ValueError):
            length_h = None
        rows.append(
            (
                str(r.get("tenant", DASH)),
                _num(r.get("gpus"), ",.0f"),
                f"{_when(start, start_date)} → {_when(end, start_date)}",
                _num(length_h, ",.1f"),
                _num(r.get("min_available_gpus"), ",.0f"),
                _yes_no(r.get("honoured")),
            )
        )
    unit = "UTC" if start_date else "h from start"
    return TenancyTable(
        key="tenancy-reservations",
        title="Advance reservations",
        columns=(
            Column("Tenant", numeric=False),
            Column("GPUs (GPUs)"),
            Column(f"Window ({unit})", numeric=False),
            Column("Length (h)"),
            Column("Fewest GPUs available (GPUs)"),
            Column("Honoured (yes/no)", numeric=False),
        ),
        rows=tuple(rows),
        how_to_read=(
            "A reservation books GPUs for a tenant over a fixed window ahead of time. It is "
            "honoured when the reserved GPUs were available to the tenant through the whole "
            "window; the fewest available shows how short it fell."
        ),
        empty="No advance reservation in this run.",
    )


#: The figures of a ledger row; a row whose every one is 0 (or missing) is not shown.
LEDGER_FIGURES = (
    "gpu_hours_guaranteed",
    "gpu_hours_borrowed",
    "energy_mwh",
    "energy_cost_eur",
    "bill_eur",
)


def _all_zero(row: Mapping[str, Any]) -> bool:
    return not any(row.get(k) for k in LEDGER_FIGURES)


def ledger_table(tenancy: Mapping[str, Any]) -> TenancyTable:
    """GPU-hours, energy and bill per month and tenant, with the totals of the run; rows
    whose every figure is 0 (a tenant with no work in a month, the idle row of a month
    with a GPU busy in every step) are left out, and a note says how many."""
    every = _rows(tenancy.get("ledger"))
    ledger = [r for r in every if not _all_zero(r)]
    rows = []
    sums = {"g": 0.0, "b": 0.0, "e": 0.0, "c": 0.0, "bill": 0.0}
    priced = bool(ledger)
    for r in ledger:
        rows.append(
            (
                str(r.get("month", DASH)),
                str(r.get("tenant", DASH)),
                str(r.get("tier") or DASH),
                _num(r.get("gpu_hours_guaranteed"), ",.3f", 1e-6),
                _num(r.get("gpu_hours_borrowed"), ",.3f", 1e-6),
                _num(r.get("energy_mwh"), ",.0f"),
                _num(r.get("energy_cost_eur"), ",.0f", 1e-3),
                _num(r.get("bill_eur"), ",.0f", 1e-3),
            )
        )
        for key, name in (
            ("g", "gpu_hours_guaranteed"),
            ("b", "gpu_hours_borrowed"),
            ("e", "energy_mwh"),
            ("bill", "bill_eur"),
        ):
            sums[key] += float(r.get(name) or 0.0)
        if r.get("energy_cost_eur") is None:
            priced = False
        else:
            sums["c"] += float(r["energy_cost_eur"])
    total = (
        "All months",
        "All tenants",
        "",
        _num(sums["g"], ",.3f", 1e-6),
        _num(sums["b"], ",.3f", 1e-6),
        _num(sums["e"], ",.0f"),
        _num(sums["c"] if priced else None, ",.0f", 1e-3),
        _num(sums["bill"], ",.0f", 1e-3),
    )
    dropped = len(every) - len(ledger)
    notes = (f"{dropped:,} row(s) whose every figure is 0 are left out.",) if dropped else ()
    idle = any(r.get("tenant") == IDLE_TENANT for r in ledger)
    return TenancyTable(
        key="tenancy-ledger",
        title="Monthly ledger",
        columns=(
            Column("Month (UTC)", numeric=False),
            Column("Tenant", numeric=False),
            Column("Tier", numeric=False),
            Column("GPU-hours guaranteed (million GPU·h)"),
            Column("GPU-hours borrowed (million GPU·h)"),
            Column("Energy (MWh)"),
            Column("Energy cost (kEUR)"),
            Column("Bill (kEUR)"),
        ),
        rows=tuple(rows),
        total=(total,) if ledger else (),
        notes=notes,
        how_to_read=(
            "Guaranteed GPU-hours ran within the tenant's quota and are billed at its price; "
            "borrowed GPU-hours ran on capacity lent beyond it, at the borrowed price. The "
            "facility energy (IT, cooling, losses) of every step is split among the tenants "
            "by their busy GPU-hours in the step"
            + (
                f"; {IDLE_TENANT} carries the energy of steps with no GPU busy"
                if idle
                else " (every step had a GPU busy, so no energy is left unattributed)"
            )
            + ". 1 kEUR = 1,000 EUR."
        ),
        empty=(
            "Every figure of the ledger is 0: no GPU-hours, energy or bill in the run."
            if every
            else "The run has no monthly ledger (no physics steps to bill)."
        ),
        group_first_column=True,
    )


def owners_table(tenancy: Mapping[str, Any]) -> TenancyTable:
    """Revenue, energy cost and margin per month, and each owner's share of them."""
    months = _rows(tenancy.get("owners"))
    owners: dict[str, Any] = {}
    for m in months:
        for name, o in _items(m.get("owners")):
            owners.setdefault(name, o.get("share"))
    columns = [
        Column("Month (UTC)", numeric=False),
        Column("Revenue (EUR)"),
        Column("Energy cost (EUR)"),
        Column("Margin (EUR)"),
    ]
    for name, share in owners.items():
        label = f"{name} ({_num(share, '.0f', 100.0)}%)"
        columns += [Column(f"{label} revenue (EUR)"), Column(f"{label} margin (EUR)")]
    keys = ("revenue_eur", "energy_cost_eur", "margin_eur")
    sums: dict[str, float | None] = {}
    rows = []

    def add(key: str, value: Any) -> None:
        if key not in sums or sums[key] is not None:
            sums[key] = None if value is None else (sums.get(key) or 0.0) + float(value)

    for m in months:
        row = [str(m.get("month", DASH))]
        for k in keys:
            row.append(_num(m.get(k), ",.0f"))
            add(k, m.get(k))
        split = dict(_items(m.get("owners")))
        for name in owners:
            for k in ("revenue_eur", "margin_eur"):
                value = split.get(name, {}).get(k)
                row.append(_num(value, ",.0f"))
                add(f"{name}/{k}", value)
        rows.append(tuple(row))
    total: tuple[tuple[str, ...], ...] = ()
    if months:
        cells = ["All months"] + [_num(sums.get(k), ",.0f") for k in keys]
        for name in owners:
            cells += [_num(sums.get(f"{name}/{k}"), ",.0f") for k in ("revenue_eur", "margin_eur")]
        total = (tuple(cells),)
    return TenancyTable(
        key="tenancy-owners",
        title="Owners",
        columns=tuple(columns),
        rows=tuple(rows),
        total=total,
        how_to_read=(
            "Revenue is the sum of the tenants' bills; the margin is revenue minus the cost "
            "of the facility's energy (idle steps included). Each owner receives its share "
            "(in brackets) of both. Amounts in EUR."
        ),
        empty="The run has no owners' split.",
    )


# --------------------------------------------------------------------------- figure


def bills_figure(ledger: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Monthly bill by tenant: bars of million EUR per month, stacked over the tenants.

    Tenants in ledger order; the pseudo-tenant :data:`IDLE_TENANT` (never billed) and
    tenants with no bill in any month are left out.
    """
    months: list[str] = []
    bills: dict[str, dict[str, float]] = {}
    for r in _rows(ledger):
        month, tenant = str(r.get("month")), str(r.get("tenant"))
        if month not in months:
            months.append(month)
        if tenant == IDLE_TENANT:
            continue
        value = float(r.get("bill_eur") or 0.0)
        by_month = bills.setdefault(tenant, {})
        by_month[month] = by_month.get(month, 0.0) + value
    fig = go.Figure()
    i = 0
    for tenant, by_month in bills.items():
        if not any(v != 0.0 for v in by_month.values()):
            continue
        fig.add_trace(
            go.Bar(
                x=months,
                y=[by_month.get(m, 0.0) / 1e6 for m in months],
                name=tenant,
                marker={"color": _color(i)},
                hovertemplate=f"{tenant}: " + "%{y:,.2f} million EUR<extra>%{x}</extra>",
            )
        )
        i += 1
    if not fig.data:
        fig.add_trace(go.Bar(x=[], y=[], name="No bills"))
    base_layout(fig, "Monthly bill by tenant", "Month (UTC)", "Bill (million EUR)")
    fig.update_layout(
        barmode="stack",
        bargap=0.3,
        legend={
            "orientation": "v",
            "yanchor": "top",
            "y": 1.0,
            "xanchor": "left",
            "x": 1.01,
            "traceorder": "reversed",
            "title": {"text": "Tenant"},
        },
        margin={"l": 70, "r": 200, "t": 60, "b": 60},
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(rangemode="tozero")
    return fig


# --------------------------------------------------------------------------- section


def tenancy_view(summary: Mapping[str, Any], start_date: dt.date | None) -> TenancyView:
    """The tables and the bill figure of ``summary["tenancy"]`` (empty without it)."""
    tenancy = summary.get("tenancy")
    if not isinstance(tenancy, Mapping):
        return TenancyView()
    # A pool without a power model (flat:N) answers no grid operator: no curtailment table
    # unless the summary has curtailments.
    has_power = "facility_energy_mwh" in summary or bool(tenancy.get("curtailments"))
    tables = [
        service_table(tenancy),
        guarantee_waits_table(tenancy),
        guarantees_table(tenancy),
        preemptions_table(tenancy, summary),
        *([curtailments_table(tenancy, start_date)] if has_power else []),
        reservations_table(tenancy, start_date),
        ledger_table(tenancy),
        owners_table(tenancy),
    ]
    ledger = _rows(tenancy.get("ledger"))
    billed = any((r.get("bill_eur") or 0) > 0 for r in ledger)
    return TenancyView(tables=tables, bills=bills_figure(ledger) if billed else None)
