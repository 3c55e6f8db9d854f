from __future__ import annotations

import calendar
import re
from pathlib import Path

import numpy as np
import pytest

from narvik.physics.energy_cost import (
    DEFAULT_ELECTRICITY_TAX,
    DEFAULT_GRID_TARIFF,
    NO4_2023_MONTHLY_NOK_PER_MWH,
    NOK_PER_EUR_2023,
    ElectricityTax,
    GridTariff,
    PriceFileError,
    PriceSeries,
    cost_lines_eur,
    default_no4_prices,
    prices_for_weather_hours,
    read_price_csv,
    write_default_no4_price_csv,
    write_price_csv,
)


def utc(text: str) -> np.datetime64:
    return np.datetime64(text, "s")


def weather_calendar(year: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    months, days, hours = [], [], []
    for m in range(1, 13):
        for d in range(1, calendar.monthrange(year, m)[1] + 1):
            for h in range(24):
                months.append(m)
                days.append(d)
                hours.append(h)
    return np.array(months), np.array(days), np.array(hours)


# --- cost lines ------------------------------------------------------------------------


def test_cost_lines_hand_calculation_two_months():
    draw_w = [100e6, 200e6, 50e6, 150e6]  # MW for one hour each = MWh
    price = [10.0, 20.0, -5.0, 30.0]
    month = [1, 1, 2, 2]
    capacity = (3.0, 1.0) + (0.0,) * 10  # EUR/kW/month: January 3, February 1
    lines = cost_lines_eur(draw_w, price, GridTariff(2.0, capacity), ElectricityTax(0.5), month)
    assert lines.energy_mwh == pytest.approx(500.0)
    # 100*10 + 200*20 + 50*(-5) + 150*30 = 1000 + 4000 - 250 + 4500
    assert lines.energy_eur == pytest.approx(9250.0)
    assert lines.tariff_energy_eur == pytest.approx(1000.0)  # 500 MWh * 2
    # January peak 200,000 kW * 3 + February peak 150,000 kW * 1
    assert lines.peak_kw_by_month[:2] == pytest.approx((200_000.0, 150_000.0))
    assert lines.tariff_capacity_eur_by_month[:2] == pytest.approx((600_000.0, 150_000.0))
    assert lines.tariff_capacity_eur == pytest.approx(750_000.0)
    assert lines.tax_eur == pytest.approx(250.0)  # 500 MWh * 0.5
    assert lines.total_eur == pytest.approx(9250.0 + 1000.0 + 750_000.0 + 250.0)
    assert sum(lines.peak_kw_by_month[2:]) == 0.0


def test_cost_lines_flat_capacity_rate_charges_only_months_present():
    lines = cost_lines_eur([1e6, 2e6, 4e6], [0.0, 0.0, 0.0], GridTariff(0.0, 5.0),
                           ElectricityTax(0.0), [3, 3, 7])  # fmt: skip
    assert lines.tariff_capacity_eur == pytest.approx(2000.0 * 5 + 4000.0 * 5)
    assert lines.total_eur == pytest.approx(30_000.0)


def test_tariff_and_tax_from_nok():
    tariff = GridTariff.from_nok(24.0, 120.0, nok_per_eur=12.0)
    assert tariff.energy_term_eur_per_mwh == pytest.approx(2.0)
    assert tariff.capacity_eur_per_kw_by_month == pytest.approx((120 / 12 / 12,) * 12)
    monthly = GridTariff.from_nok(0.0, [12.0] * 6 + [0.0] * 6, nok_per_eur=12.0)
    assert monthly.capacity_eur_per_kw_by_month == pytest.approx((1.0,) * 6 + (0.0,) * 6)
    assert ElectricityTax.from_nok(5.8, nok_per_eur=11.6).rate_eur_per_mwh == pytest.approx(0.5)
    with pytest.raises(ValueError, match="1 or 12 rates"):
        GridTariff(0.0, (1.0, 2.0))


def test_defaults_are_the_documented_figures():
    assert DEFAULT_GRID_TARIFF.energy_term_eur_per_mwh == pytest.approx(0.9)
    assert DEFAULT_GRID_TARIFF.capacity_eur_per_kw_by_month[0] == pytest.approx(
        270.0 / 12 / 11.6290
    )
    assert DEFAULT_ELECTRICITY_TAX.rate_eur_per_mwh == pytest.approx(5.80 / 11.6290)


def test_cost_lines_validation():
    tariff, tax = GridTariff(1.0, 1.0), ElectricityTax(1.0)
    with pytest.raises(ValueError, match="non-negative"):
        cost_lines_eur([-1.0], [1.0], tariff, tax, [1])
    with pytest.raises(ValueError, match="1..12"):
        cost_lines_eur([1.0], [1.0], tariff, tax, [13])
    with pytest.raises(ValueError, match="equal length"):
        cost_lines_eur([1.0, 2.0], [1.0], tariff, tax, [1, 1])
    with pytest.raises(ValueError, match="finite"):
        cost_lines_eur([1.0], [float("inf")], tariff, tax, [1])


# --- reading price files ---------------------------------------------------------------


def test_read_simple_format(tmp_path: Path):
    f = tmp_path / "prices.csv"
    f.write_text(
        "time,price_eur_per_mwh\n"
        "2023-01-01T00:00:00+01:00,30.5\n"  # = 2022-12-31T23:00Z
        "2023-01-01T00:00:00Z,29.0\n"
        "2023-01-01T02:00:00+01:00,-1.25\n"  # = 01:00Z, negative prices occur in NO4
    )
    s = read_price_csv(f)
    np.testing.assert_array_equal(
        s.start_utc,
        [utc("2022-12-31T23:00:00"), utc("2023-01-01T00:00:00"), utc("2023-01-01T01:00:00")],
    )
    np.testing.assert_allclose(s.price_eur_per_mwh, [30.5, 29.0, -1.25])
    assert s.hours == 3 and s.source == str(f)


def test_read_entsoe_legacy_export(tmp_path: Path):
    f = tmp_path / "Day-ahead Prices_202301010000-202401010000.csv"
    f.write_text(
        '"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]","Currency","BZN|NO4"\n'
        '"01.01.2023 00:00 - 01.01.2023 01:00","29.06","EUR",""\n'
        '"01.01.2023 01:00 - 01.01.2023 02:00","28.50","EUR",""\n'
    )
    s = read_price_csv(f)
    np.testing.assert_array_equal(
        s.start_utc, [utc("2022-12-31T23:00:00"), utc("2023-01-01T00:00:00")]
    )
    np.testing.assert_allclose(s.price_eur_per_mwh, [29.06, 28.50])


def test_read_entsoe_summer_time_changes(tmp_path: Path):
    spring = tmp_path / "spring.csv"
    spring.write_text(
        '"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]"\n'
        '"26.03.2023 01:00 - 26.03.2023 02:00","10"\n'
        '"26.03.2023 02:00 - 26.03.2023 03:00","-"\n'  # no such local hour
        '"26.03.2023 03:00 - 26.03.2023 04:00","11"\n'
    )
    s = read_price_csv(spring)
    np.testing.assert_array_equal(
        s.start_utc, [utc("2023-03-26T00:00:00"), utc("2023-03-26T01:00:00")]
    )
    autumn = tmp_path / "autumn.csv"
    autumn.write_text(
        '"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]"\n'
        '"29.10.2023 01:00 - 29.10.2023 02:00","20"\n'
        '"29.10.2023 02:00 - 29.10.2023 02:00","21"\n'  # CEST
        '"29.10.2023 02:00 - 29.10.2023 03:00","22"\n'  # CET
        '"29.10.2023 03:00 - 29.10.2023 04:00","23"\n'
    )
    s = read_price_csv(autumn)
    np.testing.assert_array_equal(
        s.start_utc,
        [utc("2023-10-28T23:00:00"), utc("2023-10-29T00:00:00"), utc("2023-10-29T01:00:00"),
         utc("2023-10-29T02:00:00")],
    )  # fmt: skip
    np.testing.assert_allclose(s.price_eur_per_mwh, [20, 21, 22, 23])


def test_read_entsoe_new_platform_quarter_hours_average_to_hours(tmp_path: Path):
    f = tmp_path / "GUI_ENERGY_PRICES.csv"
    rows = ['"MTU (CET/CEST)","Area","Sequence","Day-ahead Price (EUR/MWh)"']
    values = [10, 20, 30, 40, 1, 1, 1, 1]
    for k, v in enumerate(values):
        a, b = divmod(k * 15, 60)
        c, d = divmod(k * 15 + 15, 60)
        rows.append(
            f'"01/10/2025 {a:02d}:{b:02d}:00 - 01/10/2025 {c:02d}:{d:02d}:00",'
            f'"BZN|NO4","Without Sequence","{v}"'
        )
    f.write_text("\n".join(rows) + "\n")
    s = read_price_csv(f)  # 1 October 2025 is summer time: 00:00 CEST = 22:00Z
    np.testing.assert_array_equal(
        s.start_utc, [utc("2025-09-30T22:00:00"), utc("2025-09-30T23:00:00")]
    )
    np.testing.assert_allclose(s.price_eur_per_mwh, [25.0, 1.0])


def test_bad_line_names_file_line_and_field(tmp_path: Path):
    f = tmp_path / "bad.csv"
    f.write_text("time,price_eur_per_mwh\n2023-01-01T00:00:00Z,30\n2023-01-01T01:00:00Z,thirty\n")
    with pytest.raises(PriceFileError, match=re.escape(f"{f}:3: field 'price_eur_per_mwh' (2)")):
        read_price_csv(f)
    g = tmp_path / "bad_entsoe.csv"
    g.write_text(
        '"MTU (CET/CEST)","Day-ahead Price [EUR/MWh]"\n'
        '"01.01.2023 00:00 - 01.01.2023 01:00","29.06"\n'
        '"01.01.2023 01:00 01.01.2023 02:00","28.50"\n'
    )
    with pytest.raises(PriceFileError, match=re.escape(f"{g}:3: field 'MTU' (1)")):
        read_price_csv(g)


def test_gap_is_an_error_naming_the_first_gap(tmp_path: Path):
    f = tmp_path / "gap.csv"
    f.write_text(
        "time,price_eur_per_mwh\n"
        "2023-01-01T00:00:00Z,30\n"
        "2023-01-01T01:00:00Z,31\n"
        "2023-01-01T03:00:00Z,33\n"
        "2023-01-01T06:00:00Z,36\n"
    )
    with pytest.raises(PriceFileError) as err:
        read_price_csv(f)
    message = str(err.value)
    assert message.startswith(f"{f}:3: missing hour")
    assert "2023-01-01T02:00:00Z" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("2023-01-01T00:00:00Z,inf\n", "not a finite number"),
        ("2023-01-01T00:00:00Z,\n", "no price"),
        ("2023-01-01T00:00:00,30\n", "has no UTC offset"),
        ("2023-01-01T00:30:00Z,30\n", "not the start of a whole hour"),
        ("2023-01-01T00:00:00Z,30,1\n", "expected 2 fields"),
        ("2023-01-01T00:00:00Z,30\n2023-01-01T01:00:00+01:00,31\n", "appears twice"),
    ],
)
def test_simple_format_errors(tmp_path: Path, body: str, expected: str):
    f = tmp_path / "p.csv"
    f.write_text("time,price_eur_per_mwh\n" + body)
    with pytest.raises(PriceFileError, match=re.escape(expected)) as err:
        read_price_csv(f)
    assert str(err.value).startswith(f"{f}:")


