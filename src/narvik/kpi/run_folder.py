"""The folder a run is written to: its default name, and the checks made before simulating
(so that a bad ``--out`` fails at once, naming the folder the user gave, not after the
simulation nor with the name of a hidden staging folder)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: The file whose presence makes a folder a run.
RUN_MARKER = "summary.json"


def default_run_name(name: str, policy: str, days: float | None, seed: int) -> str:
    """``stargate-norway-narvik-365d-seed0``; ``whole`` for a trace replayed to its end."""
    span = "whole" if days is None else f"{days:g}d"
    return f"{name}-{policy}-{span}-seed{seed}"


def check_run_folder(out: Path, *, force: bool) -> None:
    """Raise ``ValueError`` naming ``out`` when a run cannot be written there: it is a file,
    it holds a run already (unless ``force``), or nothing can be created where it goes."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file, not a folder (--out takes a folder)")
    if (out / RUN_MARKER).exists() and not force:
        raise ValueError(
            f"{out}: holds a run already ({RUN_MARKER}); pass --force to replace it, "
            "or --out for another folder"
        )
    _probe_writable(out)


def _probe_writable(out: Path) -> None:
    """Create and remove a temporary folder in ``out`` or its nearest existing parent."""
    place = out.absolute()
    while not place.exists():
        place = place.parent
    if not place.is_dir():
        raise ValueError(f"{out}: cannot be created, {place} is a file")
    try:
        probe = tempfile.mkdtemp(prefix=".narvik-probe-", dir=place)
    except OSError as exc:
        raise ValueError(f"{out}: cannot write there ({exc.strerror or exc} in {place})") from exc
    os.rmdir(probe)
