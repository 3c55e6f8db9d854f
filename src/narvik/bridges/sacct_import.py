"""Slurm accounting (``sacct --parsable2``) as a narvik trace: ``narvik import sacct``.

Input: the output of e.g.::

    sacct --allusers --parsable2 --starttime 2024-01-01 \\
          --format JobIDRaw,Submit,Start,End,Elapsed,Timelimit,AllocTRES,Account,QOS,State

(sacct(1), https://slurm.schedmd.com/sacct.html): a header line of field names, then
one line per job or job step, fields separated by ``|``, in any column order
(``--parsable``, with a trailing ``|``, is read too; field names match in any case).
Needed: ``JobIDRaw`` (or ``JobID``), ``Submit``, ``Start``, ``End`` or ``Elapsed``,
``Timelimit``, ``AllocTRES`` or ``ReqTRES``, ``Account``, ``QOS`` and ``State``.

Each job becomes a row of the trace (:mod:`narvik.workload.tables`):

- ``job_id``: JobIDRaw (else JobID; array tasks ``123_4`` keep their JobID text);
- ``tenant``: Account, renamed by ``tenant_map`` (``"*"``: any other account); unmapped
  accounts keep their name (an empty Account is ``unknown``);
- ``tier``: QOS through ``tier_map`` (``"*"``: any other QOS), else ``default``;
- ``gpus``: the ``gpu_tres`` counts of AllocTRES (ReqTRES when AllocTRES is absent or
  empty); see :func:`~narvik.bridges.sacct_import_fields.tres_gpus`;
- ``submit_s``: Submit, in seconds from the earliest Submit of a kept job (the trace's
  epoch, kept in the Parquet metadata); naive times are read in ``tz``;
- ``runtime_s``: End - Start (Elapsed when End is absent or unknown);
- ``requested_s``: Timelimit (``UNLIMITED``/``Partition_Limit``: unknown).

Records left out, each counted by reason (:data:`REASONS`), never silently dropped:
``job_step`` (``123.batch``, ``123.extern``, ``123.0``); ``pending`` (PENDING);
``running`` (RUNNING, SUSPENDED and other live states); ``requeued`` (REQUEUED: an
earlier run of a requeued job, shown with ``--duplicates``); ``cancelled_before_start``
(CANCELLED with no Start, or with no time run: Slurm gives a job cancelled while
pending Start = End); ``never_started`` (no Start in any other state);
``runtime_not_positive`` (no time run); ``no_gpus`` (no GPU in the TRES: CPU-only
jobs have no place on a GPU pool).

A line with the wrong number of fields, or an unreadable time, duration or TRES in a
field the job needs, raises :class:`~narvik.workload.job.TraceError` naming the file,
the 1-based line and the field.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from narvik.bridges.import_trace import (
    ImportedTrace,
    Row,
    SkipCounter,
    build_trace,
    map_name,
    map_tier,
    parse_mapping,
    write_trace,
)
from narvik.bridges.sacct_import_fields import (
    parse_elapsed,
    parse_time,
    parse_timelimit,
    tres_gpus,
    zone,
)
from narvik.workload.job import TraceError

DEFAULT_GPU_TRES = ("gres/gpu",)
REASONS = (
    "job_step",
    "pending",
    "running",
    "requeued",
    "cancelled_before_start",
    "never_started",
    "runtime_not_positive",
    "no_gpus",
)
_PENDING = frozenset({"PENDING"})
_RUNNING = frozenset(
    {"RUNNING", "SUSPENDED", "COMPLETING", "CONFIGURING", "RESIZING", "SIGNALING", "STAGE_OUT"}
    | {"STOPPED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT"}
)
_REQUEUED = frozenset({"REQUEUED"})
_NEEDED = "JobIDRaw,Submit,Start,End,Timelimit,AllocTRES,Account,QOS,State"
#: (logical field, accepted column names (sacct(1) spelling) by preference, required)
_FIELDS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("id", ("JobIDRaw", "JobID"), True),
    ("submit", ("Submit",), True),
    ("start", ("Start",), True),
    ("end", ("End",), False),
    ("elapsed", ("Elapsed",), False),
    ("timelimit", ("Timelimit",), True),
    ("alloc_tres", ("AllocTRES",), False),
    ("req_tres", ("ReqTRES",), False),
    ("account", ("Account",), True),
    ("qos", ("QOS",), True),
    ("state", ("State",), True),
)
_FIELDS_BY_KEY = {k: a for k, a, _ in _FIELDS}


@dataclass(frozen=True)
class SacctOptions:
    """How sacct fields become trace columns (see the module docstring)."""

    tz: tzinfo
    gpu_tres: tuple[str, ...] = DEFAULT_GPU_TRES
    tier_map: Mapping[str, str] | None = None
    tenant_map: Mapping[str, str] | None = None


@dataclass(frozen=True)
class _Header:
    """Column index of each logical field present, the file's column names, field count,
    and whether lines end in ``|`` (sacct(1): ``--parsable`` does, ``--parsable2`` not)."""

    cols: dict[str, int]
    names: list[str]
    trailing: bool


class _Line:
    """One data line: its fields by logical name, with errors naming file, line, field."""

    def __init__(self, path: Path, line_no: int, values: list[str], header: _Header):
        self.path, self.line_no, self.values = path, line_no, values
        self.cols, self.names = header.cols, header.names

    def has(self, key: str) -> bool:
        """Whether the file has the column and this line a non-empty value in it."""
        return key in self.cols and self.values[self.cols[key]].strip() != ""

    def get(self, key: str) -> str:
        """The raw text of a field (empty when the file has no such column)."""
        return self.values[self.cols[key]].strip() if key in self.cols else ""

    def error(self, key: str, message: str) -> TraceError:
        """A :class:`TraceError` naming the file, line and column of ``key``."""
        name = self.names[self.cols[key]] if key in self.cols else _FIELDS_BY_KEY[key][0]
        return TraceError(f"{self.path}: line {self.line_no}, field {name}: {message}")


def _read_text(path: Path) -> str:
    """The file's text (gzip-compressed files are read through)."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read sacct output: {exc}") from exc


