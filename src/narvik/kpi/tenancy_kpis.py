"""Tenancy KPIs: the monthly ledger, the owners' split, fairness, waits and SLOs, preemptions.

Pure, vectorised (numpy) functions over the arrays of a run: the run segments
of jobs (a job has several segments when it is preempted and resumed), the jobs'
submit and first-start times, and the physics steps. Inside narvik times are
seconds from the start of the run (midnight UTC of ``start_date``), powers W,
energies J; the rows built here for people (ledger, summaries) carry GPU-hours,
MWh, MW and EUR, with the unit in every key.

Definitions and sources:

- GPU-hours: GPU-seconds of run segments / 3,600, split exactly at UTC
  calendar-month boundaries (:func:`gpu_seconds_by_month`).
- Bill: guaranteed GPU-hours x the tenant's price + borrowed GPU-hours x the
  tenant's borrowed price (:class:`narvik.workload.tenancy.Tenant`).
- Energy attribution: in every physics step the facility energy (IT, cooling,
  losses, i.e. the ISO/IEC 30134-2 "total data centre energy") is split among
  tenants in proportion to their busy GPU-seconds in the step; the energy of
  steps with no busy GPU goes to the pseudo-tenant :data:`IDLE_TENANT`.
- Owners' split: revenue and margin (revenue - energy cost) shared by the
  owners' revenue shares (:attr:`narvik.workload.tenancy.Tenancy.owners`).
- Fairness: Jain, Chiu and Hawe, "A Quantitative Measure of Fairness and
  Discrimination for Resource Allocation in Shared Computer Systems",
  DEC-TR-301, 1984.
- Waits and start SLO: wait = first start - submit; SLO attainment as in
  :func:`wait_and_slo_by_tier`; waits of the work inside and beyond the guarantee
  in :func:`waits_by_guarantee`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from narvik.units import J_PER_MWH, SECONDS_PER_HOUR, W_PER_MW
from narvik.workload.tenancy import Tenancy

#: Pseudo-tenant of the ledger that carries the energy of steps with no busy GPU.
IDLE_TENANT = "(idle)"
#: Key of the totals in :func:`preemption_summary`.
TOTAL_KEY = "(total)"

__all__ = [
    "IDLE_TENANT",
    "TOTAL_KEY",
    "curtailment_table",
    "curtailments_met",
    "fairness_by_tier",
    "gpu_seconds_by_month",
    "jain_index",
    "month_edges_s",
    "monthly_ledger",
    "owners_split",
    "preemption_summary",
    "wait_and_slo_by_tier",
    "waits_by_guarantee",
]


# --------------------------------------------------------------------------- months


def month_edges_s(start_date: dt.date, span_s: float) -> tuple[list[str], NDArray[np.float64]]:
    """UTC calendar months covered by a run, and their edges in s from the run start.

    The run starts at midnight UTC of ``start_date`` and lasts ``span_s`` seconds.
    The months are those the span covers, from ``start_date``'s month on (at
    least one). ``edges_s`` has one more entry than the labels: ``edges_s[0]`` is 0,
    ``edges_s[-1]`` is ``span_s``, and the entries between are the midnights UTC
    of the first days of the following months, s. Labels are ``"YYYY-MM"``.
    """
    span_s = max(float(span_s), 0.0)
    origin = dt.datetime(start_date.year, start_date.month, start_date.day, tzinfo=dt.UTC)
    year, month = start_date.year, start_date.month
    labels = [f"{year:04d}-{month:02d}"]
    edges = [0.0]
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        boundary_s = (dt.datetime(year, month, 1, tzinfo=dt.UTC) - origin).total_seconds()
        if boundary_s >= span_s:
            break
        edges.append(boundary_s)
        labels.append(f"{year:04d}-{month:02d}")
    edges.append(span_s)
    return labels, np.asarray(edges, dtype=np.float64)


def _clean_segments(
    seg_start_s: ArrayLike, seg_end_s: ArrayLike, seg_gpus: ArrayLike, span_s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Segments clipped to ``[0, span_s]``: NaN end -> span end, NaN start -> empty."""
    s = np.asarray(seg_start_s, dtype=np.float64)
    e = np.asarray(seg_end_s, dtype=np.float64)
    g = np.asarray(seg_gpus, dtype=np.float64)
    if not (s.shape == e.shape == g.shape) or s.ndim != 1:
        raise ValueError("seg_start_s, seg_end_s and seg_gpus must be 1-D arrays of one length")
    never = np.isnan(s)
    s = np.clip(np.where(never, span_s, s), 0.0, span_s)
    e = np.where(np.isnan(e), span_s, e)
    e = np.clip(np.where(never, span_s, e), s, span_s)
    return s, e, g


