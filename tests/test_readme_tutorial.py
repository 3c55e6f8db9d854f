"""The README's tutorial runs as written: its commands are extracted from README.md and
run in a fresh folder laid out like a checkout (``../shared`` beside it), with the spans
shortened and a free port, then its outputs are checked as a user would read them."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).parents[1]
SHARED = REPO.parent / "shared"

#: Shorter spans for CI; every pattern must occur in the tutorial.
SHORTER = (
    (r"--days 30\b", "--days 2"),
    (r"--warmup-days 7\b", "--warmup-days 1"),
    (r"^days = 30$", "days = 10"),  # the KTH log's first job arrives on day 7
    (r"^warmup_days = 3$", "warmup_days = 7"),
)


def tutorial_script(readme: str) -> str:
    """The bash blocks between the tutorial markers, in order."""
    part = readme.split("<!-- tutorial:start -->", 1)[1].split("<!-- tutorial:end -->", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", part, flags=re.S)
    assert blocks, "no bash block in the README's tutorial"
    return "\n".join(blocks)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shortened(script: str, port: int) -> str:
    for pattern, short in SHORTER:
        script, n = re.subn(pattern, short, script, flags=re.M)
        assert n > 0, f"the tutorial no longer has {pattern!r}"
    assert "source .venv/bin/activate" in script and "8080" in script
    venv_bin = Path(sys.executable).parent
    script = script.replace("source .venv/bin/activate", f'export PATH="{venv_bin}:$PATH"')
    return script.replace("8080", str(port))


def test_the_tutorial_runs_as_written(tmp_path: Path):
    if not (SHARED / "data" / "traces").is_dir():
        pytest.skip(f"the shared data ({SHARED}, ../shared) is absent")
    (tmp_path / "shared").symlink_to(SHARED)
    checkout = tmp_path / "narvik"
    checkout.mkdir()
    script = _shortened(tutorial_script((REPO / "README.md").read_text()), _free_port())
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=checkout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the background server goes with the group
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the server, had the script failed
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, f"stdout:\n{stdout}\nstderr:\n{stderr}"
    _check_outputs(checkout, stdout)


def _check_outputs(checkout: Path, stdout: str) -> None:
    runs = checkout / "runs"
    first = json.loads((runs / "first" / "summary.json").read_text())
    assert first["policy"] == "narvik" and first["warmup_days"] == 1
    assert json.loads((runs / "first-easy" / "summary.json").read_text())["policy"] == "easy"
    assert (runs / "compare.html").is_file()
    assert "queue wait: mean" in stdout
    lublin = json.loads((runs / "lublin" / "summary.json").read_text())
    assert lublin["scenario"] == "lublin_256" and lublin["jobs"]["completed"] > 9000
    kth = json.loads((runs / "kth" / "summary.json").read_text())
    assert set(kth["tenancy"]["guarantee_hours"]) == {"cfd-lab"}
    tenants = set(pq.read_table(runs / "kth" / "jobs.parquet").column("tenant").to_pylist())
    assert tenants == {"cfd-lab", "campus"}
    # The serve session: the tenants' quotas are their first ramp step, not 0.
    listing = _first_json_array(stdout)
    quotas = {t["name"]: t["quota_gpus_now"] for t in listing}
    assert quotas["openai"] == 50_000 and quotas["sigma2"] == 10_000, quotas


def _first_json_array(text: str) -> list[dict[str, object]]:
    start = text.index("\n[") + 1
    depth = 0
    for i, ch in enumerate(text[start:], start):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if depth == 0:
            return list(json.loads(text[start : i + 1]))
    raise AssertionError("no JSON array in the output")