def _header(path: Path, line: str, line_no: int) -> _Header:
    """The header line: which column holds each field (names match in any case)."""
    trailing = line.endswith("|")
    names = [n.strip() for n in (line[:-1] if trailing else line).split("|")]
    lower = {n.lower(): i for i, n in reversed(list(enumerate(names)))}
    cols: dict[str, int] = {}
    for key, accepted, required in _FIELDS:
        found = next((a.lower() for a in accepted if a.lower() in lower), None)
        if found is not None:
            cols[key] = lower[found]
        elif required:
            raise TraceError(
                f"{path}: line {line_no}: no {' or '.join(accepted)} column in the header "
                f"(sacct --parsable2 --format needs {_NEEDED})"
            )
    for either in (("end", "elapsed"), ("alloc_tres", "req_tres")):
        if not any(k in cols for k in either):
            wanted = " or ".join(_FIELDS_BY_KEY[k][0] for k in either)
            raise TraceError(f"{path}: line {line_no}: no {wanted} column in the header")
    return _Header(cols, names, trailing)


def _lines(path: Path, text: str) -> Iterator[_Line]:
    """The data lines of the file (blank lines skipped), field count checked."""
    rows = text.splitlines()
    first = next((i for i, r in enumerate(rows) if r.strip()), None)
    if first is None:
        raise TraceError(f"{path}: empty file: expected sacct --parsable2 output with a header")
    header = _header(path, rows[first], first + 1)
    n_fields = len(header.names)
    for i in range(first + 1, len(rows)):
        raw = rows[i]
        if not raw.strip():
            continue
        if header.trailing and raw.endswith("|"):
            raw = raw[:-1]
        values = raw.split("|")
        if len(values) != n_fields:
            raise TraceError(
                f"{path}: line {i + 1}: expected {n_fields} fields (as the header), "
                f"found {len(values)}"
            )
        yield _Line(path, i + 1, values, header)


def _state(line: _Line) -> str:
    """The State's base word: ``CANCELLED by 1234`` -> ``CANCELLED`` (sacct(1) JOB STATE CODES)."""
    words = line.get("state").split()
    return words[0].rstrip("+").upper() if words else ""


def _time(line: _Line, key: str, tz: tzinfo) -> float | None:
    try:
        return parse_time(line.get(key), tz)
    except ValueError as exc:
        raise line.error(key, str(exc)) from None


def _runtime(line: _Line, start_s: float, tz: tzinfo) -> float | None:
    """End - Start, or Elapsed when End is absent or unknown; None when neither is known."""
    end_s = _time(line, "end", tz) if "end" in line.cols else None
    if end_s is not None:
        return end_s - start_s
    if line.has("elapsed"):
        try:
            return parse_elapsed(line.get("elapsed"))
        except ValueError as exc:
            raise line.error("elapsed", str(exc)) from None
    return None


