"""What the accounting importers share: the imported trace, its Parquet file, the maps.

``narvik import sacct`` (:mod:`narvik.bridges.sacct_import`) and ``narvik import
kueue-workloads`` (:mod:`narvik.bridges.kueue_workloads_import`) turn another
scheduler's accounting into the job table narvik replays (the columns of
:mod:`narvik.workload.tables`: ``job_id``, ``tenant``, ``tier``, ``gpus``,
``submit_s``, ``runtime_s``, ``requested_s``), with times in seconds from the earliest
submit. Records they leave out are counted by reason, never silently dropped.

The Parquet file is the one :func:`narvik.workload.tables.read_jobs` reads (so
``narvik simulate --trace TRACE.parquet`` replays it); its schema metadata also keeps
the absolute instant of ``t = 0`` (``narvik.epoch_utc``, ISO 8601 UTC; returned by
:func:`read_trace_epoch`), the input's file name (``narvik.source``) and the skip counts
(``narvik.skipped``, JSON); the trace reader ignores them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from narvik.workload.job import DEFAULT_TIER, JobTable, TraceError

EPOCH_KEY = "narvik.epoch_utc"
"""Parquet schema metadata key: the UTC instant of ``t = 0`` (ISO 8601)."""
SOURCE_KEY = "narvik.source"
SKIPPED_KEY = "narvik.skipped"
ANY = "*"
"""Key of a tier or tenant map that applies to every name not given otherwise."""


@dataclass(frozen=True)
class ImportedTrace:
    """An imported trace: its jobs, what was skipped (by reason) and its epoch.

    ``jobs.submit_s`` counts from ``epoch_utc`` (the earliest submit of a kept job);
    ``epoch_utc`` is None only when no job was kept.
    """

    jobs: JobTable
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    epoch_utc: datetime | None = None
    source: str = ""

    @property
    def skipped(self) -> int:
        """Total number of records skipped (all reasons)."""
        return sum(self.skipped_by_reason.values())

    def summary(self) -> dict[str, object]:
        """Counts for people and scripts: jobs, skipped by reason, epoch."""
        return {
            "jobs": len(self.jobs),
            "skipped": dict(sorted(self.skipped_by_reason.items())),
            "epoch_utc": None if self.epoch_utc is None else iso_utc(self.epoch_utc),
        }


@dataclass(frozen=True, slots=True)
class Row:
    """One kept job, times as absolute UTC seconds (POSIX), before rebasing."""

    job_id: str
    tenant: str
    tier: str
    gpus: int
    submit_utc_s: float
    runtime_s: float
    requested_s: float | None


class SkipCounter:
    """Counts of skipped records by reason (only reasons seen are kept)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, reason: str) -> None:
        """Count one record skipped for ``reason``."""
        self.counts[reason] = self.counts.get(reason, 0) + 1


def iso_utc(t: datetime) -> str:
    """``2024-01-02T03:04:05Z`` (whole seconds) or with a fraction when it has one."""
    text = t.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def parse_mapping(pairs: Iterable[str] | Mapping[str, str] | None, option: str) -> dict[str, str]:
    """``["normal=regional", "*=default"]`` as a dict; a bad pair names ``option``."""
    if pairs is None:
        return {}
    if isinstance(pairs, Mapping):
        return {str(k): str(v) for k, v in pairs.items()}
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{option}: expected NAME=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def map_name(mapping: Mapping[str, str], name: str, default: str) -> str:
    """``mapping[name]``, else ``mapping["*"]``, else ``default``."""
    if name in mapping:
        return mapping[name]
    return mapping.get(ANY, default)


def map_tier(mapping: Mapping[str, str], name: str) -> str:
    """A tier from a QOS / priority class: mapped, else :data:`DEFAULT_TIER`."""
    return map_name(mapping, name, DEFAULT_TIER) if name else mapping.get(ANY, DEFAULT_TIER)


def build_trace(
    rows: list[Row], skipped: SkipCounter, source: str, what: str = "record"
) -> ImportedTrace:
    """The kept rows as a job table in input order, rebased to the earliest submit.

    Raises :class:`TraceError` when no job is kept (naming the skip counts)."""
    if not rows:
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(skipped.counts.items()))
        why = f" ({what}s skipped: {counts})" if counts else ""
        raise TraceError(f"{source}: no job to import{why}")
    epoch_s = min(r.submit_utc_s for r in rows)
    requested = [math.nan if r.requested_s is None else r.requested_s for r in rows]
    jobs = JobTable.from_arrays(
        gpus=np.array([r.gpus for r in rows], dtype=np.int64),
        submit_s=np.array([r.submit_utc_s - epoch_s for r in rows], dtype=np.float64),
        runtime_s=np.array([r.runtime_s for r in rows], dtype=np.float64),
        requested_s=np.array(requested, dtype=np.float64),
        job_id=[r.job_id for r in rows],
        tenant=[r.tenant for r in rows],
        tier=[r.tier for r in rows],
    )
    epoch = datetime.fromtimestamp(epoch_s, tz=UTC)
    return ImportedTrace(jobs, dict(skipped.counts), epoch, source)


def write_trace(trace: ImportedTrace, path: str | os.PathLike[str]) -> None:
    """Write the trace as Parquet (atomically, zstd), with its epoch in the schema metadata."""
    import pyarrow.parquet as pq

    from narvik.atomic import atomic_path
    from narvik.workload.tables import jobs_to_arrow

    meta = {
        SOURCE_KEY: Path(trace.source).name,  # the name only: same input, same bytes
        SKIPPED_KEY: json.dumps(dict(sorted(trace.skipped_by_reason.items()))),
    }
    if trace.epoch_utc is not None:
        meta[EPOCH_KEY] = iso_utc(trace.epoch_utc)
    table = jobs_to_arrow(trace.jobs).replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_trace_epoch(path: str | os.PathLike[str]) -> datetime | None:
    """The UTC instant of ``t = 0`` written by :func:`write_trace`, or None when absent."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(Path(path)).metadata or {}
    raw = meta.get(EPOCH_KEY.encode())
    return None if raw is None else datetime.fromisoformat(raw.decode())
