"""Write a job table as ``sacct --parsable2`` output, as Slurm would print it.

Each job gets its line plus, when ``steps``, the step lines sacct(1) prints under it
(``N.batch``, ``N.extern``, ``N.0``); when ``noise``, lines of jobs that must not be
replayed are mixed in (pending, running, cancelled before start, never started,
requeued, CPU-only). :func:`write_sacct` returns the skip counts the importer must
report for the file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from narvik.workload.job import JobTable

COLUMNS = (
    "JobIDRaw",
    "JobID",
    "Account",
    "QOS",
    "Submit",
    "Start",
    "End",
    "Elapsed",
    "Timelimit",
    "AllocTRES",
    "ReqTRES",
    "State",
    "Partition",
)
EPOCH = datetime(2024, 3, 1, tzinfo=UTC)
NOISE_EVERY = 37


def slurm_duration(seconds: float) -> str:
    """``[D-]HH:MM:SS`` as sacct(1) prints Elapsed and Timelimit."""
    s = int(seconds)
    assert s == seconds, f"sacct prints whole seconds, got {seconds}"
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    hms = f"{h:02d}:{m:02d}:{sec:02d}"
    return f"{d}-{hms}" if d else hms


def slurm_time(posix_s: float, zone: str = "UTC") -> str:
    """A POSIX instant as sacct prints it: naive local time of ``zone``."""
    dt = datetime.fromtimestamp(posix_s, tz=ZoneInfo(zone))
    return dt.replace(tzinfo=None).isoformat(timespec="seconds")


def tres(gpus: int, gpu_type: str | None = None) -> str:
    """An AllocTRES string with ``gpus`` GPUs (and the typed count when ``gpu_type``)."""
    parts = [f"billing={gpus}", f"cpu={8 * gpus}"]
    if gpus:
        parts.append(f"gres/gpu={gpus}")
        if gpu_type:
            parts.append(f"gres/gpu:{gpu_type}={gpus}")
    parts += [f"mem={64 * max(gpus, 1)}G", "node=1"]
    return ",".join(parts)


def _record(
    job_id: str,
    *,
    account: str,
    submit: float,
    start: float | None,
    end: float | None,
    timelimit: str,
    gpus: int,
    state: str,
    zone: str,
    qos: str = "normal",
) -> dict[str, str]:
    """One sacct line as field -> text (absolute POSIX times)."""
    unknown = "Unknown"
    elapsed = 0.0 if start is None or end is None else end - start
    alloc = tres(gpus) if start is not None else ""
    return {
        "JobIDRaw": job_id,
        "JobID": job_id,
        "Account": account,
        "QOS": qos,
        "Submit": slurm_time(submit, zone),
        "Start": unknown if start is None else slurm_time(start, zone),
        "End": unknown if end is None else slurm_time(end, zone),
        "Elapsed": slurm_duration(elapsed),
        "Timelimit": timelimit,
        "AllocTRES": alloc,
        "ReqTRES": tres(gpus),
        "State": state,
        "Partition": "gpu",
    }


def _steps(job: dict[str, str]) -> list[dict[str, str]]:
    """The step lines sacct prints under a job (no Account/QOS/Timelimit on steps)."""
    out = []
    for step in ("batch", "extern", "0"):
        rec = dict(job, JobIDRaw=f"{job['JobIDRaw']}.{step}", JobID=f"{job['JobID']}.{step}")
        rec.update(Account="", QOS="", Timelimit="", ReqTRES="", State="COMPLETED")
        out.append(rec)
    return out


def _noise(k: int, submit: float, zone: str) -> tuple[list[dict[str, str]], dict[str, int]]:
    """Lines of jobs that must be skipped, with the reasons the importer must count."""
    base = f"{9_000_000 + 10 * k}"
    common = {"account": "noise", "submit": submit, "timelimit": "01:00:00", "zone": zone}
    recs = [
        _record(base + "1", start=None, end=None, gpus=2, state="PENDING", **common),
        _record(base + "2", start=submit + 5, end=None, gpus=2, state="RUNNING", **common),
        _record(base + "3", start=None, end=None, gpus=2, state="CANCELLED by 1001", **common),
        _record(
            base + "4", start=submit + 9, end=submit + 9, gpus=1, state="CANCELLED by 0", **common
        ),
        _record(base + "5", start=submit + 3, end=submit + 60, gpus=0, state="COMPLETED", **common),
        _record(base + "6", start=None, end=None, gpus=1, state="FAILED", **common),
        _record(base + "7", start=submit + 1, end=submit + 30, gpus=1, state="REQUEUED", **common),
    ]
    recs[2]["Start"] = "None"
    recs[5]["End"] = "Unknown"
    counts = {
        "pending": 1,
        "running": 1,
        "cancelled_before_start": 2,
        "no_gpus": 1,
        "never_started": 1,
        "requeued": 1,
    }
    return recs, counts


def sacct_records(
    jobs: JobTable,
    *,
    epoch: datetime = EPOCH,
    zone: str = "UTC",
    steps: bool = True,
    noise: bool = True,
    wait_s: float = 17.0,
) -> tuple[list[dict[str, str]], dict[str, int]]:
    """The sacct lines of ``jobs`` (as field -> text) and the expected skip counts.

    ``submit_s`` counts from ``epoch``; each job starts ``wait_s`` after submit on the
    "real" cluster (the importer ignores the recorded start beyond the runtime)."""
    t0 = epoch.timestamp()
    records: list[dict[str, str]] = []
    skipped: dict[str, int] = {}
    for i, job in enumerate(jobs):
        submit = t0 + job.submit_s
        start = submit + wait_s
        limit = "UNLIMITED" if job.requested_s is None else slurm_duration(job.requested_s)
        rec = _record(
            job.job_id,
            account=job.tenant,
            submit=submit,
            start=start,
            end=start + job.runtime_s,
            timelimit=limit,
            gpus=job.gpus,
            state="COMPLETED" if i % 5 else "FAILED",
            zone=zone,
            qos="high" if i % 3 == 0 else "normal",
        )
        records.append(rec)
        if steps:
            records += _steps(rec)
            skipped["job_step"] = skipped.get("job_step", 0) + 3
        if noise and i % NOISE_EVERY == 0:
            more, counts = _noise(i, submit, zone)
            records += more
            for k, v in counts.items():
                skipped[k] = skipped.get(k, 0) + v
    return records, skipped


def render(records: Sequence[dict[str, str]], columns: Sequence[str] = COLUMNS) -> str:
    """The lines as ``sacct --parsable2`` prints them: header, then ``|``-separated fields."""
    lines = ["|".join(columns)]
    lines += ["|".join(r[c] for c in columns) for r in records]
    return "\n".join(lines) + "\n"


def write_sacct(
    jobs: JobTable,
    path: Path,
    *,
    columns: Sequence[str] = COLUMNS,
    epoch: datetime = EPOCH,
    zone: str = "UTC",
    steps: bool = True,
    noise: bool = True,
) -> dict[str, int]:
    """Write ``jobs`` as sacct output to ``path``; returns the skip counts to expect."""
    records, skipped = sacct_records(jobs, epoch=epoch, zone=zone, steps=steps, noise=noise)
    path.write_text(render(records, columns), encoding="utf-8")
    return skipped


def first_submit_offset(jobs: JobTable) -> timedelta:
    """Offset of the earliest submit from :data:`EPOCH` (the imported trace's t = 0)."""
    first = float(jobs.submit_s.min())
    assert math.isfinite(first)
    return timedelta(seconds=first)
