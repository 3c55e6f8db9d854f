"""Standard Workload Format (SWF) reader and writer.

The SWF is defined by Chapin, Cirne, Feitelson, Jones, Leutenegger, Schwiegelshohn,
Smith and Talby, "Benchmarks and standards for the evaluation of parallel job
schedulers", JSSPP 1999 (LNCS 1659), and maintained with the Parallel Workloads
Archive (https://www.cs.huji.ac.il/labs/parallel/workload/swf.html): one job per
line, 18 whitespace-separated numeric fields, -1 for unknown; header and comment
lines start with ``;``.

narvik uses (ARCHITECTURE.md, "SWF fields used"): 1 job number (the ``job_id``),
2 submit time, 4 run time, 5 allocated processors (falling back to 8, requested
processors, when -1), 9 requested time (-1: unknown), 12 user (the tenant,
``user-<id>``; ``user-unknown`` when -1). Processors map to GPU slots one to one.

A record whose run time or processor count is not positive is skipped and
counted (:attr:`SwfTrace.skipped_by_reason`), never silently dropped; when both
are bad it counts as ``runtime_not_positive``. A malformed record (not 18
fields, a non-numeric or non-finite field, a fractional processor count)
raises :class:`~narvik.workload.job.TraceError` naming the file and 1-based
line, unless ``skip_bad=True``, in which case it is counted as ``malformed``.

The reader is vectorised: the file is cut into chunks at line ends; in each
chunk the fields of every line are counted with numpy, comment/bad lines are
blanked, and the numbers are parsed in C by ``numpy.fromstring`` (as integers
when a chunk has no fractional field). A 1,000,000 job log loads in about a second.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from narvik.atomic import atomic_path
from narvik.workload.job import DEFAULT_TIER, JobTable, TraceError

N_FIELDS = 18
# 0-based columns kept from each record: job, submit, run, alloc procs, req procs, req time, user
_KEEP = np.array([0, 1, 3, 4, 7, 8, 11])
_CHUNK_BYTES = 8 << 20
_SPACE = 32
_SEMICOLON = ord(";")
_NUMBER = re.compile(rb"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
SKIP_RUNTIME = "runtime_not_positive"
SKIP_PROCS = "processors_not_positive"
SKIP_MALFORMED = "malformed"


@dataclass(frozen=True)
class SwfTrace:
    """The jobs read from an SWF file, with what was skipped and the header fields."""

    jobs: JobTable
    path: str
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        """Total number of records skipped (all reasons)."""
        return sum(self.skipped_by_reason.values())

    @property
    def max_procs(self) -> int | None:
        """``MaxProcs`` from the header (else ``MaxNodes``), or None when absent."""
        for key in ("MaxProcs", "MaxNodes"):
            raw = self.header.get(key, "").split()
            if raw and raw[0].lstrip("-").isdigit() and int(raw[0]) > 0:
                return int(raw[0])
        return None


def _read_raw(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as gz:
                return gz.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise TraceError(f"{path}: cannot read SWF file: {exc}") from exc


def _chunks(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) byte ranges covering ``raw``, each ending just after a newline."""
    out = []
    start, n = 0, len(raw)
    while start < n:
        end = min(start + _CHUNK_BYTES, n)
        if end < n:
            nl = raw.rfind(b"\n", start, end)
            end = nl + 1 if nl >= start else (raw.find(b"\n", end) + 1 or n)
        out.append((start, end))
        start = end
    return out


def _bad_token(line: bytes) -> bytes | None:
    for tok in line.split():
        if not _NUMBER.match(tok):
            return tok
    return None


