"""Tests of narvik.physics.weather: the Weather record, builtin_weather, and the
facade that re-exports the weather names from psychrometrics, weather_series, epw
and climate (one module per concept, imported without cycles)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import narvik.physics.weather as weather_module
from narvik.physics import climate, epw, psychrometrics, weather_series
from narvik.physics.weather import Weather, builtin_weather

DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@pytest.fixture(scope="module")
def narvik() -> Weather:
    return builtin_weather("narvik", seed=7)


# --- builtin_weather and the Weather record ----------------------------------------------


def test_builtin_narvik_shape_and_location(narvik: Weather) -> None:
    assert narvik.hours == 8760
    assert narvik.source == "builtin:narvik (seed 7)"
    assert (narvik.latitude_deg, narvik.longitude_deg) == (68.44, 17.43)
    assert narvik.timezone_h == 1.0
    assert narvik.elevation_m == pytest.approx(30.0)
    np.testing.assert_array_equal(np.bincount(narvik.month)[1:], np.array(DAYS_IN_MONTH) * 24)
    assert (narvik.month[0], narvik.day[0], narvik.hour[0]) == (1, 1, 0)
    assert (narvik.month[-1], narvik.day[-1], narvik.hour[-1]) == (12, 31, 23)
    for name in ("dry_bulb_c", "dew_point_c", "relative_humidity_pct", "pressure_pa"):
        assert np.isfinite(getattr(narvik, name)).all(), name


def test_weather_arrays_are_read_only(narvik: Weather) -> None:
    with pytest.raises(ValueError):
        narvik.dry_bulb_c[0] = 99.0


def test_builtin_weather_unknown_name_lists_known() -> None:
    with pytest.raises(ValueError, match="narvik"):
        builtin_weather("atlantis")


# --- the facade and the module layout -----------------------------------------------------

PUBLIC_NAMES = {
    "BUILTIN_CLIMATES": climate,
    "ClimateNormals": climate,
    "typical_year": climate,
    "WeatherFileError": epw,
    "read_epw": epw,
    "write_epw": epw,
    "dew_point_c": psychrometrics,
    "relative_humidity_pct": psychrometrics,
    "saturation_vapour_pressure_pa": psychrometrics,
    "standard_pressure_pa": psychrometrics,
    "Weather": weather_series,
    "builtin_weather": weather_module,
    "shifted_weather": weather_module,
}


def test_weather_reexports_every_public_name_from_its_module() -> None:
    assert sorted(weather_module.__all__) == sorted(PUBLIC_NAMES)
    for name, home in PUBLIC_NAMES.items():
        assert getattr(weather_module, name) is getattr(home, name), name


@pytest.mark.parametrize(
    "module", ["psychrometrics", "weather_series", "epw", "climate", "weather"]
)
def test_each_weather_module_imports_first_on_its_own(module: str) -> None:
    # A fresh interpreter importing this module before any other: fails on an import cycle.
    subprocess.run([sys.executable, "-c", f"import narvik.physics.{module}"], check=True)


def test_a_shifted_year_is_warmer_by_the_offset_with_the_same_dew_point_depression() -> None:
    from narvik.physics.weather import builtin_weather, relative_humidity_pct, shifted_weather

    base = builtin_weather("narvik", 1)
    warm = shifted_weather(base, 3.0)
    assert np.allclose(warm.dry_bulb_c - base.dry_bulb_c, 3.0)
    assert np.allclose(warm.dry_bulb_c - warm.dew_point_c, base.dry_bulb_c - base.dew_point_c)
    # Hand check at one hour: RH from Magnus at the shifted temperatures.
    i = 4000
    rh = float(relative_humidity_pct(base.dry_bulb_c[i] + 3.0, base.dew_point_c[i] + 3.0))
    assert warm.relative_humidity_pct[i] == pytest.approx(min(rh, 100.0))
    assert "shifted +3 K" in warm.source
    assert shifted_weather(base, 0.0) is base
