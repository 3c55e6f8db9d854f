"""Job tables as CSV or Parquet, and one entry point for every trace format.

Columns: ``job_id``, ``tenant``, ``tier``, ``gpus``, ``submit_s``, ``runtime_s``,
``requested_s`` (see :mod:`narvik.workload.job`). ``tier`` and ``requested_s``
may be absent (default tier; unknown estimate); empty ``requested_s`` cells are
unknown. A bad cell raises :class:`~narvik.workload.job.TraceError` naming the
file, the line (CSV, header = line 1) or row (Parquet, 1-based) and the column.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from narvik.atomic import atomic_path
from narvik.workload.job import DEFAULT_TIER, JobTable, TraceError
from narvik.workload.swf import read_swf, write_swf

COLUMNS = ("job_id", "tenant", "tier", "gpus", "submit_s", "runtime_s", "requested_s")
_TYPES = {
    "job_id": pa.string(),
    "tenant": pa.string(),
    "tier": pa.string(),
    "gpus": pa.int64(),
    "submit_s": pa.float64(),
    "runtime_s": pa.float64(),
    "requested_s": pa.float64(),
}
_OPTIONAL = ("tier", "requested_s")
FORMATS = ("swf", "csv", "parquet")


def infer_format(path: str | os.PathLike[str]) -> str:
    """``swf``, ``csv`` or ``parquet`` from the file name (``.gz`` is looked through)."""
    name = Path(path).name.lower().removesuffix(".gz")
    for fmt, suffixes in (("swf", (".swf",)), ("csv", (".csv",)), ("parquet", (".parquet", ".pq"))):
        if name.endswith(suffixes):
            return fmt
    raise TraceError(f"{path}: cannot tell the trace format from the name; give it explicitly")


def _where(fmt: str, row: int) -> str:
    return f"line {row + 2}" if fmt == "csv" else f"row {row + 1}"


def _convert(table: pa.Table, path: Path, fmt: str) -> JobTable:
    n = table.num_rows
    missing = [c for c in COLUMNS if c not in table.column_names and c not in _OPTIONAL]
    if missing:
        raise TraceError(f"{path}: missing column(s) {', '.join(missing)}")
    cols: dict[str, np.ndarray] = {}
    for name in COLUMNS:
        if name not in table.column_names:
            fill: object = DEFAULT_TIER if name == "tier" else np.nan
            cols[name] = np.full(n, fill, dtype=object if name == "tier" else np.float64)
            continue
        col = table.column(name)
        try:
            col = pc.cast(col, _TYPES[name])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for i, v in enumerate(col.to_pylist()):
                try:
                    pc.cast(pa.array([v]), _TYPES[name])
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise TraceError(
                        f"{path}: {_where(fmt, i)}, column {name}: "
                        f"cannot read {v!r} as {_TYPES[name]}"
                    ) from None
            raise  # pragma: no cover
        nulls = np.asarray(col.is_null())
        if name != "requested_s" and nulls.any():
            i = int(np.flatnonzero(nulls)[0])
            raise TraceError(f"{path}: {_where(fmt, i)}, column {name}: empty value")
        if pa.types.is_string(_TYPES[name]):
            arr = np.empty(n, dtype=object)
            arr[:] = col.to_pylist()
        else:
            arr = col.to_numpy(zero_copy_only=False)
            if name == "requested_s":
                arr = np.where(nulls, np.nan, arr).astype(np.float64)
        cols[name] = arr
    checks = (
        ("gpus", cols["gpus"] <= 0, "must be > 0"),
        ("submit_s", ~np.isfinite(cols["submit_s"]), "must be finite"),
        (
            "runtime_s",
            ~(cols["runtime_s"] > 0) | np.isinf(cols["runtime_s"]),
            "must be > 0 and finite",
        ),
        ("requested_s", np.isinf(cols["requested_s"]), "must be finite or empty"),
    )
    for name, bad, what in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise TraceError(f"{path}: {_where(fmt, i)}, column {name}: {cols[name][i]!r} {what}")
    return JobTable(**cols)


def read_jobs(path: str | os.PathLike[str], format: str | None = None) -> JobTable:
    """Read a job table from CSV or Parquet (``format`` inferred from the name when None)."""
    p = Path(path)
    fmt = format or infer_format(p)
    try:
        if fmt == "csv":
            opts = pacsv.ConvertOptions(
                column_types={c: pa.string() for c in COLUMNS},
                strings_can_be_null=True,
                null_values=[""],
            )
            table = pacsv.read_csv(p, convert_options=opts)
        elif fmt == "parquet":
            table = pq.read_table(p)
        else:
            raise TraceError(f"{p}: read_jobs reads csv or parquet, not {fmt!r}")
    except (OSError, pa.ArrowInvalid) as exc:
        raise TraceError(f"{p}: cannot read {fmt} job table: {exc}") from exc
    return _convert(table, p, fmt)


def jobs_to_arrow(jobs: JobTable) -> pa.Table:
    """The job table as Arrow (unknown ``requested_s`` as null)."""
    return pa.table(
        {
            "job_id": pa.array(jobs.job_id, type=pa.string()),
            "tenant": pa.array(jobs.tenant, type=pa.string()),
            "tier": pa.array(jobs.tier, type=pa.string()),
            "gpus": pa.array(jobs.gpus, type=pa.int64()),
            "submit_s": pa.array(jobs.submit_s, type=pa.float64()),
            "runtime_s": pa.array(jobs.runtime_s, type=pa.float64()),
            "requested_s": pa.array(
                jobs.requested_s, type=pa.float64(), mask=np.isnan(jobs.requested_s)
            ),
        }
    )


def write_jobs(jobs: JobTable, path: str | os.PathLike[str], format: str | None = None) -> None:
    """Write a job table as CSV, Parquet or SWF, atomically and deterministically."""
    fmt = format or infer_format(path)
    if fmt == "swf":
        write_swf(jobs, path)
        return
    table = jobs_to_arrow(jobs)
    with atomic_path(path) as tmp:
        if fmt == "csv":
            pacsv.write_csv(table, tmp)
        elif fmt == "parquet":
            pq.write_table(table, tmp, compression="zstd")
        else:
            raise TraceError(f"{path}: unknown job table format {fmt!r}")


def read_trace(
    path: str | os.PathLike[str], format: str | None = None, *, skip_bad: bool = False
) -> tuple[JobTable, dict[str, int], int | None]:
    """Read any trace: returns (jobs, skipped records by reason, slots in the header or None)."""
    fmt = format or infer_format(path)
    if fmt == "swf":
        trace = read_swf(path, skip_bad=skip_bad)
        return trace.jobs, trace.skipped_by_reason, trace.max_procs
    return read_jobs(path, fmt), {}, None