class _Parser:
    def __init__(self, path: Path, skip_bad: bool) -> None:
        self.path = path
        self.skip_bad = skip_bad
        self.malformed = 0
        self.header: dict[str, str] = {}

    def fail(self, line_no: int, what: str) -> None:
        if not self.skip_bad:
            raise TraceError(f"{self.path}: line {line_no}: {what}")
        self.malformed += 1

    def parse_chunk(self, chunk: bytes, first_line: int) -> tuple[NDArray, NDArray]:
        """Parse one chunk; returns (kept fields (k, 7), 1-based line numbers (k,))."""
        buf = np.frombuffer(chunk, dtype=np.uint8)
        ws = buf <= _SPACE
        nl = np.flatnonzero(buf == 10)
        starts = np.concatenate(([0], nl + 1))
        if starts[-1] >= len(buf):  # chunk ends with a newline: no trailing partial line
            starts = starts[:-1]
        tok = np.flatnonzero(~ws & np.concatenate(([True], ws[:-1])))
        first_tok = np.searchsorted(tok, starts)
        counts = np.diff(np.append(first_tok, len(tok)))
        nonblank = counts > 0
        first_char = np.zeros(len(starts), dtype=np.uint8)
        first_char[nonblank] = buf[tok[first_tok[nonblank]]]
        comment = nonblank & (first_char == _SEMICOLON)
        record = nonblank & ~comment
        blank_lines = [int(i) for i in np.flatnonzero(comment)]
        for i in np.flatnonzero(record & (counts != N_FIELDS)):
            self.fail(first_line + int(i), f"expected {N_FIELDS} fields, found {int(counts[i])}")
            blank_lines.append(int(i))
        ends = np.append(starts[1:], len(buf))
        for b in sorted(blank_lines):
            line = chunk[starts[b] : ends[b]]
            if comment[b]:
                self._header_line(line)
        record[blank_lines] = False
        if not record.any():  # only comments and blank lines (a header with no jobs)
            return np.empty((0, len(_KEEP))), np.empty(0, dtype=np.int64)
        text = self._blank(chunk, starts, ends, blank_lines) if blank_lines else chunk
        vals = self._fromstring(text)
        if vals is None or len(vals) != N_FIELDS * int(record.sum()):
            # Slow path, only for bad input: find the offending lines one by one.
            bad = []
            for i in np.flatnonzero(record):
                tok_bad = _bad_token(chunk[starts[i] : ends[i]])
                if tok_bad is not None:
                    shown = tok_bad.decode(errors="replace")
                    self.fail(first_line + int(i), f"non-numeric field {shown!r}")
                    bad.append(int(i))
            record[bad] = False
            text = self._blank(chunk, starts, ends, sorted(blank_lines + bad))
            vals = self._fromstring(text)
            if vals is None or len(vals) != N_FIELDS * int(record.sum()):  # pragma: no cover
                raise TraceError(f"{self.path}: unparseable numbers near line {first_line}")
        kept = vals.reshape(-1, N_FIELDS)[:, _KEEP]
        lines = first_line + np.flatnonzero(record)
        nonfinite = ~np.isfinite(kept).all(axis=1)
        if nonfinite.any():
            for i in np.flatnonzero(nonfinite):
                self.fail(int(lines[i]), "non-finite field")
            kept, lines = kept[~nonfinite], lines[~nonfinite]
        return kept, lines

    @staticmethod
    def _blank(chunk: bytes, starts: NDArray, ends: NDArray, lines: list[int]) -> bytes:
        out = bytearray(chunk)
        for i in lines:
            out[starts[i] : ends[i]] = b" " * int(ends[i] - starts[i])
        return bytes(out)

    @staticmethod
    def _fromstring(text: bytes) -> NDArray[np.float64] | None:
        # Integer parsing (strtol) is ~8x faster than float parsing (strtod), and SWF
        # fields are integers in practice; fall back to floats when a chunk has any.
        for dtype in (np.int64, np.float64):
            try:
                return np.fromstring(text, dtype=dtype, sep=" ").astype(np.float64, copy=False)
            except ValueError:
                continue
        return None

    def _header_line(self, line: bytes) -> None:
        body = line.decode("utf-8", errors="replace").strip().lstrip(";").strip()
        key, sep, value = body.partition(":")
        if sep and key and " " not in key.strip():
            self.header.setdefault(key.strip(), value.strip())


def read_swf(path: str | os.PathLike[str], *, skip_bad: bool = False) -> SwfTrace:
    """Read an SWF file (plain or gzip-compressed) into a :class:`SwfTrace`.

    Jobs keep file order. Raises :class:`TraceError` naming the file and line
    for a malformed record, unless ``skip_bad`` (then it is counted as skipped).
    """
    p = Path(path)
    raw = _read_raw(p)
    parser = _Parser(p, skip_bad)
    parts, line_parts = [], []
    first_line = 1
    for start, end in _chunks(raw):
        chunk = raw[start:end]
        kept, lines = parser.parse_chunk(chunk, first_line)
        parts.append(kept)
        line_parts.append(lines)
        first_line += chunk.count(b"\n")
    del raw
    data = np.concatenate(parts) if parts else np.empty((0, len(_KEEP)))
    lines = np.concatenate(line_parts) if line_parts else np.empty(0, dtype=np.int64)
    job_no, submit, run, alloc, req_procs, req_time, user = data.T
    procs = np.where(alloc == -1, req_procs, alloc)
    frac = (procs != np.floor(procs)) & (procs > 0)
    if frac.any():
        for i in np.flatnonzero(frac):
            parser.fail(int(lines[i]), f"fractional processor count {procs[i]}")
    bad_run = ~(run > 0)
    bad_procs = ~bad_run & ~(procs > 0)
    keep = ~(bad_run | bad_procs | frac)
    skipped = {
        SKIP_RUNTIME: int(bad_run.sum()),
        SKIP_PROCS: int(bad_procs.sum()),
        SKIP_MALFORMED: parser.malformed,
    }
    jobs = _to_table(job_no[keep], submit[keep], run[keep], procs[keep], req_time[keep], user[keep])
    return SwfTrace(
        jobs=jobs,
        path=str(p),
        skipped_by_reason={k: v for k, v in skipped.items() if v},
        header=parser.header,
    )


