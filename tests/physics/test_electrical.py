"""The electrical topology: UPS units with redundancy on their part-load curve, and two
transformer stages, against hand calculations."""

import numpy as np
import pytest

from narvik.physics.electrical import (
    ElectricalTopology,
    TransformerStage,
    ups_system_loss_w,
    ups_unit_load_fraction,
    ups_units_installed,
)

CURVE_LOAD = (0.1, 0.25, 0.5, 0.75, 1.0)
CURVE_EFF = (0.94, 0.97, 0.98, 0.985, 0.985)


def test_units_installed_by_redundancy():
    # 10 MW of design load on 1.25 MW units needs 8: N installs 8, N+1 9, 2N 16.
    assert ups_units_installed(10e6, 1.25e6, "N") == 8
    assert ups_units_installed(10e6, 1.25e6, "N+1") == 9
    assert ups_units_installed(10e6, 1.25e6, "2N") == 16
    assert ups_units_installed(10.1e6, 1.25e6, "N") == 9  # a part unit is a whole unit
    with pytest.raises(ValueError, match="redundancy"):
        ups_units_installed(10e6, 1.25e6, "3N")


def test_a_2n_system_runs_every_unit_under_half_load():
    units = ups_units_installed(10e6, 1.25e6, "2N")
    loads = np.linspace(0.0, 10e6, 11)
    assert np.all(ups_unit_load_fraction(loads, 1.25e6, units) <= 0.5)


def test_ups_part_load_loss_by_hand():
    # 9 MW on a 2N system of 16 x 1.25 MW: each unit at 9 / 20 = 45 % of rating. On the
    # curve between 25 % (97.0 %) and 50 % (98.0 %): 97.0 + 1.0 * 20 / 25 = 97.8 %.
    # Losses 9 MW * (1 / 0.978 - 1) = 202.45 kW.
    loss = float(ups_system_loss_w(9e6, 1.25e6, 16, CURVE_LOAD, CURVE_EFF))
    assert loss == pytest.approx(9e6 * (1 / 0.978 - 1), rel=1e-9)
    assert loss == pytest.approx(202_454.0, abs=1.0)
    # The same load on N (8 units at 90 %, 98.5 %) loses less: 137.06 kW.
    n_loss = float(ups_system_loss_w(9e6, 1.25e6, 8, CURVE_LOAD, CURVE_EFF))
    assert n_loss == pytest.approx(9e6 * (1 / 0.985 - 1), rel=1e-9)
    assert n_loss < loss


def test_two_transformer_stages_by_hand():
    chain = ElectricalTopology(
        distribution_loss_fraction=0.01,
        ups_unit_rating_w=10e6,
        ups_units=2,  # 2N of one 10 MW unit
        ups_curve_load_fraction=CURVE_LOAD,
        ups_curve_efficiency=CURVE_EFF,
        mv_lv=TransformerStage(12.5e6, 0.001, 0.0085),
        hv_mv=TransformerStage(20e6, 0.0008, 0.005),
    )
    c = chain.losses(np.array([8e6]), np.array([1e6]))
    # Distribution 1 % of 8 MW = 80 kW; the UPS carries 8.08 MW on 2 x 10 MW units: 40.4 %
    # of rating, efficiency 0.97 + 0.01 * 15.4 / 25 = 0.97616.
    assert float(c.distribution_loss_w[0]) == pytest.approx(80e3)
    eta = 0.97 + 0.01 * (0.404 - 0.25) / 0.25
    ups = 8.08e6 * (1 / eta - 1)
    assert float(c.ups_loss_w[0]) == pytest.approx(ups, rel=1e-9)
    # MV/LV carries IT + distribution + UPS losses + 1 MW of plant: P0 + Pk (S / Sr)^2.
    lv = 8.08e6 + ups + 1e6
    mv_lv = 12.5e6 * (0.001 + 0.0085 * (lv / 12.5e6) ** 2)
    assert float(c.mv_lv_transformer_loss_w[0]) == pytest.approx(mv_lv, rel=1e-12)
    # HV/MV carries that plus the MV/LV losses.
    hv_mv = 20e6 * (0.0008 + 0.005 * ((lv + mv_lv) / 20e6) ** 2)
    assert float(c.hv_mv_transformer_loss_w[0]) == pytest.approx(hv_mv, rel=1e-12)
    # The electrical rooms hold the UPS and the MV/LV transformers, not the HV/MV yard.
    assert float(c.electrical_room_heat_w[0]) == pytest.approx(ups + mv_lv)


def test_a_stage_of_zero_rating_has_no_losses():
    assert float(TransformerStage(0.0, 0.001, 0.01).loss_w(5e6)) == 0.0
