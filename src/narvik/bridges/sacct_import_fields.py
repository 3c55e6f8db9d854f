"""The fields of ``sacct --parsable2`` output: times, durations, TRES strings.

Formats as documented in sacct(1) (https://slurm.schedmd.com/sacct.html) and sbatch(1)
``--time`` (https://slurm.schedmd.com/sbatch.html). Each parser raises ``ValueError``
with a short description of what it expected; the reader adds the file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UNKNOWN_TIMES = frozenset({"", "unknown", "none"})
"""Start/End values sacct prints for an instant that has not happened (any case)."""
NO_LIMIT = frozenset({"unlimited", "partition_limit", ""})
"""Timelimit values meaning no limit of the job's own (the estimate is unknown)."""

_DURATION = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (``UTC``, ``Europe/Oslo``); ``ValueError`` if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"--tz: unknown time zone {name!r} (an IANA name such as Europe/Oslo)"
        ) from exc


def parse_time(text: str, tz: tzinfo) -> float | None:
    """A sacct time as POSIX seconds (UTC); None for ``Unknown``/``None``/empty.

    sacct(1) prints ``YYYY-MM-DDTHH:MM:SS`` in the local time of the host that ran it
    (no offset); a naive time is read in ``tz``. A time in a repeated hour (the end of
    daylight saving time) is read as its first occurrence (``fold=0``): naive local
    times cannot tell the two apart. A time with an explicit offset keeps it.
    """
    if text.strip().lower() in UNKNOWN_TIMES:
        return None
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a time (YYYY-MM-DDTHH:MM:SS)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()


def _duration_s(text: str) -> float:
    """``[D-]HH:MM:SS``, ``MM:SS``, ``MM``, ``D-HH``, ``D-HH:MM`` as seconds (sbatch(1) --time)."""
    m = _DURATION.match(text.strip())
    if m is None:
        raise ValueError(f"cannot read {text!r} as a duration ([D-]HH:MM:SS)")
    days, a, b, c = m.groups()
    parts = [int(x) for x in (a, b, c) if x is not None]
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        h, mi, s = (parts + [0, 0])[:3]
        return float(((int(days) * 24 + h) * 60 + mi) * 60 + s)
    if len(parts) == 1:  # MM
        return float(parts[0] * 60)
    if len(parts) == 2:  # MM:SS
        return float(parts[0] * 60 + parts[1])
    h, mi, s = parts  # HH:MM:SS
    return float((h * 60 + mi) * 60 + s)


def parse_timelimit(text: str) -> float | None:
    """sacct(1) ``Timelimit`` as seconds; None for ``UNLIMITED``/``Partition_Limit``/empty."""
    if text.strip().lower() in NO_LIMIT:
        return None
    return _duration_s(text)


def parse_elapsed(text: str) -> float:
    """sacct(1) ``Elapsed`` (``[D-]HH:MM:SS``) as seconds."""
    return _duration_s(text)


def parse_tres(text: str) -> dict[str, str]:
    """A TRES string (``billing=4,cpu=8,gres/gpu=4,mem=64G,node=1``) as name -> value.

    sacct(1) ``AllocTRES``/``ReqTRES``: comma-separated ``type[/name[:kind]]=count``.
    """
    out: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"cannot read {item!r} of {text!r} as TRES name=count")
        out[name.strip().lower()] = value.strip()
    return out


def tres_gpus(text: str, names: Sequence[str]) -> int:
    """GPUs in a TRES string: the sum of the counts of the TRES ``names`` present.

    With the default ``gres/gpu`` only the untyped count is read; name a typed TRES
    (``gres/gpu:a100``) to count that type instead (Slurm lists both when GPUs are typed).
    """
    tres = parse_tres(text)
    total = 0
    for name in names:
        raw = tres.get(name.lower())
        if raw is None:
            continue
        if not raw.isdigit():
            raise ValueError(f"cannot read {name}={raw!r} as a whole number of GPUs")
        total += int(raw)
    return total
