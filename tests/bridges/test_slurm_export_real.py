"""The exported files load in a real slurmctld (Slurm 22.05, Debian packages slurmctld,
slurm-client and munge): partitions, nodes with their GPUs and the topology read back
with scontrol and sinfo. Fails, never skips, when the daemons are not installed."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from narvik.bridges.slurm_export import LocalCheck, SlurmExport, export_slurm
from narvik.scenario import load_scenario, spec_site
from narvik.site import Site

BINARIES = ("slurmctld", "scontrol", "sinfo", "munged", "mungekey")
PACKAGES = "apt-get install -y slurmctld slurm-client munge"
AT = dt.date(2027, 1, 1)
RACKS = 60
"""Racks per hall of the test site: two halls (one of each phase), room for the shipped
reservations (1,024 nodes); the full shipped site loads too, in about a minute."""


def _need_binaries() -> dict[str, str]:
    found = {b: shutil.which(b) or shutil.which(b, path="/usr/sbin:/sbin") for b in BINARIES}
    missing = [b for b, p in found.items() if p is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run .ci/run / {PACKAGES}")
    return {b: str(p) for b, p in found.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _small_site() -> Site:
    site = spec_site(load_scenario())
    assert isinstance(site, Site)
    later = next(h for h in site.halls if h.phase != site.halls[0].phase)
    halls = tuple(h.model_copy(update={"racks": RACKS}) for h in (site.halls[0], later))
    return site.model_copy(update={"halls": halls})


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@contextmanager
def _running(tmp_path: Path, bins: dict[str, str]) -> Iterator[tuple[SlurmExport, dict[str, str]]]:
    """munged and slurmctld running on the exported files; both ended by PID."""
    (tmp_path / "state").mkdir()
    (tmp_path / "spool").mkdir()
    key, sock = tmp_path / "munge.key", tmp_path / "munge.sock"
    subprocess.run([bins["mungekey"], "--create", f"--keyfile={key}", "--force"], check=True)
    key.chmod(0o600)
    local = LocalCheck(tmp_path, sock, _free_port(), _free_port())
    export = export_slurm(tmp_path, site=_small_site(), at=AT, local=local)
    env = {**os.environ, "SLURM_CONF": str(tmp_path / "slurm.conf")}
    munged = subprocess.Popen(
        [
            bins["munged"], "-F", "--force", f"--socket={sock}", f"--key-file={key}",
            f"--pid-file={tmp_path / 'munged.pid'}", f"--log-file={tmp_path / 'munged.log'}",
            f"--seed-file={tmp_path / 'munged.seed'}",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ctld = None
    try:
        ctld = subprocess.Popen(
            [bins["slurmctld"], "-D", "-c", "-f", env["SLURM_CONF"]],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        _wait_ready(ctld, bins["scontrol"], env)
        yield export, env
    finally:
        if ctld is not None:
            _stop(ctld)
        _stop(munged)


def _wait_ready(ctld: subprocess.Popen[bytes], scontrol: str, env: dict[str, str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ctld.poll() is not None:
            out = ctld.stdout.read().decode() if ctld.stdout else ""
            pytest.fail(f"slurmctld exited ({ctld.returncode}):\n{out[-3000:]}")
        ping = subprocess.run(
            [scontrol, "ping"], env=env, capture_output=True, text=True, timeout=10, check=False
        )
        if "UP" in ping.stdout:
            return
        time.sleep(0.5)
    pytest.fail("slurmctld did not answer within 120 s")


def _run(env: dict[str, str], *cmd: str) -> str:
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_slurmctld_loads_the_export(tmp_path: Path) -> None:
    bins = _need_binaries()  # in the test body: missing daemons fail the test
    with _running(tmp_path, bins) as (export, env):
        _check(export, env)


def _check(export: SlurmExport, env: dict[str, str]) -> None:
    shape = export.shape
    for h in export.halls:
        part = _run(env, "scontrol", "show", "partition", h.partition)
        assert f"TotalNodes={h.n_nodes}" in part
        assert f"State={'UP' if h.online else 'INACTIVE'}" in part
        assert h.n_nodes * shape.gpus == RACKS * 72
    online = [h for h in export.halls if h.online]
    assert online, "the test date must have halls online"
    first = f"{online[0].slug}-r0001-t01"
    node = _run(env, "scontrol", "show", "node", first)
    assert re.search(rf"Gres=gpu:{shape.gpus}\b", node)
    assert f"CPUTot={shape.cpus}" in node
    sinfo = _run(env, "sinfo", "-h", "-o", "%R %D %G")
    for h in online:
        assert f"{h.partition} {h.n_nodes} gpu:{shape.gpus}" in sinfo
    topo = _run(env, "scontrol", "show", "topology", f"nvl-{online[0].slug}-0001")
    assert f"Nodes={online[0].slug}-r0001-t[01-18]" in topo
    assert "SwitchName=root" in _run(env, "scontrol", "show", "topology", "root")
