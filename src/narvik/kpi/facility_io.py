"""Writing a facility year to files: the JSON document and the hourly Parquet table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from narvik.atomic import write_json_atomic
from narvik.kpi.facility_year import FacilityYear
from narvik.sim.recorders import write_parquet_atomic


def hourly_table(result: FacilityYear) -> pa.Table:
    h = result.hours
    cols = {
        "hour": pa.array(range(h.it_power_w.shape[0]), pa.int32()),
        "month": pa.array(result.weather.month, pa.int8()),
        "ambient_c": h.ambient_c,
        "gpu_utilization": h.gpu_utilization,
        "it_power_w": h.it_power_w,
        "facility_power_w": h.facility_power_w,
        "pump_power_w": h.pump_power_w,
        "dry_cooler_fan_power_w": h.dry_cooler_fan_power_w,
        "chiller_power_w": h.chiller_power_w,
        "air_fan_power_w": h.air_fan_power_w,
        "power_chain_loss_w": h.distribution_loss_w + h.ups_loss_w + h.transformer_loss_w,
        "heat_reused_w": h.heat_reused_w,
        "heat_rejected_w": h.heat_rejected_w,
        "water_l_per_h": h.water_l_per_h,
        "carbon_intensity_g_per_kwh": h.mix.carbon_intensity_g_per_kwh,
        "price_eur_per_mwh": h.mix.price_eur_per_mwh,
    }
    for i, o in enumerate(result.site.offtakers):
        cols[f"heat_delivered_w[{o.name}]"] = h.offtaker_delivered_w[i]
        cols[f"heat_demand_w[{o.name}]"] = h.offtaker_demand_w[i]
    return pa.table(cols)


def write_facility_year(out: Path, result: FacilityYear, doc: dict[str, object]) -> None:
    """Write both files atomically; the table first, so a failure leaves neither new file."""
    table = hourly_table(result)
    write_parquet_atomic(table, out / "facility_hourly.parquet")
    write_json_atomic(out / "facility_year.json", doc)
