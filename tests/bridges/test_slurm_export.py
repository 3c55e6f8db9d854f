"""`narvik export slurm` as a library: the files follow the tenancy and the site."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import pytest

from narvik.bridges.slurm_export import build_slurm_export
from narvik.scenario import load_scenario, spec_site
from narvik.site import Site

AT = dt.date(2027, 5, 2)


@pytest.fixture(scope="module")
def export():
    return build_slurm_export(at=AT)


@pytest.fixture(scope="module")
def spec():
    return load_scenario()


def _lines(text: str, prefix: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(prefix)]


def test_grp_tres_is_the_tiers_quota_on_the_date(export, spec):
    script = export.files["sacctmgr.sh"]
    for tier in spec.tenancy.tiers:
        quota = sum(t.quota_at(AT) for t in spec.tenancy.tenants if t.tier == tier.name)
        (line,) = _lines(script, f"sacctmgr -i modify qos where name={tier.name} set Priority")
        want = quota if tier.may_hold_quota and quota > 0 else -1
        assert f"GrpTRES=gres/gpu={want}" in line
    assert "GrpTRES=gres/gpu=55000" in script  # openai's step of 2027-04-01


def test_qos_priority_and_preemption_follow_tiers(export):
    script = export.files["sacctmgr.sh"]
    (nat,) = _lines(script, "sacctmgr -i modify qos where name=national set")
    assert "Preempt=anchor,regional" in nat and "PreemptMode=requeue" in nat
    (reg,) = _lines(script, "sacctmgr -i modify qos where name=regional set")
    assert "Preempt=" not in reg


def test_ramp_steps_are_dated_with_their_values(export, spec):
    script = export.files["sacctmgr.sh"]
    steps = re.findall(r"^at_step (\S+) '(.*)'$", script, flags=re.M)
    openai = spec.tenancy.tenant("openai")
    for q in openai.quota:
        if q.start <= AT:
            continue
        day = q.start.isoformat()
        assert (
            day,
            f"sacctmgr -i modify account where name=openai set Fairshare={q.gpus}",
        ) in steps
        tier = sum(t.quota_at(q.start) for t in spec.tenancy.tenants if t.tier == "anchor")
        assert (
            day,
            f"sacctmgr -i modify qos where name=anchor set GrpTRES=gres/gpu={tier}",
        ) in steps
        assert f"\n# {day}\n" in script
    assert all(dt.date.fromisoformat(d) > AT for d, _ in steps)


def test_a_partition_per_hall_and_gpus_add_up(export, spec):
    site = spec_site(spec)
    assert isinstance(site, Site)
    conf = export.files["slurm.conf"]
    parts = _lines(conf, "PartitionName=")
    assert len(parts) == len(site.halls)
    for hall, h in zip(site.halls, export.halls, strict=True):
        (part,) = [p for p in parts if p.startswith(f"PartitionName={h.partition} ")]
        online = site.phase(hall.phase).start_date <= AT
        assert ("State=UP" in part) == online and ("State=INACTIVE" in part) == (not online)
        (node,) = [n for n in _lines(conf, "NodeName=") if f"Feature={h.partition}," in n]
        gres = int(re.search(r"Gres=gpu:(\d+)", node).group(1))
        rack = site.rack_type(hall.rack_type)
        assert gres * h.n_nodes == hall.racks * rack.gpus_per_rack
        assert f"Nodes={h.nodes}" in part


def test_topology_has_a_switch_per_domain_block_and_hall(export):
    topo = export.files["topology.conf"]
    h = export.halls[0]
    assert f"SwitchName=nvl-{h.slug}-0001 Nodes={h.slug}-r0001-t[01-18]" in topo
    assert len(_lines(topo, f"SwitchName=nvl-{h.slug}-")) == h.racks
    assert len(_lines(topo, f"SwitchName=blk-{h.slug}-")) == h.n_blocks
    assert _lines(topo, "SwitchName=root ")


def test_scheduler_settings(export):
    conf = export.files["slurm.conf"]
    for setting in (
        "GresTypes=gpu",
        "SelectType=select/cons_tres",
        "TopologyPlugin=topology/tree",
        "PriorityType=priority/multifactor",
        "PreemptType=preempt/qos",
        "PreemptMode=REQUEUE",
        "AccountingStorageEnforce=associations,limits,qos",
        "SchedulerType=sched/backfill",
        "SchedulerParameters=bf_window=1440,bf_max_job_test=500,bf_resolution=60",
        "StateSaveLocation=/var/spool/slurmctld",
        "AuthType=auth/munge",
    ):
        assert setting in conf.splitlines()
    assert "127.0.0.1" not in conf


def test_reservations_become_scontrol_lines(spec):
    start = build_slurm_export()  # on the scenario's start date: both still ahead
    lines = _lines(start.files["sacctmgr.sh"], "scontrol create reservation")
    assert len(lines) == len(spec.reservations)
    for r, line in zip(spec.reservations, lines, strict=True):
        assert f"Accounts={r.tenant}" in line
        assert f"NodeCnt={-(-r.gpus // 4)}" in line
        assert f"EndTime={r.end.isoformat(timespec='seconds')}" in line


def test_past_reservations_are_skipped():
    late = build_slurm_export(at=dt.date(2027, 12, 1))
    assert not _lines(late.files["sacctmgr.sh"], "scontrol create reservation")


def test_flat_site_is_refused():
    with pytest.raises(ValueError, match="flat pool"):
        build_slurm_export(site="flat:64")


def test_halls_a_tenant_may_not_use_list_the_others(export, spec):
    parts = _lines(export.files["slurm.conf"], "PartitionName=")
    confined = [t for t in spec.tenancy.tenants if t.allowed_halls]
    assert confined
    for h, part in zip(export.halls, parts, strict=True):
        for t in confined:
            if h.hall in t.allowed_halls:
                assert "AllowAccounts=" not in part or t.name in part
            else:
                assert "AllowAccounts=" in part and f"{t.name}," not in part + ","


def test_the_script_is_valid_sh(export, tmp_path):
    script = tmp_path / "sacctmgr.sh"
    script.write_text(export.files["sacctmgr.sh"], encoding="utf-8")
    assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