def gpu_seconds_by_month(
    seg_start_s: ArrayLike,
    seg_end_s: ArrayLike,
    seg_gpus: ArrayLike,
    group: ArrayLike,
    n_groups: int,
    start_date: dt.date,
    span_s: float,
) -> tuple[list[str], NDArray[np.float64]]:
    """GPU-seconds of run segments per UTC calendar month and group, split exactly.

    A segment runs ``seg_gpus`` GPUs from ``seg_start_s`` to ``seg_end_s`` (s from the
    run start at midnight UTC of ``start_date``); an end of NaN means still running at
    the end of the span and is capped at ``span_s``; a start of NaN means the segment
    never ran. Segments are clipped to ``[0, span_s]`` and cut at the month
    boundaries; each piece adds ``gpus x length`` GPU-s to its month and to the
    segment's ``group`` (an integer in ``[0, n_groups)``, e.g. tenant index x 2 +
    borrowed).

    Returns the month labels ``"YYYY-MM"`` (see :func:`month_edges_s`) and an array of
    shape ``(n_months, n_groups)`` of GPU-s. O(segments + months x groups): the first
    and last piece of every segment are added directly, whole months in between
    through a difference array over months.
    """
    labels, edges = month_edges_s(start_date, span_s)
    n_months = len(labels)
    s, e, g = _clean_segments(seg_start_s, seg_end_s, seg_gpus, float(edges[-1]))
    grp = np.asarray(group, dtype=np.int64)
    if grp.shape != s.shape:
        raise ValueError("group must have one entry per segment")
    if grp.size and (grp.min() < 0 or grp.max() >= n_groups):
        raise ValueError(f"group must lie in [0, {n_groups})")
    inner = edges[1:-1]
    ks = np.searchsorted(inner, s, side="right")  # month holding the start
    ke = np.searchsorted(inner, e, side="left")  # month holding the end (end is exclusive)
    size = n_months * n_groups
    same = ke <= ks
    out = np.bincount(
        (ks * n_groups + grp)[same], weights=(g * (e - s))[same], minlength=size
    ).astype(np.float64)
    cross = ~same
    if np.any(cross):
        ksc, kec, gc, grc = ks[cross], ke[cross], g[cross], grp[cross]
        out += np.bincount(
            ksc * n_groups + grc, weights=gc * (edges[ksc + 1] - s[cross]), minlength=size
        )
        out += np.bincount(
            kec * n_groups + grc, weights=gc * (e[cross] - edges[kec]), minlength=size
        )
        # whole months ks+1 .. ke-1: +g from ks+1, -g from ke, cumulated over months
        diff = np.bincount((ksc + 1) * n_groups + grc, weights=gc, minlength=size + n_groups)
        diff -= np.bincount(kec * n_groups + grc, weights=gc, minlength=size + n_groups)
        full_gpus = np.cumsum(diff.reshape(n_months + 1, n_groups), axis=0)[:n_months]
        out += (full_gpus * np.diff(edges)[:, None]).ravel()
    return labels, out.reshape(n_months, n_groups)


# --------------------------------------------------------------------------- ledger


def _tenant_index(tenancy: Tenancy, tenant_of_seg: ArrayLike) -> NDArray[np.int64]:
    """Index into ``tenancy.tenants`` of every segment (names or indices accepted)."""
    arr = np.asarray(tenant_of_seg)
    n = len(tenancy.tenants)
    if arr.dtype.kind in "iu":
        idx = arr.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"tenant_of_seg: tenant indices must lie in [0, {n})")
        return idx
    names, inverse = np.unique(arr.astype(str), return_inverse=True)
    position = {t.name: i for i, t in enumerate(tenancy.tenants)}
    unknown = [str(x) for x in names if str(x) not in position]
    if unknown:
        raise ValueError(f"tenant_of_seg: tenants not in the tenancy: {', '.join(unknown)}")
    lookup = np.asarray([position[str(x)] for x in names], dtype=np.int64)
    return lookup[inverse.reshape(-1)]


