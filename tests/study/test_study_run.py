"""Running studies: every run's folder and row, resumable, failures recorded, the CLI's
exit codes; on Ray (local and a real head joined by --address) the rows are those of a
run in this process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from narvik.cli.study_cmd import app as study_app
from narvik.studies import run_study
from narvik.studies.spec import StudySpec, parse_study

FAST = {"name": "fast", "site": "flat:256", "policy": "easy", "days": 1}
AXES = [{"path": "workload.load", "values": [0.5, 0.9]}]


def fast_study(**more: object) -> StudySpec:
    return parse_study({**FAST, "seeds": [1, 2], "axes": AXES, **more}, "fast.toml", None)


def rows(table: object) -> list[dict[str, object]]:
    """The rows without the wall time (the only column that may differ run to run)."""
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in table.to_pylist()]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    out = tmp_path_factory.mktemp("serial")
    got = run_study(fast_study(), out, workers=0)
    return out, rows(got.table)


def test_every_run_has_its_folder_and_row(serial: tuple[Path, list[dict[str, object]]]) -> None:
    out, table = serial
    assert len(table) == 4 and all(r["status"] == "ok" for r in table)
    assert [(r["workload.load"], r["seed"]) for r in table] == [
        (0.5, 1), (0.5, 2), (0.9, 1), (0.9, 2)
    ]  # fmt: skip
    for r in table:
        run = out / "runs" / str(r["run_id"])
        assert {
            "summary.json",
            "jobs.parquet",
            "timeseries.parquet",
            "report.html",
            "run.json",
        } <= {p.name for p in run.iterdir()}
        summary = json.loads((run / "summary.json").read_text())
        assert r["utilization"] == pytest.approx(summary["utilization"])
        assert r["wait_s.p95"] == pytest.approx(summary["wait_s"]["p95"])
    assert pq.read_table(out / "study.parquet").num_rows == 4
    assert json.loads((out / "study.json").read_text())["name"] == "fast"
    # More load, more use (same seeds).
    assert table[2]["utilization"] > table[0]["utilization"]  # type: ignore[operator]


def test_a_rerun_redoes_nothing(serial: tuple[Path, list[dict[str, object]]]) -> None:
    out, table = serial
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/run.json")}
    again = run_study(fast_study(), out, workers=0)
    assert again.ran == 0 and rows(again.table) == table
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/run.json")} == stamps


def test_a_bad_value_fails_one_run_and_the_rest_finish(tmp_path: Path) -> None:
    s = parse_study(
        {**FAST, "seeds": [1], "axes": [{"path": "workload.load", "values": [0.5, 5.0, 0.9]}]},
        "fast.toml",
        None,
    )
    got = run_study(s, tmp_path, workers=0)
    status = [r["status"] for r in got.table.to_pylist()]
    assert status == ["ok", "failed", "ok"] and got.failed == 1
    assert "workload.load" in str(got.table.to_pylist()[1]["error"])
    # Failed runs are tried again, finished ones are not.
    again = run_study(s, tmp_path, workers=0)
    assert again.ran == 1 and again.failed == 1


def test_a_crashing_run_is_recorded_with_its_error(tmp_path: Path) -> None:
    trace = tmp_path / "empty.swf"
    trace.write_text("; an SWF file without jobs\n", encoding="utf-8")
    s = parse_study(
        {**FAST, "seeds": [1], "axes": [{"path": "workload", "values": [
            {"kind": "trace", "trace": str(trace)}, {"kind": "synthetic", "load": 0.5}]}]},
        "fast.toml",
        None,
    )  # fmt: skip
    got = run_study(s, tmp_path / "out", workers=0)
    first, second = got.table.to_pylist()
    assert second["status"] == "ok"
    if first["status"] == "failed":  # an empty trace is refused by the run, not the study
        assert first["error"]


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(study_app, name="study")
    return app


def test_cli_runs_a_study_and_exits_1_on_a_failed_run(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        'name = "good"\nsite = "flat:256"\npolicy = "easy"\ndays = 1\nseeds = [1]\n'
        '[[axes]]\npath = "workload.load"\nvalues = [0.5]\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli(), ["study", "run", str(good), "--out", str(tmp_path / "g"),
                                     "--workers", "0"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "good: 1 runs (1 run now, 0 already done), 0 failed" in res.output
    assert (tmp_path / "g" / "study.html").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("[0.5]", "[0.5, 7.0]"), encoding="utf-8")
    res = CliRunner().invoke(cli(), ["study", "run", str(bad), "--out", str(tmp_path / "b"),
                                     "--workers", "0"])  # fmt: skip
    assert res.exit_code == 1 and "1 failed" in res.output
    assert pq.read_table(tmp_path / "b" / "study.parquet").num_rows == 2


def test_cli_names_the_bad_field_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('name = "s"\n[[axes]]\npath = "tenancy.nope"\nvalues = [1]\n', encoding="utf-8")
    res = CliRunner().invoke(cli(), ["study", "run", str(f), "--workers", "0"])
    assert res.exit_code == 2
    assert "no field 'tenancy.nope'" in res.output


def test_without_ray_the_command_says_how_to_install_it(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('name = "s"\nsite = "flat:64"\npolicy = "easy"\ndays = 1\n', encoding="utf-8")
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from narvik.cli.main import main\n"
        f"sys.argv = ['narvik', 'study', 'run', {str(f)!r}, '--out', {str(tmp_path / 'o')!r}]\n"
        "main()\n"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert got.returncode == 2
    assert "pip install 'narvik[ray]'" in got.stderr and "Traceback" not in got.stderr


# --- on Ray -------------------------------------------------------------------------
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def test_a_local_ray_gives_the_same_rows(
    serial: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    _, table = serial
    os.environ.update(LOOPBACK)
    got = run_study(fast_study(), tmp_path, workers=2)
    assert rows(got.table) == table and got.ran == 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_ray_head_joined_by_address_gives_the_same_rows(
    serial: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    _, table = serial
    port = free_port()
    ray_bin = Path(sys.executable).with_name("ray")
    env = {**os.environ, **LOOPBACK}
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Unix socket paths: short
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}",
         "--node-ip-address=127.0.0.1", "--num-cpus=2", "--include-dashboard=false",
         f"--temp-dir={ray_tmp}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        address = f"127.0.0.1:{port}"
        _wait_for_head(address, head)
        os.environ.update(LOOPBACK)
        study_file = tmp_path / "fast.toml"
        study_file.write_text(
            'name = "fast"\nsite = "flat:256"\npolicy = "easy"\ndays = 1\nseeds = [1, 2]\n'
            '[[axes]]\npath = "workload.load"\nvalues = [0.5, 0.9]\n',
            encoding="utf-8",
        )
        out = tmp_path / "out"
        res = CliRunner().invoke(
            cli(), ["study", "run", str(study_file), "--out", str(out), "--address", address]
        )
        assert res.exit_code == 0, res.output
        assert "fast: 4 runs (4 run now, 0 already done), 0 failed" in res.output
        assert rows(pq.read_table(out / "study.parquet")) == table
    finally:
        if head.poll() is None:
            os.killpg(head.pid, 15)  # the head ended by its own PID (its process group)
        head.wait(timeout=60)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _wait_for_head(address: str, head: subprocess.Popen[bytes]) -> None:
    """Until ``ray status`` answers for the head (its GCS and raylet are up)."""
    ray_bin = Path(sys.executable).with_name("ray")
    env = {**os.environ, **LOOPBACK}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if head.poll() is not None:
            err = head.stderr.read().decode() if head.stderr else ""
            raise AssertionError(f"ray head exited: {err[-2000:]}")
        got = subprocess.run(
            [str(ray_bin), "status", f"--address={address}"], env=env, capture_output=True
        )
        if got.returncode == 0:
            return
        time.sleep(1.0)
    raise AssertionError("ray head did not answer `ray status` in 120 s")