def _num_str(values: NDArray[np.float64]) -> list[str]:
    """Integral floats as ``"12"``, others as the shortest round-trip repr."""
    if np.all(values == np.floor(values)) and np.all(np.abs(values) < 2**62):
        return [str(v) for v in values.astype(np.int64).tolist()]
    return [str(int(v)) if v == int(v) else repr(v) for v in values.tolist()]


def _to_table(job_no, submit, run, procs, req_time, user) -> JobTable:  # type: ignore[no-untyped-def]
    n = len(job_no)
    job_id = np.empty(n, dtype=object)
    job_id[:] = _num_str(job_no)
    uniq, inv = np.unique(user, return_inverse=True)
    names = np.array(
        [
            "user-unknown" if u < 0 else f"user-{s}"
            for u, s in zip(uniq.tolist(), _num_str(uniq), strict=True)
        ],
        dtype=object,
    )
    tenant = names[inv] if n else np.empty(0, dtype=object)
    tier = np.empty(n, dtype=object)
    tier[:] = DEFAULT_TIER
    requested = np.where(req_time < 0, np.nan, req_time)
    return JobTable(
        job_id=job_id,
        tenant=tenant,
        tier=tier,
        gpus=procs.astype(np.int64),
        submit_s=submit,
        runtime_s=run,
        requested_s=requested,
    )


_USER_RE = re.compile(r"^user-(\d+)$")


def write_swf(
    jobs: JobTable,
    path: str | os.PathLike[str],
    *,
    header: Mapping[str, object] | None = None,
) -> None:
    """Write ``jobs`` as an SWF file (atomically; gzip-compressed if ``path`` ends in .gz).

    Field 1 is the ``job_id`` when it is an integer, else the 1-based row number;
    field 12 is ``<id>`` for tenants named ``user-<id>``, else a number given to
    each distinct tenant in order of first appearance (after the largest
    ``user-<id>``). Unknown requested times are written as -1. Tiers are not
    representable in SWF and are lost.
    """
    n = len(jobs)
    ids = jobs.job_id.tolist()
    job_no = [s if s.isdigit() else str(i + 1) for i, s in enumerate(ids)]
    user_ids: dict[str, int] = {}
    for name in dict.fromkeys(jobs.tenant.tolist()):
        m = _USER_RE.match(name)
        if m:
            user_ids[name] = int(m.group(1))
    next_id = max(user_ids.values(), default=0) + 1
    for name in dict.fromkeys(jobs.tenant.tolist()):
        if name not in user_ids:
            user_ids[name] = -1 if name == "user-unknown" else next_id
            next_id += name != "user-unknown"
    users = [str(user_ids[t]) for t in jobs.tenant.tolist()]
    submit = _num_str(jobs.submit_s)
    run = _num_str(jobs.runtime_s)
    gpus = [str(g) for g in jobs.gpus.tolist()]
    req = jobs.requested_s
    req_str = _num_str(np.where(np.isnan(req), -1.0, req))
    lines = ["; Version: 2.2", "; Note: written by narvik"]
    for key, value in (header or {}).items():
        lines.append(f"; {key}: {value}")
    lines.extend(
        f"{job_no[i]} {submit[i]} -1 {run[i]} {gpus[i]} -1 -1 {gpus[i]} {req_str[i]} -1 1 "
        f"{users[i]} -1 -1 -1 -1 -1 -1"
        for i in range(n)
    )
    data = ("\n".join(lines) + "\n").encode("ascii")
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            # mtime=0, no file name in the gzip header: identical input, identical bytes.
            with (
                open(tmp, "wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            ):
                gz.write(data)
        else:
            tmp.write_bytes(data)
