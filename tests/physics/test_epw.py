"""Tests of narvik.physics.epw: EPW reading and writing (round trip, atomic write,
hand-written files, missing values, and errors naming file, line and field)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from narvik.physics.epw import WeatherFileError, read_epw, write_epw
from narvik.physics.psychrometrics import dew_point_c, standard_pressure_pa
from narvik.physics.weather import Weather, builtin_weather

DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@pytest.fixture(scope="module")
def narvik() -> Weather:
    return builtin_weather("narvik", seed=7)


HEADER = [
    "LOCATION,Testville,-,NOR,hand-written,999999,68.44,17.43,1.0,30.0",
    "DESIGN CONDITIONS,0",
    "TYPICAL/EXTREME PERIODS,0",
    "GROUND TEMPERATURES,0",
    "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0",
    "COMMENTS 1,hand-written for tests",
    "COMMENTS 2,",
    "DATA PERIODS,1,1,Data,Sunday,1/1,12/31",
]
TAIL = "9999,9999,9999,0,0,0,0,0,0,0,180,{wind},10,10,20,77777,9,999999999,5,.1,0,88,.2,0,0"


def epw_lines(hours: int = 8760) -> list[str]:
    """A plain hand-written EPW: 8 header lines, then `hours` rows of 35 fields."""
    year = 2023 if hours == 8760 else 2024
    days = list(DAYS_IN_MONTH)
    if hours == 8784:
        days[1] = 29
    lines = list(HEADER)
    i = 0
    for month, n_days in enumerate(days, start=1):
        for day in range(1, n_days + 1):
            for hour in range(1, 25):
                dry_bulb = -10.0 + (i % 200) * 0.1  # -10.0 .. 9.9 C
                wind = (i % 7) * 0.5
                lines.append(
                    f"{year},{month},{day},{hour},60,?9?9?9?9E0?9?9?9*9*9?9*9,"
                    f"{dry_bulb:.1f},-12.0,80,100000," + TAIL.format(wind=wind)
                )
                i += 1
    return lines


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def set_field(line: str, field_1based: int, value: str) -> str:
    fields = line.split(",")
    fields[field_1based - 1] = value
    return ",".join(fields)


def test_epw_round_trip(tmp_path: Path, narvik: Weather) -> None:
    path = tmp_path / "narvik.epw"
    write_epw(path, narvik)
    back = read_epw(path)
    assert back.source == str(path)
    assert back.hours == 8760
    assert (back.latitude_deg, back.longitude_deg, back.timezone_h, back.elevation_m) == (
        68.44,
        17.43,
        1.0,
        30.0,
    )
    for name in ("month", "day", "hour"):
        np.testing.assert_array_equal(getattr(back, name), getattr(narvik, name))
    assert np.abs(back.dry_bulb_c - narvik.dry_bulb_c).max() <= 0.05 + 1e-9
    assert np.abs(back.dew_point_c - narvik.dew_point_c).max() <= 0.05 + 1e-9
    assert np.abs(back.relative_humidity_pct - narvik.relative_humidity_pct).max() <= 0.5 + 1e-9
    assert np.abs(back.pressure_pa - narvik.pressure_pa).max() <= 0.5 + 1e-9
    assert np.abs(back.wind_speed_m_s - narvik.wind_speed_m_s).max() <= 0.05 + 1e-9
    rows = path.read_text().splitlines()
    assert len(rows) == 8 + 8760
    assert rows[0].startswith("LOCATION,Narvik,")
    assert rows[7].startswith("DATA PERIODS,1,1,Data,")
    assert all(len(row.split(",")) == 35 for row in rows[8:])
    assert [p.name for p in tmp_path.iterdir()] == ["narvik.epw"]  # no temp file left


def test_write_epw_is_atomic(tmp_path: Path, narvik: Weather, monkeypatch) -> None:
    path = tmp_path / "w.epw"
    path.write_text("old contents")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_epw(path, narvik)
    assert path.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["w.epw"]


def test_read_hand_written_epw(tmp_path: Path) -> None:
    lines = epw_lines()
    lines[8 + 5] = set_field(lines[8 + 5], 10, "999999")  # missing pressure: interpolated
    lines[8 + 6] = set_field(lines[8 + 6], 10, "100600")
    lines[8 + 5] = set_field(lines[8 + 5], 9, "999")  # missing RH: interpolated
    lines[8 + 5] = set_field(lines[8 + 5], 8, "")  # blank dew point: interpolated
    weather = read_epw(write_lines(tmp_path / "hand.epw", lines))
    assert weather.hours == 8760
    assert weather.elevation_m == 30.0
    assert weather.hour[0] == 0 and weather.hour[23] == 23  # EPW hour 1..24 -> 0..23
    assert weather.dry_bulb_c[0] == pytest.approx(-10.0)
    assert weather.dry_bulb_c[199] == pytest.approx(9.9)
    assert weather.wind_speed_m_s[3] == pytest.approx(1.5)
    assert weather.pressure_pa[5] == pytest.approx(100_300.0)  # between 100000 and 100600
    assert weather.relative_humidity_pct[5] == pytest.approx(80.0)
    assert weather.dew_point_c[5] == pytest.approx(-12.0)
    assert weather.monthly_mean_c().shape == (12,)


def test_read_leap_year_epw(tmp_path: Path) -> None:
    weather = read_epw(write_lines(tmp_path / "leap.epw", epw_lines(8784)))
    assert weather.hours == 8784
    feb29 = (weather.month == 2) & (weather.day == 29)
    assert feb29.sum() == 24


def test_read_epw_accepts_crlf_and_rows_cut_after_wind_speed(tmp_path: Path) -> None:
    lines = [
        ",".join(line.split(",")[:22]) if i >= 8 else line for i, line in enumerate(epw_lines())
    ]
    path = tmp_path / "short.epw"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    assert read_epw(path).hours == 8760


def test_read_epw_fills_whole_missing_columns(tmp_path: Path) -> None:
    lines = [set_field(line, 8, "99.9") if i >= 8 else line for i, line in enumerate(epw_lines())]
    lines = [set_field(line, 10, "999999") if i >= 8 else line for i, line in enumerate(lines)]
    weather = read_epw(write_lines(tmp_path / "nodew.epw", lines))
    np.testing.assert_allclose(weather.dew_point_c, dew_point_c(weather.dry_bulb_c, 80.0))
    np.testing.assert_allclose(weather.pressure_pa, standard_pressure_pa(30.0))


def _edit(line_no: int, field: int, value: str):
    def edit(lines: list[str]) -> list[str]:
        lines[line_no - 1] = set_field(lines[line_no - 1], field, value)
        return lines

    return edit


def _truncate(line_no: int, n_fields: int):
    def edit(lines: list[str]) -> list[str]:
        lines[line_no - 1] = ",".join(lines[line_no - 1].split(",")[:n_fields])
        return lines

    return edit


@pytest.mark.parametrize(
    ("edit", "line", "needle"),
    [
        pytest.param(
            _edit(12, 7, "abc"),
            12,
            "field 'dry_bulb_c' (7): not a number: 'abc'",
            id="dry-bulb-nan",
        ),
        pytest.param(
            _edit(12, 7, "99.9"), 12, "field 'dry_bulb_c' (7): missing", id="dry-bulb-missing"
        ),
        pytest.param(
            _edit(20, 7, "85.0"), 20, "'dry_bulb_c' (7): 85 is outside", id="dry-bulb-range"
        ),
        pytest.param(_edit(30, 2, "13"), 30, "field 'month' (2): 13 is outside", id="bad-month"),
        pytest.param(_edit(31, 4, "25"), 31, "field 'hour' (4): 25 is outside", id="bad-hour"),
        pytest.param(_edit(33, 4, "10"), 33, "expected month 1, day 2, hour 1", id="out-of-order"),
        pytest.param(
            _truncate(40, 10),
            40,
            "a full EPW row has 35), found 10",
            id="truncated-row",
        ),
        pytest.param(
            _edit(50, 9, "150"), 50, "'relative_humidity_pct' (9): 150 is outside", id="bad-rh"
        ),
        pytest.param(lambda lines: lines[:-1], 8768, "found 8759", id="too-few-rows"),
        pytest.param(lambda lines: lines + lines[-5:], 8774, "found 8765", id="too-many-rows"),
        pytest.param(
            _edit(1, 7, "north"), 1, "'latitude_deg' (7): not a number: 'north'", id="bad-latitude"
        ),
        pytest.param(
            lambda lines: lines[1:], 1, "expected the EPW 'LOCATION' header", id="no-location"
        ),
        pytest.param(lambda lines: lines[:9] + [""] + lines[10:], 10, "found 1", id="blank-row"),
    ],
)
def test_read_epw_errors_name_file_and_line(tmp_path: Path, edit, line: int, needle: str) -> None:
    path = write_lines(tmp_path / "bad.epw", edit(epw_lines()))
    with pytest.raises(WeatherFileError) as info:
        read_epw(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert needle in message, message


def test_read_epw_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.epw"
    with pytest.raises(WeatherFileError, match="no such weather file") as info:
        read_epw(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
