"""Running a study: every run on Ray (or in this process), its folder written under
``DIR/runs/<run-id>/`` with a ``run.json`` row, then ``DIR/study.parquet`` with one row
per run, ``DIR/study.json`` (the study) and ``DIR/study.html`` (its report). Runs already
done are skipped (their ``run.json`` says ``ok``); failed ones are run again. A failing
run is recorded with its error and the others go on.

The output folder must be reachable from every Ray worker (a shared file system on a
cluster; on one machine, any folder).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from narvik.atomic import write_json_atomic
from narvik.kpi.run_outputs import run_summary, write_run
from narvik.kpi.study_report import render_study_report
from narvik.scenario import ScenarioSpec, run_scenario
from narvik.sim.recorders import write_parquet_atomic
from narvik.studies.points import Run, expand
from narvik.studies.spec import StudyError, StudySpec

RAY_HINT = "Ray is not installed: pip install 'narvik[ray]' (or pip install ray)"
"""What `narvik study run` says when Ray is missing."""

Progress = Callable[[int, int, int, int], None]
"""Called as ``progress(done, failed, running, total)``."""


@dataclass(frozen=True)
class StudyOutcome:
    table: pa.Table
    """``study.parquet``: one row per run, in the study's order."""
    path: Path
    ran: int
    """Runs executed this time (the rest were already done)."""
    failed: int


def run_study(
    study: StudySpec,
    out_dir: str | os.PathLike[str],
    *,
    address: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> StudyOutcome:
    """Run every run of ``study`` not yet done into ``out_dir`` and write study.parquet.

    ``address``: join that Ray cluster (``auto`` or ``HOST:PORT``); otherwise a local Ray
    with ``workers`` CPUs (default: every CPU). ``workers=0`` runs in this process, one
    run after the other, without Ray."""
    out = Path(out_dir)
    runs = expand(study)
    rows: dict[str, dict[str, Any]] = {}
    for r in runs:
        row = _done_row(out / "runs" / r.run_id)
        if row is not None:
            rows[r.run_id] = row
    for r in runs:
        if r.invalid is not None:  # recorded as failed, never executed
            rows[r.run_id] = {"status": "failed", "error": r.invalid, "kpis": {}, "wall_s": 0.0}
    todo = list({r.run_id: r for r in runs if r.run_id not in rows}.values())
    tasks = [(r.scenario, str(out / "runs" / r.run_id)) for r in todo if r.scenario is not None]
    require_ray(address, workers)
    report = progress or (lambda done, failed, running, total: None)
    if workers == 0 and address is None:
        results = _serial(tasks, report)
    else:
        results = _on_ray(tasks, address, workers, report)
    for r, row in zip(todo, results, strict=True):
        rows[r.run_id] = row
    table = study_table(study, runs, rows)
    path = out / "study.parquet"
    write_parquet_atomic(table, path)
    write_json_atomic(out / "study.json", study.model_dump(mode="json"))
    render_study_report(out)
    failed = sum(1 for r in runs if rows[r.run_id]["status"] != "ok")
    return StudyOutcome(table, path, len(todo) + sum(r.invalid is not None for r in runs), failed)


def require_ray(address: str | None, workers: int | None) -> None:
    """Raise a one-line :class:`StudyError` when the run needs Ray and it is not installed."""
    if workers == 0 and address is None:
        return
    if importlib.util.find_spec("ray") is None:
        raise StudyError(RAY_HINT)


def run_one(scenario: ScenarioSpec, run_dir: str) -> dict[str, Any]:
    """Run one scenario into ``run_dir`` and return its row (never raises for the run's
    own errors: they are the row's ``error``)."""
    t0 = time.perf_counter()
    try:
        results = run_scenario(scenario)
        summary = run_summary(results)
        write_run(results, run_dir, summary=summary)
        kpis = flatten(summary)
        row: dict[str, Any] = {"status": "ok", "error": None, "kpis": kpis}
    except Exception as exc:  # noqa: BLE001 - a run's failure is data, not a crash
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
        row = {"status": "failed", "error": f"{type(exc).__name__}: {exc}{where}", "kpis": {}}
    row["wall_s"] = round(time.perf_counter() - t0, 3)
    write_json_atomic(Path(run_dir) / "run.json", row)
    return row


def _done_row(run_dir: Path) -> dict[str, Any] | None:
    try:
        row: dict[str, Any] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return row if row.get("status") == "ok" else None


def _serial(tasks: list[tuple[ScenarioSpec, str]], report: Progress) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    failed = 0
    for i, (spec, run_dir) in enumerate(tasks):
        report(i, failed, 1, len(tasks))
        out.append(run_one(spec, run_dir))
        failed += out[-1]["status"] != "ok"
    report(len(tasks), failed, 0, len(tasks))
    return out


def _on_ray(
    tasks: list[tuple[ScenarioSpec, str]],
    address: str | None,
    workers: int | None,
    report: Progress,
) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError as exc:
        raise StudyError(RAY_HINT) from exc
    started = not ray.is_initialized()
    if started:
        if address is None:
            # A local Ray stays on loopback (on Linux it would bind the machine's address).
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            ray.init(
                num_cpus=workers or os.cpu_count() or 1,
                include_dashboard=False,
                log_to_driver=False,
                _node_ip_address="127.0.0.1",
            )
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_one)
        refs = [remote.remote(spec, run_dir) for spec, run_dir in tasks]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[dict[str, Any] | None] = [None] * len(refs)
        pending, failed = list(refs), 0
        report(0, 0, min(len(refs), workers or len(refs)), len(refs))
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                i = index[ref]
                try:
                    results[i] = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a worker that died
                    results[i] = _crashed(tasks[i][1], exc)
                failed += results[i]["status"] != "ok"  # type: ignore[index]
            done = len(refs) - len(pending)
            report(done, failed, min(len(pending), workers or len(pending)), len(refs))
        return [r for r in results if r is not None]
    finally:
        if started:
            ray.shutdown()