def test_unknown_header_and_missing_file(tmp_path: Path):
    f = tmp_path / "p.csv"
    f.write_text("when,price\n2023-01-01T00:00:00Z,1\n")
    with pytest.raises(PriceFileError, match=re.escape(f"{f}:1: unknown header")):
        read_price_csv(f)
    with pytest.raises(PriceFileError, match="no such price file"):
        read_price_csv(tmp_path / "absent.csv")


# --- the default year and alignment ---------------------------------------------------


def test_default_no4_prices_keep_the_published_monthly_means():
    s = default_no4_prices(2027)
    assert s.hours == 8760
    assert s.start_utc[0] == utc("2026-12-31T23:00:00")  # 1 January 00:00 UTC+1
    local_month = (s.start_utc + np.timedelta64(1, "h")).astype("datetime64[M]").astype(int) % 12
    for m in range(12):
        mean = s.price_eur_per_mwh[local_month == m].mean()
        assert mean == pytest.approx(NO4_2023_MONTHLY_NOK_PER_MWH[m] / NOK_PER_EUR_2023)
    assert s.price_eur_per_mwh.mean() == pytest.approx(29.92, abs=0.01)
    assert np.all(s.price_eur_per_mwh > 0)
    again = default_no4_prices(2027)
    np.testing.assert_array_equal(s.price_eur_per_mwh, again.price_eur_per_mwh)  # no randomness
    assert default_no4_prices(2028).hours == 8784


