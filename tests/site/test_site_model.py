from pathlib import Path

import pytest

from narvik.site import FlatPool, SiteError, catalogue_names, fleet_summary, load_site
from narvik.site.model import Site

CATALOGUE_TOML = (
    Path(__file__).resolve().parents[2] / "src/narvik/site/catalogue/stargate-norway.toml"
)


def test_catalogue_ships_stargate_norway():
    assert "stargate-norway" in catalogue_names()


def test_default_site_is_about_100k_gpus_on_230_mw():
    site = load_site("stargate-norway")
    assert isinstance(site, Site)
    phase1 = fleet_summary(site, "phase-1")
    assert 95_000 <= phase1.gpus <= 105_000
    assert phase1.grid_capacity_w == 230e6
    # NVL72: one NVLink domain per rack of 72 GPUs.
    assert phase1.nvlink_domains == phase1.racks == phase1.gpus // 72
    phase2 = fleet_summary(site, "phase-2")
    assert phase2.grid_capacity_w == 520e6
    assert phase2.gpus > phase1.gpus
    # Nameplate IT power fits under the grid connection of each phase.
    assert phase1.it_nameplate_power_w < phase1.grid_capacity_w
    assert phase2.it_nameplate_power_w < phase2.grid_capacity_w


def test_phase_at_date():
    import datetime as dt

    site = load_site("stargate-norway")
    assert site.phase_at(dt.date(2027, 1, 1)).name == "phase-1"
    assert site.phase_at(dt.date(2029, 1, 1)).name == "phase-2"


def test_every_field_has_a_description():
    from pydantic import BaseModel

    seen: set[type] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            ann = field.annotation
            inner = getattr(ann, "__args__", (ann,))
            sub = [a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)]
            if sub:
                for s in sub:
                    walk(s)
                continue
            assert field.description, f"{model.__name__}.{name} has no description"

    walk(Site)


def test_flat_pool():
    assert load_site("flat:128") == FlatPool(128)
    with pytest.raises(SiteError, match="positive whole number"):
        load_site("flat:-3")


def test_unknown_catalogue_name():
    with pytest.raises(SiteError, match="no such site file or catalogue name"):
        load_site("atlantis")


def _bad_site(tmp_path: Path, old: str, new: str) -> Path:
    text = CATALOGUE_TOML.read_text()
    assert old in text, old
    path = tmp_path / "bad-site.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "field", "why"),
    [
        ("racks = 348", 'racks = "many"', "halls.0.racks", "valid integer"),
        (
            "max_power_w = 700.0",
            "max_power_w = -700.0",
            "gpu_models.0.max_power_w",
            "greater than 0",
        ),
        (
            'gpu_model = "GB300"',
            'gpu_model = "GX9000"',
            "rack_types.0.gpu_model",
            "unknown GPU model",
        ),
        ("chiller_cop = 5.0\n", "", "cooling.chiller_cop", "Field required"),
        (
            "chiller_cop = 5.0",
            "chiller_cop = 5.0\nchiller_cope = 4",
            "cooling.chiller_cope",
            "Extra",
        ),
        ("share = 0.8", "share = 0.7", "energy", "add up to 1"),
        ("start_date = 2028-06-01", "start_date = 2025-06-01", "phases", "strictly increase"),
    ],
)
def test_bad_site_files_name_file_and_field(tmp_path, old, new, field, why):
    path = _bad_site(tmp_path, old, new)
    with pytest.raises(SiteError) as info:
        load_site(path)
    message = str(info.value)
    assert str(path) in message
    assert field in message
    assert why in message


def test_toml_syntax_error_names_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[location\n')
    with pytest.raises(SiteError, match=r"broken.toml: not valid TOML.*line 2"):
        load_site(path)


def test_missing_file(tmp_path):
    with pytest.raises(SiteError, match="cannot read site file"):
        load_site(tmp_path / "nope.toml")


def test_direct_offtaker_too_hot_needs_heat_pump(tmp_path):
    path = _bad_site(
        tmp_path,
        "supply_temp_c = 40.0\npeak_demand_w = 6000000.0",
        "supply_temp_c = 55.0\npeak_demand_w = 6000000.0",
    )
    with pytest.raises(SiteError, match="offtakers.2.heat_pump: 55 C is above"):
        load_site(path)
