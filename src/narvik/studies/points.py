"""From a study to its runs: axes combined (grid or zip) times seeds, each applied to the
scenario by dotted path, validated, and named by a hash of the resolved scenario."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from narvik import dotted
from narvik.dotted import PathError
from narvik.scenario import ScenarioError, ScenarioSpec, load_scenario
from narvik.site.loader import format_validation_error
from narvik.studies.spec import StudyError, StudySpec


@dataclass(frozen=True)
class Run:
    """One run of a study: a resolved scenario and where it sits on the axes."""

    run_id: str
    """Hash of the resolved scenario (the same scenario always gets the same id)."""
    axis_values: tuple[Any, ...]
    """The value of each axis, in the study's axis order."""
    seed: int
    scenario: ScenarioSpec | None
    """None when the point's values make no valid scenario (then ``invalid`` says why)."""
    invalid: str | None = None


def expand(study: StudySpec) -> list[Run]:
    """Every run of the study, points in axis order (grid: the last axis fastest), each
    point times every seed."""
    base = _base_scenario(study)
    if not study.axes:
        points: list[tuple[Any, ...]] = [()]
    elif study.mode == "zip":
        points = list(zip(*(a.values for a in study.axes), strict=True))
    else:
        points = list(itertools.product(*(a.values for a in study.axes)))
    runs = []
    for point in points:
        data = base.model_dump(mode="json")
        for axis, value in zip(study.axes, point, strict=True):
            set_path(data, axis.path, value, where=f"axes.{study.axes.index(axis)}")
        for seed in study.seeds:
            data["seed"] = seed
            try:
                spec = _validate(data, base, f"{_describe(study, point)}, seed {seed}")
            except StudyError as exc:  # a bad value fails its runs, not the study
                runs.append(Run(_data_id(data, base), point, seed, None, str(exc)))
                continue
            runs.append(Run(run_id(spec), point, seed, spec))
    return runs


def _base_scenario(study: StudySpec) -> ScenarioSpec:
    ref = study.scenario
    if ref.endswith(".toml") and study.base_dir is not None:
        ref = str(study.base_dir / ref)
    try:
        base = load_scenario(ref)
    except ScenarioError as exc:
        raise StudyError(f"scenario: {exc}") from exc
    data = base.model_dump(mode="json")
    for key, value in study.overrides.items():
        set_path(data, key, value, where=key)
    return _validate(data, base, "overrides")


def _validate(data: dict[str, Any], base: ScenarioSpec, what: str) -> ScenarioSpec:
    try:
        return ScenarioSpec.model_validate({**data, "base_dir": base.base_dir})
    except ValidationError as exc:
        raise StudyError(f"{what}: {format_validation_error(exc)}") from exc


def set_path(data: dict[str, Any], path: str, value: Any, *, where: str) -> None:
    """Set ``value`` at a dotted ``path`` of a scenario's data (:func:`narvik.dotted.set_path`);
    ``site.<path>`` sets a field of the site itself (the scenario's ``site_overrides``)."""
    if path.startswith("site.") and isinstance(data.get("site"), str):
        data.setdefault("site_overrides", {})[path.removeprefix("site.")] = copy.deepcopy(value)
        return
    try:
        dotted.set_path(data, path, value)
    except PathError as exc:
        raise StudyError(f"{where}: {exc} in the scenario") from exc


def run_id(spec: ScenarioSpec) -> str:
    """A stable id of a resolved scenario: the hash of its canonical JSON (and folder).
    Fields at their default are left out, so a new field with a default does not change
    the ids of runs already done."""
    scenario = spec.model_dump(mode="json", exclude_defaults=True)
    data = {"scenario": scenario, "base_dir": str(spec.base_dir or "")}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _data_id(data: dict[str, Any], base: ScenarioSpec) -> str:
    """The id of a point that makes no valid scenario: the hash of its data."""
    blob = json.dumps(
        {"invalid": data, "base_dir": str(base.base_dir or "")}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _describe(study: StudySpec, point: tuple[Any, ...]) -> str:
    return ", ".join(f"{a.path}={v!r}" for a, v in zip(study.axes, point, strict=True)) or "base"
