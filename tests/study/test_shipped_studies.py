"""The shipped studies load and expand into valid scenarios (running them is for
`narvik study run`; their results are in the README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from narvik.studies import expand, load_study

STUDIES = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.toml"))


def test_there_are_shipped_studies() -> None:
    assert len(STUDIES) >= 2


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_a_shipped_study_expands_into_valid_runs(path: Path) -> None:
    study = load_study(path)
    runs = expand(study)
    assert runs and all(r.scenario is not None and r.invalid is None for r in runs)
    assert len({r.run_id for r in runs}) == len(runs)
    assert len(runs) == len(study.seeds) * _points(study)


def _points(study: object) -> int:
    sizes = [len(axis.values) for axis in study.axes]  # type: ignore[attr-defined]
    if study.mode == "zip":  # type: ignore[attr-defined]
        return sizes[0] if sizes else 1
    n = 1
    for size in sizes:
        n *= size
    return n
