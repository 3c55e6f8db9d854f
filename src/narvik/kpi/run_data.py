"""A run folder as the report reads it: ``summary.json``, ``jobs.parquet`` and
``timeseries.parquet``, checked against their contract (columns and keys:
ARCHITECTURE.md) and loaded, with a :class:`ValueError` naming the file when one is
missing or unreadable. :mod:`narvik.kpi.report` and :mod:`narvik.kpi.compare` build
their pages from :class:`RunData`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SUMMARY_FILE = "summary.json"
JOBS_FILE = "jobs.parquet"
TIMESERIES_FILE = "timeseries.parquet"

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
#: Columns read when present: the job's tenant; the queue and the chillers of a step.
JOBS_OPTIONAL_COLUMNS = ("tenant",)
TIMESERIES_OPTIONAL_COLUMNS = ("queued_jobs", "chiller_power_w")


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
    jobs = _read_parquet(jobs_path, JOBS_COLUMNS, JOBS_OPTIONAL_COLUMNS)
    _check_numeric(jobs, ("gpus", "submit_s", "start_s", "end_s"), jobs_path)
    for name in ("tier", "tenant"):
        if name in jobs.column_names and not _is_text(jobs.schema.field(name).type):
            raise ValueError(f"{jobs_path}: column {name!r} must be text")
    ts_path = run_dir / TIMESERIES_FILE
    required = list(TIMESERIES_COLUMNS)
    prefixes: list[str] = list(TIMESERIES_OPTIONAL_COLUMNS)
    if physical:
        required += PHYSICAL_TIMESERIES_COLUMNS
        for o in summary.get("offtakers") or []:
            required += [f"heat_demand_w[{o['name']}]", f"heat_delivered_w[{o['name']}]"]
        prefixes += ["gpus_busy[", "gpus_total"]
    timeseries = _read_parquet(ts_path, required, prefixes)
    _check_numeric(timeseries, timeseries.column_names, ts_path)
    if timeseries.num_rows > 1:
        t = floats(timeseries, "t_s")
        if not np.all(np.diff(t) >= 0):
            raise ValueError(f"{ts_path}: column 't_s' must be non-decreasing")
    return RunData(run_dir=run_dir, summary=summary, jobs=jobs, timeseries=timeseries)


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def floats(table: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64, nulls as NaN."""
    column = table.column(name).cast(pa.float64())
    return pc.fill_null(column, math.nan).to_numpy()
