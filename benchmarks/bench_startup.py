"""Time the start of the `narvik` command: --version, --help and simulate --help.

Each command runs as a fresh subprocess (the console script next to this interpreter,
or ``python -m narvik`` when there is none); the figure is the median wall time of
5 runs. Prints figures; asserts nothing.
Run: .venv/bin/python benchmarks/bench_startup.py
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (["--version"], ["--help"], ["simulate", "--help"])


def _narvik() -> list[str]:
    script = Path(sys.executable).with_name("narvik")
    return [str(script)] if script.exists() else [sys.executable, "-m", "narvik"]


def _wall_s(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(repeats: int = 5) -> None:
    narvik = _narvik()
    machine = f"{platform.machine()} {platform.processor()}".strip()
    print(f"machine: {machine}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"command: {' '.join(narvik)}")
    _wall_s([*narvik, "--version"])  # warm the file cache and the bytecode
    for args in COMMANDS:
        runs = [_wall_s([*narvik, *args]) for _ in range(repeats)]
        label = "narvik " + " ".join(args)
        print(
            f"{label:<24} {statistics.median(runs) * 1e3:8.1f} ms median, "
            f"{min(runs) * 1e3:.1f} ms best of {repeats}"
        )


if __name__ == "__main__":
    main()