def _gpus(line: _Line, names: Sequence[str]) -> int:
    key = "alloc_tres" if line.has("alloc_tres") or "req_tres" not in line.cols else "req_tres"
    try:
        return tres_gpus(line.get(key), names)
    except ValueError as exc:
        raise line.error(key, str(exc)) from None


def _skip_reason(line: _Line, state: str) -> str | None:
    """Why a line is not a job to replay, judged on its id and State alone."""
    if "." in line.get("id"):
        return "job_step"
    if state in _PENDING:
        return "pending"
    if state in _RUNNING:
        return "running"
    if state in _REQUEUED:
        return "requeued"
    return None


def _start_or_skip(line: _Line, state: str, tz: tzinfo) -> float | str:
    """The job's Start (POSIX s), or the reason the line is left out."""
    if not line.get("id"):
        raise line.error("id", "empty job id")
    reason = _skip_reason(line, state)
    if reason is not None:
        return reason
    start_s = _time(line, "start", tz)
    if start_s is None:  # sacct(1) prints Unknown/None for a job that never started
        return "cancelled_before_start" if state == "CANCELLED" else "never_started"
    return start_s


def _row(line: _Line, opts: SacctOptions, skipped: SkipCounter) -> Row | None:
    """The trace row of one line, or None (counted in ``skipped``) when it is left out."""
    state = _state(line)
    start_s = _start_or_skip(line, state, opts.tz)
    if isinstance(start_s, str):
        skipped.add(start_s)
        return None
    runtime_s = _runtime(line, start_s, opts.tz)
    if runtime_s is None:
        raise line.error("end", "no End or Elapsed for a finished job")
    if runtime_s <= 0:
        skipped.add("cancelled_before_start" if state == "CANCELLED" else "runtime_not_positive")
        return None
    gpus = _gpus(line, opts.gpu_tres)
    if gpus <= 0:
        skipped.add("no_gpus")
        return None
    submit_s = _time(line, "submit", opts.tz)
    if submit_s is None:
        raise line.error("submit", f"unknown submit time {line.get('submit')!r}")
    try:
        requested_s = parse_timelimit(line.get("timelimit"))
    except ValueError as exc:
        raise line.error("timelimit", str(exc)) from None
    account = line.get("account") or "unknown"
    return Row(
        job_id=line.get("id"),
        tenant=map_name(opts.tenant_map or {}, account, account),
        tier=map_tier(opts.tier_map or {}, line.get("qos")),
        gpus=gpus,
        submit_utc_s=submit_s,
        runtime_s=runtime_s,
        requested_s=requested_s,
    )


def read_sacct(
    path: str | os.PathLike[str],
    *,
    tz: str = "UTC",
    gpu_tres: Sequence[str] = DEFAULT_GPU_TRES,
    tier_map: Iterable[str] | Mapping[str, str] | None = None,
    tenant_map: Iterable[str] | Mapping[str, str] | None = None,
) -> ImportedTrace:
    """Read ``sacct --parsable2`` output as an :class:`ImportedTrace` (module docstring).

    ``tier_map``/``tenant_map``: ``{"QOS": "tier"}`` or ``["QOS=tier", ...]``.
    Raises :class:`TraceError` naming the file, line and field for a bad line."""
    p = Path(path)
    opts = SacctOptions(
        tz=zone(tz),
        gpu_tres=tuple(gpu_tres) or DEFAULT_GPU_TRES,
        tier_map=parse_mapping(tier_map, "--tier-map"),
        tenant_map=parse_mapping(tenant_map, "--tenant-map"),
    )
    skipped = SkipCounter()
    rows = [r for line in _lines(p, _read_text(p)) if (r := _row(line, opts, skipped))]
    return build_trace(rows, skipped, str(p), what="line")


def import_sacct(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    tz: str = "UTC",
    gpu_tres: Sequence[str] = DEFAULT_GPU_TRES,
    tier_map: Iterable[str] | Mapping[str, str] | None = None,
    tenant_map: Iterable[str] | Mapping[str, str] | None = None,
) -> ImportedTrace:
    """:func:`read_sacct`, then write the trace to ``out`` (Parquet, atomically).

    Nothing is written when the input has an error."""
    trace = read_sacct(path, tz=tz, gpu_tres=gpu_tres, tier_map=tier_map, tenant_map=tenant_map)
    write_trace(trace, out)
    return trace