def _cumulative_gpu_s(
    s: NDArray[np.float64], e: NDArray[np.float64], g: NDArray[np.float64], at_s: NDArray
) -> NDArray[np.float64]:
    """Busy GPU-seconds from time 0 up to each of ``at_s`` (exact).

    The busy count is a step function of time, so its integral is piecewise linear
    between segment starts and ends; sampling it at ``at_s`` is exact (the technique
    of :func:`narvik.sim.site_run.busy_gpu_seconds`).
    """
    if s.size == 0:
        return np.zeros(at_s.shape, dtype=np.float64)
    t = np.concatenate([s, e])
    d = np.concatenate([g, -g])
    order = np.argsort(t, kind="stable")
    t, d = t[order], d[order]
    level = np.cumsum(d)  # busy GPUs after each event
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(t))])
    i = np.searchsorted(t, at_s, side="right") - 1  # last event at or before each time
    before = i < 0
    i = np.maximum(i, 0)
    out = area[i] + level[i] * (at_s - t[i])
    out[before] = 0.0
    return out


def _step_width_s(step_t_s: NDArray[np.float64], step_s: float, span_s: float) -> NDArray:
    """Width of each physics step, s: ``step_s``, cut at the next step and at the span end."""
    nxt = np.append(step_t_s[1:], span_s)
    return np.clip(np.minimum(step_s, nxt - step_t_s), 0.0, None)


