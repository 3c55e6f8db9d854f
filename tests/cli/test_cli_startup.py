"""The `narvik` command starts light: --version and --help import no heavy package.

Each check runs in a fresh interpreter, since this test process has long imported
everything. It asserts which modules are loaded, never how long anything takes
(benchmarks/bench_startup.py prints the times).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: Packages and narvik layers the command line may import only inside a command body.
HEAVY = (
    "CoolProp",
    "numpy",
    "pyarrow",
    "plotly",
    "pandas",
    "fastapi",
    "sqlalchemy",
    "scipy",
    "uvicorn",
    "narvik.physics",
    "narvik.sim",
    "narvik.sched",
    "narvik.workload",
    "narvik.scenario",
    "narvik.service",
    "narvik.kpi",
)

#: Every command's --help, and --version; all of them build the whole command tree.
INVOCATIONS = (
    ["--version"],
    ["--help"],
    ["site", "--help"],
    ["site", "show", "--help"],
    ["facility", "--help"],
    ["facility", "year", "--help"],
    ["simulate", "--help"],
    ["report", "--help"],
    ["serve", "--help"],
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _heavy_loaded(code: str) -> list[str]:
    """Run code in a fresh interpreter; the heavy modules loaded afterwards."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
            import json as _json, sys as _sys
            _heavy = {HEAVY!r}
            _sys.stdout.write("\\n" + _json.dumps(sorted(
                m for m in _sys.modules
                if any(m == h or m.startswith(h + ".") for h in _heavy)
            )) + "\\n")
            """
    )
    proc = _run(probe)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_cli_imports_nothing_heavy() -> None:
    assert _heavy_loaded("import narvik, narvik.cli.main") == []


def test_building_the_command_tree_imports_nothing_heavy() -> None:
    assert _heavy_loaded("from narvik.cli.main import _register\n_register()") == []


@pytest.mark.parametrize("args", INVOCATIONS, ids=" ".join)
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    code = f"""
        from typer.testing import CliRunner
        from narvik.cli.main import _register, app
        _register()
        result = CliRunner().invoke(app, {args!r})
        assert result.exit_code == 0, (result.exit_code, result.output)
        assert "Traceback" not in result.output, result.output
        """
    assert _heavy_loaded(code) == []


def _commands() -> list[list[str]]:
    """``python -m narvik``, and the console script when it sits next to the interpreter."""
    commands = [[sys.executable, "-m", "narvik"]]
    script = Path(sys.executable).with_name("narvik")
    if script.exists():
        commands.append([str(script)])
    return commands


@pytest.mark.parametrize("command", _commands(), ids=lambda c: Path(c[-1]).name)
def test_version_prints_the_version(command: list[str]) -> None:
    from importlib.metadata import version

    proc = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"narvik {version('narvik')}\n"


def test_package_version_is_the_installed_one() -> None:
    from importlib.metadata import version

    import narvik

    assert narvik.__version__ == version("narvik")
    with pytest.raises(AttributeError):
        _ = narvik.no_such_attribute  # type: ignore[attr-defined]


def test_help_defaults_are_the_library_defaults() -> None:
    from narvik.cli import defaults
    from narvik.scenario import DEFAULT_SCENARIO
    from narvik.site import DEFAULT_SITE

    assert defaults.DEFAULT_SITE == DEFAULT_SITE
    assert defaults.DEFAULT_SCENARIO == DEFAULT_SCENARIO
