"""Writing a facility year to files: the JSON document and the hourly Parquet table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from narvik.atomic import write_json_atomic
from narvik.kpi.facility_year import FacilityYear
from narvik.physics.facility import POWER_COMPONENTS
from narvik.sim.recorders import write_parquet_atomic


def hourly_table(result: FacilityYear) -> pa.Table:
    h = result.hours
    cols: dict[str, object] = {
        "hour": pa.array(range(h.it_power_w.shape[0]), pa.int32()),
        "month": pa.array(result.weather.month, pa.int8()),
        "ambient_c": h.ambient_c,
        "gpu_utilization": h.gpu_utilization,
        "facility_power_w": h.facility_power_w,
    }
    # Every component of facility power, each its own column: they add up to it.
    cols.update({name: getattr(h, name) for name in POWER_COMPONENTS})
    cols.update(
        {
            "heat_to_loop_w": h.heat_to_loop_w,
            "pump_heat_w": h.pump_heat_w,
            "heat_reused_w": h.heat_reused_w,
            "heat_rejected_w": h.heat_rejected_w,
            "dry_cooler_heat_w": h.dry_cooler_heat_w,
            "chiller_heat_w": h.chiller_heat_w,
            "cooling_shortfall_w": h.cooling_shortfall_w,
            "rack_supply_temp_c": h.rack_supply_temp_c,
            "facility_return_temp_c": h.facility_return_temp_c,
            "dry_cooler_inlet_temp_c": h.dry_cooler_inlet_temp_c,
            "water_l_per_h": h.water_l_per_h,
            "carbon_intensity_g_per_kwh": h.mix.carbon_intensity_g_per_kwh,
            "price_eur_per_mwh": h.mix.price_eur_per_mwh,
        }
    )
    for i, o in enumerate(result.site.active_offtakers):
        cols[f"heat_delivered_w[{o.name}]"] = h.offtaker_delivered_w[i]
        cols[f"heat_demand_w[{o.name}]"] = h.offtaker_demand_w[i]
    return pa.table(cols)


def write_facility_year(out: Path, result: FacilityYear, doc: dict[str, object]) -> None:
    """Write both files atomically; the table first, so a failure leaves neither new file."""
    table = hourly_table(result)
    write_parquet_atomic(table, out / "facility_hourly.parquet")
    write_json_atomic(out / "facility_year.json", doc)
