"""Study files: validation with errors that name the file and field; axes expanded into
runs (grid and zip, times seeds) by dotted paths into the scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from narvik.studies import StudyError, expand, load_study
from narvik.studies.spec import parse_study

BASE = {"name": "t", "days": 2, "policy": "narvik"}


def study(**more: object) -> object:
    return parse_study({**BASE, **more}, "t.toml", None)


def test_grid_times_seeds_in_order() -> None:
    s = study(
        seeds=[1, 2],
        axes=[
            {"path": "tenancy.grace_period_s", "values": [300, 600, 1800]},
            {"path": "workload.load", "values": [0.5, 0.8]},
        ],
    )
    runs = expand(s)  # type: ignore[arg-type]
    assert len(runs) == 3 * 2 * 2
    assert [(r.axis_values, r.seed) for r in runs[:4]] == [
        ((300, 0.5), 1), ((300, 0.5), 2), ((300, 0.8), 1), ((300, 0.8), 2)
    ]  # fmt: skip
    r = runs[-1]
    assert r.scenario is not None
    assert r.scenario.tenancy is not None and r.scenario.tenancy.grace_period_s == 1800
    assert r.scenario.workload.load == 0.8 and r.scenario.seed == 2 and r.scenario.days == 2
    assert len({r.run_id for r in runs}) == len(runs)


def test_zip_moves_axes_together() -> None:
    s = study(
        mode="zip",
        axes=[
            {"path": "tenancy.grace_period_s", "values": [300, 600]},
            {"path": "workload.load", "values": [0.5, 0.8]},
        ],
    )
    assert [r.axis_values for r in expand(s)] == [(300, 0.5), (600, 0.8)]  # type: ignore[arg-type]


def test_a_named_table_is_addressed_by_name() -> None:
    ramp = [{"start": "2027-01-01", "gpus": 1000}]
    s = study(axes=[{"path": "tenancy.tenants.openai.quota", "values": [ramp]}])
    (run,) = expand(s)  # type: ignore[arg-type]
    assert run.scenario is not None and run.scenario.tenancy is not None
    openai = next(t for t in run.scenario.tenancy.tenants if t.name == "openai")
    assert [q.gpus for q in openai.quota] == [1000]


def test_the_same_scenario_gets_the_same_id() -> None:
    a = expand(study(seeds=[3]))  # type: ignore[arg-type]
    b = expand(study(seeds=[3]))  # type: ignore[arg-type]
    c = expand(study(seeds=[4]))  # type: ignore[arg-type]
    assert a[0].run_id == b[0].run_id != c[0].run_id


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"axes": [{"path": "tenancy.nope", "values": [1]}]}, "axes.0: no field 'tenancy.nope'"),
        (
            {"axes": [{"path": "tenancy.tenants.acme.lends", "values": [True]}]},
            "no entry 'tenancy.tenants.acme'",
        ),
        (
            {
                "mode": "zip",
                "axes": [
                    {"path": "workload.load", "values": [0.5]},
                    {"path": "tenancy.grace_period_s", "values": [1, 2]},
                ],
            },
            "as many values",
        ),  # fmt: skip
        ({"seeds": [1, 1]}, "seeds: a seed is listed twice"),
        ({"axes": [{"path": "seed", "values": [1]}]}, "varied by `seeds`"),
        ({"colour": "red"}, "no field 'colour'"),
    ],
)
def test_bad_studies_name_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(StudyError, match="t.toml|axes|no field|no entry") as err:
        expand(study(**change))  # type: ignore[arg-type]
    assert message in str(err.value)


def test_a_bad_value_fails_its_run_not_the_study() -> None:
    runs = expand(study(axes=[{"path": "workload.load", "values": [0.5, 5.0]}]))  # type: ignore[arg-type]
    assert runs[0].invalid is None and runs[0].scenario is not None
    assert runs[1].scenario is None and runs[1].invalid is not None
    assert "workload.load" in runs[1].invalid


def test_load_study_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nseeds = "one"\n', encoding="utf-8")
    with pytest.raises(StudyError, match=r"bad\.toml: seeds"):
        load_study(bad)
    with pytest.raises(StudyError, match="cannot read study"):
        load_study(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n", encoding="utf-8")
    with pytest.raises(StudyError, match="not valid TOML"):
        load_study(broken)


def test_a_site_field_is_an_axis() -> None:
    s = study(axes=[{"path": "site.cooling.supply_temp_c", "values": [25.0, 32.0]}])
    runs = expand(s)  # type: ignore[arg-type]
    assert [r.scenario.site_overrides for r in runs if r.scenario] == [
        {"cooling.supply_temp_c": 25.0}, {"cooling.supply_temp_c": 32.0}
    ]  # fmt: skip
    bad = expand(study(axes=[{"path": "site.cooling.nope", "values": [1]}]))  # type: ignore[arg-type]
    assert bad[0].scenario is None and "site_overrides.cooling.nope" in str(bad[0].invalid)


def test_weather_offset_and_policy_are_axes() -> None:
    s = study(axes=[{"path": "weather_offset_k", "values": [-3, 3]},
                    {"path": "policy", "values": ["easy", "narvik"]}])  # fmt: skip
    got = [(r.scenario.weather_offset_k, r.scenario.policy) for r in expand(s) if r.scenario]  # type: ignore[arg-type]
    assert got == [(-3, "easy"), (-3, "narvik"), (3, "easy"), (3, "narvik")]


def test_axis_labels_must_match_the_values() -> None:
    with pytest.raises(StudyError, match="labels: 1 labels for 2 values"):
        study(axes=[{"path": "workload.load", "values": [0.5, 0.8], "labels": ["low"]}])


def test_a_field_at_its_default_does_not_change_the_id() -> None:
    (plain,) = expand(study())  # type: ignore[arg-type]
    (explicit,) = expand(study(weather_offset_k=0.0, site_overrides={}))  # type: ignore[arg-type]
    (warm,) = expand(study(weather_offset_k=2.0))  # type: ignore[arg-type]
    assert plain.run_id == explicit.run_id != warm.run_id
