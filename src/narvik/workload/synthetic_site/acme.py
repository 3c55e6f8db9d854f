"""The Acme trace's Seren cluster: the figures the research family is calibrated to.

Hu et al., "Characterization of Large Language Model Development in the
Datacenter", NSDI 2024 (Shanghai AI Lab, 2023); the figures are those of
``../shared/data/traces/acme_cluster_summary.csv``, embedded here as ``SEREN_*`` so
the generator reads no file. :func:`acme_statistics` reads the CSV itself (the
tests check the embedded figures against it).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator

SEREN_GPU_JOB_NUM = 663_813
"""Seren: number of GPU jobs (``gpu_job_num``)."""
SEREN_AVG_RUN_TIME_GPU_S = 1414.335
"""Seren: mean run time of GPU jobs, s (``avg_run_time_gpu``)."""
SEREN_MED_RUN_TIME_GPU_S = 122.0
"""Seren: median run time of GPU jobs, s (``med_run_time_gpu``)."""
SEREN_MAX_RUN_TIME_GPU_S = 1_209_604.0
"""Seren: longest GPU job, s (``max_run_time_gpu``): the 14-day limit + 4 s."""
SEREN_AVG_GPU_NUM = 5.68
"""Seren: mean GPUs per GPU job (``avg_gpu_num``)."""
SEREN_MED_GPU_NUM = 1.0
"""Seren: median GPUs per GPU job (``med_gpu_num``)."""
SEREN_MAX_GPU = 1024.0
"""Seren: largest GPU job (``max_gpu``)."""
SEREN_GPU_TIME_S = 4_560_592_618.0 + 14_274_584_510.0 + 2_675_447_459.0
"""Seren: GPU time of completed + cancelled + failed GPU jobs, GPU-s (``*_gpu_time``)."""

SEREN_RUNTIME_MEAN_TO_MEDIAN = SEREN_AVG_RUN_TIME_GPU_S / SEREN_MED_RUN_TIME_GPU_S
"""Seren's mean / median run time (11.59): the shape the research family keeps."""
SEREN_SIZE_RUNTIME_COUPLING = SEREN_GPU_TIME_S / (
    SEREN_GPU_JOB_NUM * SEREN_AVG_GPU_NUM * SEREN_AVG_RUN_TIME_GPU_S
)
"""E[gpus * runtime] / (E[gpus] E[runtime]) on Seren (4.03): big jobs run longer."""

ACME_REQUIRED_COLUMNS = (
    "avg_run_time_gpu",
    "avg_gpu_num",
    "med_run_time_gpu",
    "med_gpu_num",
    "max_run_time_gpu",
    "max_gpu",
)
"""Columns :func:`acme_statistics` insists on (besides ``id``)."""


def acme_statistics(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """Read ``acme_cluster_summary.csv`` (Hu et al., NSDI 2024): per cluster id, its figures.

    Every column but ``id`` is a float (an empty cell - a figure the trace
    lacks, e.g. Philly's CPU jobs - is NaN). Raises ``ValueError`` naming the
    file and 1-based line for a missing header or column, a row of the wrong
    width, a duplicate or empty id, or a value that is not a number.
    """
    name = os.fspath(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = _read_header(reader, name)
        out: dict[str, dict[str, float]] = {}
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            where = f"{name}:{reader.line_num}"
            cid, values = _parse_row(row, header, where)
            if cid in out:
                raise ValueError(f"{where}: duplicate id {cid!r}")
            out[cid] = values
    return out


def _read_header(reader: Iterator[list[str]], name: str) -> list[str]:
    """The header row, checked: ``id`` first, the required columns, no duplicates."""
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError(f"{name}:1: empty file, expected a header row") from None
    if not header or header[0] != "id":
        raise ValueError(f"{name}:1: the first column must be 'id', got {header[:1]}")
    missing = [c for c in ACME_REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{name}:1: missing column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise ValueError(f"{name}:1: duplicate column names")
    return header


def _parse_row(row: list[str], header: list[str], where: str) -> tuple[str, dict[str, float]]:
    """One data row: its id and its figures (an empty cell is NaN)."""
    if len(row) != len(header):
        raise ValueError(f"{where}: expected {len(header)} fields, got {len(row)}")
    cid = row[0].strip()
    if not cid:
        raise ValueError(f"{where}: empty id")
    values: dict[str, float] = {}
    for col, cell in zip(header[1:], row[1:], strict=True):
        text = cell.strip()
        if not text:
            values[col] = math.nan
            continue
        try:
            values[col] = float(text)
        except ValueError:
            raise ValueError(f"{where}: column {col!r}: not a number: {text!r}") from None
    return cid, values