def monthly_ledger(
    tenancy: Tenancy,
    tenant_of_seg: ArrayLike,
    seg_start_s: ArrayLike,
    seg_end_s: ArrayLike,
    seg_gpus: ArrayLike,
    seg_borrowed: ArrayLike,
    start_date: dt.date,
    span_s: float,
    step_t_s: ArrayLike,
    step_s: float,
    step_facility_power_w: ArrayLike,
    step_price_eur_per_mwh: ArrayLike | None = None,
) -> list[dict[str, Any]]:
    """The tenants' monthly ledger: GPU-hours, bills and attributed energy.

    One row per UTC calendar month (:func:`month_edges_s`) and tenant of
    ``tenancy`` (every tenant, every month, in the tenancy's order), then one row of
    the pseudo-tenant :data:`IDLE_TENANT`. Keys:

    - ``month`` ("YYYY-MM"), ``tenant``, ``tier``, ``jurisdiction`` (None on the idle row);
    - ``gpu_hours_guaranteed``, ``gpu_hours_borrowed``, ``gpu_hours``: GPU-s of the
      tenant's run segments in the month (:func:`gpu_seconds_by_month`) / 3,600, by
      ``seg_borrowed`` (the segment ran on capacity lent beyond the tenant's quota);
    - ``bill_eur`` = guaranteed GPU-h x ``price_eur_per_gpu_hour`` + borrowed GPU-h x
      ``borrowed_price`` (:class:`~narvik.workload.tenancy.Tenant`);
    - ``energy_mwh``: in each physics step (start ``step_t_s``, width ``step_s`` cut
      at the next step and at ``span_s``) the facility energy
      ``step_facility_power_w x width`` is split among tenants in proportion to
      their exact busy GPU-s in the step; the energy of steps with no busy GPU is the
      idle row's. A step counts in the month its start falls in (hourly or daily
      steps from midnight never straddle a month boundary);
    - ``energy_cost_eur``: the same split of ``energy x step_price_eur_per_mwh``, or
      None without a price series.

    ``tenant_of_seg`` holds tenant names or indices into ``tenancy.tenants``.
    The sums are conserved: total GPU-hours = segments' GPU-hours in the span; total
    energy (idle row included) = facility energy of the steps.
    """
    names = [t.name for t in tenancy.tenants]
    n_t = len(names)
    tidx = _tenant_index(tenancy, tenant_of_seg)
    borrowed = np.asarray(seg_borrowed, dtype=bool)
    if borrowed.shape != tidx.shape:
        raise ValueError("seg_borrowed must have one entry per segment")
    labels, gpu_s = gpu_seconds_by_month(
        seg_start_s, seg_end_s, seg_gpus, tidx * 2 + borrowed, 2 * n_t, start_date, span_s
    )
    gpu_h = gpu_s.reshape(len(labels), n_t, 2) / SECONDS_PER_HOUR  # [month, tenant, borrowed]
    _, edges = month_edges_s(start_date, span_s)
    span_s = float(edges[-1])

    # per-step busy GPU-s per tenant, exact, then the facility energy split by it
    t0 = np.asarray(step_t_s, dtype=np.float64)
    power_w = np.asarray(step_facility_power_w, dtype=np.float64)
    if power_w.shape != t0.shape:
        raise ValueError("step_facility_power_w must have one entry per step")
    width_s = _step_width_s(t0, step_s, span_s)
    energy_j = power_w * width_s
    s, e, g = _clean_segments(seg_start_s, seg_end_s, seg_gpus, span_s)
    busy = np.empty((t0.size, n_t), dtype=np.float64)
    order = np.argsort(tidx, kind="stable")
    bounds = np.searchsorted(tidx[order], np.arange(n_t + 1))
    for j in range(n_t):
        rows = order[bounds[j] : bounds[j + 1]]
        cum = _cumulative_gpu_s(s[rows], e[rows], g[rows], np.concatenate([t0, t0 + width_s]))
        busy[:, j] = cum[t0.size :] - cum[: t0.size]
    busy = np.clip(busy, 0.0, None)
    total_busy = busy.sum(axis=1)
    idle = total_busy <= 0.0
    share = np.divide(busy, total_busy[:, None], out=np.zeros_like(busy), where=~idle[:, None])
    step_month = np.searchsorted(edges[1:-1], t0, side="right")
    n_m = len(labels)

    def by_month(values_per_step: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        tenants = np.zeros((n_m, n_t))
        np.add.at(tenants, step_month, share * values_per_step[:, None])
        idle_m = np.bincount(step_month, weights=values_per_step * idle, minlength=n_m)
        return tenants, idle_m

    energy_mwh, idle_mwh = by_month(energy_j / J_PER_MWH)
    if step_price_eur_per_mwh is not None:
        price = np.asarray(step_price_eur_per_mwh, dtype=np.float64)
        if price.shape != t0.shape:
            raise ValueError("step_price_eur_per_mwh must have one entry per step")
        cost_eur, idle_cost_eur = by_month(energy_j / J_PER_MWH * price)

    rows_out: list[dict[str, Any]] = []
    for m, label in enumerate(labels):
        for j, tenant in enumerate(tenancy.tenants):
            guaranteed, lent = float(gpu_h[m, j, 0]), float(gpu_h[m, j, 1])
            rows_out.append(
                {
                    "month": label,
                    "tenant": tenant.name,
                    "tier": tenant.tier,
                    "jurisdiction": tenant.jurisdiction,
                    "gpu_hours_guaranteed": guaranteed,
                    "gpu_hours_borrowed": lent,
                    "gpu_hours": guaranteed + lent,
                    "bill_eur": guaranteed * tenant.price_eur_per_gpu_hour
                    + lent * tenant.borrowed_price,
                    "energy_mwh": float(energy_mwh[m, j]),
                    "energy_cost_eur": (
                        float(cost_eur[m, j]) if step_price_eur_per_mwh is not None else None
                    ),
                }
            )
        rows_out.append(
            {
                "month": label,
                "tenant": IDLE_TENANT,
                "tier": None,
                "jurisdiction": None,
                "gpu_hours_guaranteed": 0.0,
                "gpu_hours_borrowed": 0.0,
                "gpu_hours": 0.0,
                "bill_eur": 0.0,
                "energy_mwh": float(idle_mwh[m]),
                "energy_cost_eur": (
                    float(idle_cost_eur[m]) if step_price_eur_per_mwh is not None else None
                ),
            }
        )
    return rows_out


def owners_split(
    ledger_rows: Iterable[Mapping[str, Any]], owners: Sequence[tuple[str, float]]
) -> list[dict[str, Any]]:
    """Revenue, energy cost and margin per month, shared among the owners.

    ``ledger_rows`` are rows of :func:`monthly_ledger`; ``owners`` are (name, share)
    pairs whose shares add up to 1 (:attr:`~narvik.workload.tenancy.Tenancy.owners`,
    by default Nscale and Aker 50/50, the joint venture of the article). Per month,
    in the ledger's month order:

    - ``revenue_eur`` = sum of the tenants' ``bill_eur``;
    - ``energy_cost_eur`` = sum of ``energy_cost_eur`` (idle row included), None when
      the ledger has no energy costs;
    - ``margin_eur`` = revenue - energy cost (None without energy costs);
    - ``owners``: ``{name: {"share", "revenue_eur", "margin_eur"}}``, each owner's
      share of revenue and margin.
    """
    total_share = sum(share for _, share in owners)
    if abs(total_share - 1.0) > 1e-9:
        raise ValueError(f"owners: revenue shares must add up to 1 (they add up to {total_share})")
    months: dict[str, dict[str, Any]] = {}
    for row in ledger_rows:
        acc = months.setdefault(
            str(row["month"]), {"revenue_eur": 0.0, "energy_cost_eur": 0.0, "priced": True}
        )
        acc["revenue_eur"] += float(row.get("bill_eur") or 0.0)
        cost = row.get("energy_cost_eur")
        if cost is None:
            acc["priced"] = False
        else:
            acc["energy_cost_eur"] += float(cost)
    out: list[dict[str, Any]] = []
    for month, acc in months.items():
        revenue = acc["revenue_eur"]
        cost = acc["energy_cost_eur"] if acc["priced"] else None
        margin = revenue - cost if cost is not None else None
        out.append(
            {
                "month": month,
                "revenue_eur": revenue,
                "energy_cost_eur": cost,
                "margin_eur": margin,
                "owners": {
                    name: {
                        "share": float(share),
                        "revenue_eur": revenue * share,
                        "margin_eur": margin * share if margin is not None else None,
                    }
                    for name, share in owners
                },
            }
        )
    return out


# --------------------------------------------------------------------------- fairness


def jain_index(x: ArrayLike) -> float:
    """Jain's fairness index ``(sum x)^2 / (n sum x^2)`` of non-negative allocations.

    Jain, Chiu and Hawe, "A Quantitative Measure of Fairness and Discrimination for
    Resource Allocation in Shared Computer Systems", DEC-TR-301, 1984, eq. (1). It is
    1 when all ``x`` are equal and ``1/n`` when one gets everything; it lies in
    ``[1/n, 1]``. For an empty input or all zeros (nobody got anything, so nobody
    was favoured) it is defined here as 1.0. Negative or NaN entries are an error.
    """
    v = np.asarray(x, dtype=np.float64).ravel()
    if v.size == 0:
        return 1.0
    if np.any(np.isnan(v)) or np.any(v < 0):
        raise ValueError("jain_index: allocations must be non-negative numbers")
    peak = v.max()
    if peak == 0.0:
        return 1.0
    v = v / peak  # scale-free; avoids overflow of the squares
    return float(min(1.0, v.sum() ** 2 / (v.size * np.dot(v, v))))


def _weighted_max_min_fair(
    total: float, demand: NDArray[np.float64], weight: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Weighted max-min fair division of ``total`` among claims capped at ``demand``.

    Water-filling: ``fair_i = min(demand_i, lambda x weight_i)`` with ``lambda`` such
    that the fair shares add up to ``total`` (or every demand is met).
    """
    fair = np.zeros_like(demand)
    left = float(total)
    open_ = demand > 0
    while left > 0 and np.any(open_):
        level = left / weight[open_].sum()
        need = (demand - fair) / weight  # level at which each open claim is met
        capped = open_ & (need <= level)
        if not np.any(capped):
            fair[open_] += level * weight[open_]
            break
        left -= float((demand[capped] - fair[capped]).sum())
        fair[capped] = demand[capped]
        open_ &= ~capped
    return fair


def fairness_by_tier(
    tier_of_tenant: Mapping[str, str],
    served_gpu_hours: Mapping[str, float],
    demanded_gpu_hours: Mapping[str, float],
    weight: Mapping[str, float],
) -> dict[str, float]:
    """Jain's fairness index among the tenants of each tier, against their fair shares.

    Following Jain, Chiu and Hawe (DEC-TR-301, 1984, sec. 3), the index is taken over
    the normalised allocations ``x_i = served_i / fair_i``, where ``fair_i`` is the
    optimal (fair) allocation. Here ``fair`` is the weighted max-min fair division of
    the GPU-hours the tier was served in total among its tenants with demand,
    each capped at its demanded GPU-hours and weighted by its fair-share weight
    (``fair_i = min(demanded_i, lambda x weight_i)``, water-filling). A tier whose
    tenants each got their weighted fair share of what the tier received scores 1;
    a tier where one tenant got everything while others waited scores near 1/n.

    Tenants with no demand are left out; a tier with fewer than two tenants with
    demand, or that was served nothing, scores 1.0. Missing served hours count as 0,
    missing weights as 1. Tiers are returned in first-seen order of ``tier_of_tenant``.
    """
    tiers: dict[str, list[str]] = {}
    for tenant, tier in tier_of_tenant.items():
        tiers.setdefault(tier, []).append(tenant)
    out: dict[str, float] = {}
    for tier, tenants in tiers.items():
        demand = np.array([float(demanded_gpu_hours.get(t, 0.0)) for t in tenants])
        served = np.array([float(served_gpu_hours.get(t, 0.0)) for t in tenants])
        w = np.array([float(weight.get(t, 1.0)) for t in tenants])
        if np.any(w <= 0):
            raise ValueError(f"fairness_by_tier: weights of tier {tier!r} must be positive")
        has = demand > 0
        if has.sum() < 2 or served[has].sum() <= 0:
            out[tier] = 1.0
            continue
        fair = _weighted_max_min_fair(float(served[has].sum()), demand[has], w[has])
        out[tier] = jain_index(np.clip(served[has], 0.0, None) / fair)
    return out


# --------------------------------------------------------------------------- waits and SLOs


@dataclass(frozen=True, eq=False)
class _JobWaits:
    """Per job: its group (tier or tenant), submit time and wait (first start - submit, s;
    NaN: never started), whether it started and whether it fit its tenant's unused
    guarantee when it was submitted."""

    group: NDArray[np.str_]
    submit_s: NDArray[np.float64]
    wait_s: NDArray[np.float64]
    started: NDArray[np.bool_]
    fits: NDArray[np.bool_]

    @classmethod
    def of(
        cls,
        what: str,
        group: ArrayLike,
        submit_s: ArrayLike,
        first_start_s: ArrayLike,
        fits_guarantee: ArrayLike,
    ) -> _JobWaits:
        """From array-likes of one length (a :class:`ValueError` naming ``what`` if not)."""
        grp = np.asarray(group).astype(str)
        sub = np.asarray(submit_s, dtype=np.float64)
        start = np.asarray(first_start_s, dtype=np.float64)
        fits = np.asarray(fits_guarantee, dtype=bool)
        if not (grp.shape == sub.shape == start.shape == fits.shape):
            raise ValueError(
                f"{what}, submit_s, first_start_s and fits_guarantee must have one length"
            )
        return cls(grp, sub, start - sub, ~np.isnan(start), fits)


def wait_and_slo_by_tier(
    tier: ArrayLike,
    submit_s: ArrayLike,
    first_start_s: ArrayLike,
    fits_guarantee: ArrayLike,
    slo_s_by_tier: Mapping[str, float | None],
    span_s: float,
) -> dict[str, dict[str, Any]]:
    """Waiting times and start-SLO attainment of jobs, per tier.

    Per job: its tier, submit time and first start (s from the run start; NaN: never
    started within the span), and whether it fitted its tenant's unused guarantee
    when it was submitted (:attr:`~narvik.workload.tenancy.Tier.start_slo_s` promises
    a start within ``slo_s`` for such work). Per tier (tiers of ``slo_s_by_tier``
    first, then any others met in ``tier``):

    - ``jobs``, ``jobs_started``;
    - ``wait_p50_s``, ``wait_p95_s``, ``wait_mean_s``: wait = first start - submit, over
      the started jobs (numpy's linear percentiles; None with no started job);
    - ``slo_s``: the tier's start SLO, s (None: no SLO);
    - ``jobs_in_slo_scope``: jobs that fitted the guarantee and whose outcome is
      known at the end of the span, i.e. they started, or ``submit + slo_s <= span_s``
      (a job still waiting whose deadline lies beyond the span is left out);
    - ``slo_met``: jobs in scope that started within ``slo_s`` of submission;
    - ``slo_attainment`` = met / in scope (None without SLO or with nothing in scope).
    """
    jobs = _JobWaits.of("tier", tier, submit_s, first_start_s, fits_guarantee)
    started, wait = jobs.started, jobs.wait_s
    names = [str(k) for k in slo_s_by_tier]
    names += [str(t) for t in np.unique(jobs.group) if str(t) not in slo_s_by_tier]
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        mine = jobs.group == name
        waits = wait[mine & started]
        slo = slo_s_by_tier.get(name)
        row: dict[str, Any] = {
            "jobs": int(mine.sum()),
            "jobs_started": int(waits.size),
            "wait_p50_s": float(np.percentile(waits, 50)) if waits.size else None,
            "wait_p95_s": float(np.percentile(waits, 95)) if waits.size else None,
            "wait_mean_s": float(waits.mean()) if waits.size else None,
            "slo_s": float(slo) if slo is not None else None,
            "jobs_in_slo_scope": 0,
            "slo_met": 0,
            "slo_attainment": None,
        }
        if slo is not None:
            scope = mine & jobs.fits & (started | (jobs.submit_s + slo <= span_s))
            met = scope & started & (wait <= slo)
            row["jobs_in_slo_scope"] = int(scope.sum())
            row["slo_met"] = int(met.sum())
            if row["jobs_in_slo_scope"]:
                row["slo_attainment"] = row["slo_met"] / row["jobs_in_slo_scope"]
        out[name] = row
    return out


def _wait_stats(waits_s: NDArray[np.float64], jobs: int) -> dict[str, Any]:
    """``jobs``, ``jobs_started`` and the mean, median and 95th percentile of ``waits_s``
    (the waits of the started jobs; numpy's linear percentiles, None when none started)."""
    n = int(waits_s.size)
    return {
        "jobs": jobs,
        "jobs_started": n,
        "mean_s": float(waits_s.mean()) if n else None,
        "p50_s": float(np.percentile(waits_s, 50)) if n else None,
        "p95_s": float(np.percentile(waits_s, 95)) if n else None,
    }


def waits_by_guarantee(
    group: ArrayLike,
    submit_s: ArrayLike,
    first_start_s: ArrayLike,
    fits_guarantee: ArrayLike,
    order: Sequence[str] = (),
) -> dict[str, dict[str, dict[str, Any]]]:
    """Waits of the work inside and beyond the guarantee, per group (tenant or tier).

    Per job: its group, submit time, first start (NaN: never started) and whether it
    fit its tenant's unused guarantee when it was submitted (the jobs the start SLO
    and the guarantee hours judge). Work that did not fit runs, if at all, on
    capacity other tenants leave idle and may be preempted; it has no promise of a
    start. Per group (those of ``order`` first, listed even without jobs, then any
    other group met in ``group``, sorted): ``{"inside": stats, "beyond": stats}`` where
    stats are ``jobs``, ``jobs_started`` and ``mean_s``, ``p50_s``, ``p95_s`` of wait =
    first start - submit over the started jobs (None when none started).
    """
    jobs = _JobWaits.of("group", group, submit_s, first_start_s, fits_guarantee)
    names = [str(n) for n in order]
    names += sorted(str(g) for g in np.unique(jobs.group) if str(g) not in names)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        mine = jobs.group == name
        out[name] = {
            part: _wait_stats(jobs.wait_s[mine & side & jobs.started], int(np.sum(mine & side)))
            for part, side in (("inside", jobs.fits), ("beyond", ~jobs.fits))
        }
    return out


# --------------------------------------------------------------------------- preemption


def preemption_summary(
    group: ArrayLike, preemptions: ArrayLike, lost_gpu_s: ArrayLike
) -> dict[str, dict[str, Any]]:
    """Preemptions and the GPU-hours they lost, per group (tenant or tier) and in total.

    Per job: its group, how often it was preempted, and the GPU-s of work it lost
    (run since its last checkpoint when it was stopped). Per group (sorted) and under
    :data:`TOTAL_KEY`: ``preemptions`` (sum), ``jobs_preempted`` (jobs preempted at
    least once) and ``gpu_hours_lost`` (= lost GPU-s / 3,600).
    """
    grp = np.asarray(group).astype(str)
    n = np.asarray(preemptions, dtype=np.int64)
    lost = np.asarray(lost_gpu_s, dtype=np.float64)
    if not (grp.shape == n.shape == lost.shape):
        raise ValueError("group, preemptions and lost_gpu_s must have one length")
    names, inv = np.unique(grp, return_inverse=True)
    inv = inv.reshape(-1)
    k = names.size
    count = np.bincount(inv, weights=n, minlength=k)
    jobs = np.bincount(inv, weights=(n > 0), minlength=k)
    hours = np.bincount(inv, weights=lost, minlength=k) / SECONDS_PER_HOUR
    out = {
        str(names[i]): {
            "preemptions": int(round(count[i])),
            "jobs_preempted": int(round(jobs[i])),
            "gpu_hours_lost": float(hours[i]),
        }
        for i in range(k)
    }
    out[TOTAL_KEY] = {
        "preemptions": int(n.sum()),
        "jobs_preempted": int((n > 0).sum()),
        "gpu_hours_lost": float(lost.sum()) / SECONDS_PER_HOUR,
    }
    return out


# --------------------------------------------------------------------------- curtailments


def _field(outcome: Any, name: str) -> Any:
    if isinstance(outcome, Mapping):
        return outcome.get(name)
    return getattr(outcome, name, None)


def _mw(value_w: Any) -> float | None:
    if value_w is None:
        return None
    v = float(value_w)
    return None if np.isnan(v) else v / W_PER_MW


def curtailment_table(
    outcomes: Iterable[Any], start_date: dt.date | None = None
) -> list[dict[str, Any]]:
    """Grid curtailments and how the site met them, as rows for the summary JSON.

    Each outcome (object or mapping) has ``start_s`` (call of the grid operator),
    ``deadline_s`` (the instant by which the power must be shed, s from the start of
    the run), ``end_s`` (lifted), ``shed_w`` (power to shed below the grid cap), ``met``
    (the predicted power stayed within the lowered budget from the deadline to the
    end), ``max_excess_w`` (largest excess over the
    lowered cap), ``min_gpu_cap_fraction`` (lowest GPU power cap used, of TDP) and
    ``preempted_jobs``. Rows carry MW and hours at the edges; with ``start_date``
    also the UTC start and end in ISO 8601.
    """
    origin = (
        dt.datetime(start_date.year, start_date.month, start_date.day, tzinfo=dt.UTC)
        if start_date is not None
        else None
    )
    rows: list[dict[str, Any]] = []
    for o in outcomes:
        start = float(_field(o, "start_s"))
        end = float(_field(o, "end_s"))
        cap = _field(o, "min_gpu_cap_fraction")
        preempted = _field(o, "preempted_jobs")
        row: dict[str, Any] = {
            "start_s": start,
            "end_s": end,
            "duration_h": (end - start) / SECONDS_PER_HOUR,
            "deadline_s": float(_field(o, "deadline_s") or 0.0),
            "shed_mw": _mw(_field(o, "shed_w")),
            "met": bool(_field(o, "met")),
            "max_excess_mw": _mw(_field(o, "max_excess_w")),
            "min_gpu_cap_fraction": float(cap) if cap is not None else None,
            "preempted_jobs": int(preempted) if preempted is not None else 0,
        }
        judged = _field(o, "steps_judged")
        if judged is not None:
            row["steps_judged"] = int(judged)
        if origin is not None:
            row["start_utc"] = (origin + dt.timedelta(seconds=start)).isoformat()
            row["end_utc"] = (origin + dt.timedelta(seconds=end)).isoformat()
        rows.append(row)
    return rows


def curtailments_met(outcomes: Iterable[Any]) -> tuple[int, int]:
    """(curtailments met, curtailments) of the outcomes (see :func:`curtailment_table`)."""
    flags = [bool(_field(o, "met")) for o in outcomes]
    return sum(flags), len(flags)


def curtailment_verdicts(
    outcomes: list[dict[str, Any]],
    t_s: NDArray[np.float64],
    step_s: float,
    facility_power_w: NDArray[np.float64],
    power_cap_w: NDArray[np.float64],
) -> list[dict[str, Any]]:
    """The outcomes with ``met`` and ``max_excess_w`` judged on the physics steps: a
    curtailment is met when every step lying wholly between its deadline and its end
    keeps the facility's power at or under the lowered cap (the ``power_cap_w`` column
    of ``timeseries.parquet``); ``steps_judged`` counts those steps."""
    out = []
    for o in outcomes:
        inside = (t_s >= float(o["deadline_s"])) & (t_s + step_s <= float(o["end_s"]))
        excess = facility_power_w[inside] - power_cap_w[inside]
        worst = float(excess.max(initial=0.0))
        out.append(
            {
                **o,
                "met": bool(worst <= 1e-6 * max(float(power_cap_w.max(initial=1.0)), 1.0)),
                "max_excess_w": max(worst, 0.0),
                "steps_judged": int(inside.sum()),
            }
        )
    return out
