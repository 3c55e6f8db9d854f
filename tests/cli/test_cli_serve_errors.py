"""`narvik serve` with a bad option or a database it cannot open: one line naming the
option (a password in the URL hidden), exit 2, before anything listens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--port", "99999"], "error: --port: Input should be less than or equal to 65535"),
        (["--clock-speed", "-1"], "error: --clock-speed: Input should be greater than 0"),
        (["--db", "notaurl"], "error: --db 'notaurl': not a database URL"),
        (
            ["--db", "nosuchdb://x"],
            "error: --db nosuchdb://x: cannot open the database: Can't load plugin",
        ),
        (
            ["--db", "postgresql://nobody:secret@127.0.0.1:1/x"],
            "error: --db postgresql://nobody:***@127.0.0.1:1/x: cannot open the database:",
        ),
        (["--port", "-1"], "error: --port: "),
        (["--scenario", "nosuch"], "error: --scenario nosuch: no such scenario"),
        (["--scenario", "/no/such/scenario.toml"], "error: --scenario /no/such/scenario.toml:"),
        (["--site", "nosuch"], "error: --site nosuch: no such site"),
        (["--site", "/no/such/site.toml"], "error: --site /no/such/site.toml:"),
        (["--site", "flat:abc"], "error: --site flat:abc:"),
    ],
)
def test_serve_start_up_errors_are_one_line(tmp_path: Path, args: list[str], line: str):
    proc = subprocess.run(
        [sys.executable, "-m", "narvik", "serve", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "300"},
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(line)
    assert "secret" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""
