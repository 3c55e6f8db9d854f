"""narvik from Python (notebooks, scripts): ``narvik.simulate(...)`` and ``narvik.study(...)``.

```python
import narvik
run = narvik.simulate(days=30, policy="narvik", out="runs/ramp")
run.summary["utilization"], run.jobs.num_rows, run.timeseries.to_pandas()
table = narvik.study("studies/anchor-ramp.toml", out="runs/anchor-ramp", workers=2)
```
The command line is built on these two functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from narvik.kpi.run_folder import check_run_folder
from narvik.kpi.run_outputs import (
    run_jobs_table,
    run_summary,
    run_timeseries_table,
    write_run,
)
from narvik.kpi.run_time import run_offtakers_table
from narvik.scenario import DEFAULT_SCENARIO, Results, ScenarioSpec, load_scenario, run_scenario
from narvik.studies import StudySpec, load_study, run_study
from narvik.studies.runner import Progress as StudyProgress
from narvik.studies.spec import parse_study


@dataclass(frozen=True)
class RunResult:
    """One simulated run: its summary and its two tables (``.to_pandas()`` on a table
    where pandas is installed), the full :class:`~narvik.scenario.Results`, and the
    folder its files went to (None when not written)."""

    spec: ScenarioSpec
    summary: dict[str, Any]
    """What summary.json holds."""
    jobs: pa.Table
    """What jobs.parquet holds: a row per job."""
    timeseries: pa.Table
    """What timeseries.parquet holds: a row per step."""
    offtakers: pa.Table | None
    """What offtakers.parquet holds: a row per step and heat offtaker (None: flat pool)."""
    results: Results
    out_dir: Path | None


def simulate(
    scenario: str | os.PathLike[str] | ScenarioSpec = DEFAULT_SCENARIO,
    *,
    out: str | os.PathLike[str] | None = None,
    progress: Callable[[str, float, float], None] | None = None,
    **overrides: Any,
) -> RunResult:
    """Run a scenario (a shipped name, a TOML path or a spec), with any of the options of
    ``narvik simulate`` as keywords (``days``, ``policy``, ``seed``, ``site``, ``trace``,
    ``format``, ``tenant_map``, ``step_s``, ``skip_bad``); write its files to ``out`` when given."""
    spec = scenario if isinstance(scenario, ScenarioSpec) else load_scenario(os.fspath(scenario))
    spec = spec.with_overrides(**overrides)
    if out is not None:
        check_run_folder(Path(out), force=True)  # a bad folder fails before the simulation
    results = run_scenario(spec, progress)
    if progress is not None and out is not None:
        progress("writing files", 0, 1)
    summary = run_summary(results)
    jobs = run_jobs_table(results)
    series = run_timeseries_table(results)
    offtakers = run_offtakers_table(results)
    if out is not None:
        try:
            write_run(
                results, out, summary=summary, jobs=jobs, timeseries=series, offtakers=offtakers
            )
        except OSError as exc:
            raise ValueError(f"{out}: cannot write the run: {exc.strerror or exc}") from exc
    folder = None if out is None else Path(out)
    return RunResult(spec, summary, jobs, series, offtakers, results, folder)


def study(
    spec: str | os.PathLike[str] | StudySpec | dict[str, Any],
    *,
    out: str | os.PathLike[str],
    address: str | None = None,
    workers: int | None = None,
    progress: StudyProgress | None = None,
) -> pa.Table:
    """Run a study (a TOML path, a spec, or the study file's content as a dict) into
    ``out`` and return its table (what study.parquet holds): a row per run. On Ray
    (``address`` to join a cluster, else a local one with ``workers`` CPUs; ``workers=0``
    runs in this process)."""
    if isinstance(spec, StudySpec):
        s = spec
    elif isinstance(spec, dict):
        s = parse_study(spec, "study", Path.cwd())
    else:
        s = load_study(os.fspath(spec))
    return run_study(s, out, address=address, workers=workers, progress=progress).table
