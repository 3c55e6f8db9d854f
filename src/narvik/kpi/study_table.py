"""A study's side-by-side table: one column per point of the study, one row per KPI.

What ``narvik study run`` and ``narvik study report`` print on the terminal (the HTML
report draws the same numbers): each cell is the mean over the seeds that finished, with
its 95 % confidence interval when there are two or more.
"""

from __future__ import annotations

from dataclasses import dataclass

from narvik.kpi.study_report import (
    StudyData,
    format_interval,
    shown_kpis,
    study_points,
)


@dataclass(frozen=True)
class SideBySide:
    """Column headers (the points) and rows (a KPI name, then one cell per point)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...]


def side_by_side(data: StudyData) -> SideBySide:
    """The table of :func:`shown_kpis` against the study's points, in study order."""
    points = study_points(data)
    kpis, notes = shown_kpis(data)
    headers = tuple(" / ".join(p.labels) or "base" for p in points)
    rows = tuple((kpi, *(format_interval(p.stat(kpi)) for p in points)) for kpi in kpis)
    failed = tuple(f"run {r.run_id} failed: {r.error}" for r in data.failed)
    return SideBySide(data.name, headers, rows, (*notes, *failed))