def test_default_csv_round_trip(tmp_path: Path):
    f = tmp_path / "no4_2027.csv"
    write_default_no4_price_csv(f, 2027)
    assert f.read_text().startswith("time,price_eur_per_mwh\n2026-12-31T23:00:00Z,")
    back = read_price_csv(f)
    s = default_no4_prices(2027)
    np.testing.assert_array_equal(back.start_utc, s.start_utc)
    np.testing.assert_allclose(back.price_eur_per_mwh, s.price_eur_per_mwh, atol=1e-4)


def test_prices_for_weather_hours_by_local_standard_time():
    s = default_no4_prices(2027)
    month, day, hour = weather_calendar(2027)
    aligned = prices_for_weather_hours(s, month, day, hour)
    np.testing.assert_array_equal(aligned, s.price_eur_per_mwh)
    # A short series: 1 January 2023 00:00-01:00 local standard time is 2022-12-31T23:00Z.
    short = PriceSeries("t", [utc("2022-12-31T23:00:00"), utc("2023-01-01T00:00:00")], [5.0, 6.0])
    assert prices_for_weather_hours(short, [1, 1], [1, 1], [0, 1], year=2023) == pytest.approx(
        [5.0, 6.0]
    )
    with pytest.raises(ValueError, match="no price for weather hour 0"):
        prices_for_weather_hours(short, [1], [1], [2], year=2023)
    with pytest.raises(ValueError, match="does not exist in 2027"):
        prices_for_weather_hours(s, [2], [29], [0])


def test_write_price_csv_and_series_validation(tmp_path: Path):
    s = PriceSeries("t", [utc("2023-01-01T00:00:00")], [1.23456])
    f = tmp_path / "one.csv"
    write_price_csv(f, s)
    assert f.read_text() == "time,price_eur_per_mwh\n2023-01-01T00:00:00Z,1.2346\n"
    with pytest.raises(ValueError, match="consecutive"):
        PriceSeries("t", [utc("2023-01-01T00:00:00"), utc("2023-01-01T02:00:00")], [1.0, 2.0])
    with pytest.raises(ValueError, match="not finite"):
        PriceSeries("t", [utc("2023-01-01T00:00:00")], [float("nan")])