def _crashed(run_dir: str, exc: BaseException) -> dict[str, Any]:
    row: dict[str, Any] = {"status": "failed", "error": f"worker lost: {type(exc).__name__}: {exc}"}
    row.update({"kpis": {}, "wall_s": math.nan})
    write_json_atomic(Path(run_dir) / "run.json", row)
    return row


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, float | int | bool | None]:
    """Every scalar number of a run's summary, nested keys joined by dots (their names
    carry their units, as in summary.json)."""
    out: dict[str, float | int | bool | None] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, bool | int | float) or value is None:
            out[name] = value
    return out


def study_table(study: StudySpec, runs: Iterable[Run], rows: dict[str, dict[str, Any]]) -> pa.Table:
    """One row per run: id, every axis (column named by its path), seed, status, error,
    wall time, then every KPI (union over the runs; null where a run lacks it)."""
    runs = list(runs)
    kpi_names = sorted({k for r in runs for k in rows[r.run_id].get("kpis", {})})
    records = []
    for r in runs:
        row = rows[r.run_id]
        rec: dict[str, Any] = {"run_id": r.run_id}
        for axis, value in zip(study.axes, r.axis_values, strict=True):
            rec[axis.path] = _cell(value)
        rec.update(seed=r.seed, status=row["status"], error=row.get("error"))
        rec["wall_s"] = row.get("wall_s")
        kpis = row.get("kpis", {})
        for k in kpi_names:
            if k in rec:
                continue  # the run's own settings (seed, ...) are columns already
            v = kpis.get(k)
            rec[k] = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
        records.append(rec)
    return pa.Table.from_pylist(records)


def _cell(value: Any) -> Any:
    """An axis value as a column cell: scalars as they are, tables and lists as JSON."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return value
