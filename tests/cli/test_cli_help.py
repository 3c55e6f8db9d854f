"""Every option's --help says what it accepts and its default (the first place a new user
looks), and the lists it gives are the ones the library accepts."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from narvik.cli.defaults import POLICIES
from narvik.cli.main import _register, app
from narvik.sched.registry import policy_names

_register()
ROOT = typer.main.get_command(app)


# typer ships its own copy of click: commands and options are read by their attributes.
def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if hasattr(group, "commands"):
        return [
            p for name, cmd in sorted(group.commands.items()) for p in _commands(cmd, (*path, name))
        ]
    return [path]


def _command(path: tuple[str, ...]) -> Any:
    cmd: Any = ROOT
    for name in path:
        cmd = cmd.commands[name]
    return cmd


COMMANDS = _commands(ROOT)


def test_every_command_is_covered():
    assert {" ".join(p) for p in COMMANDS} >= {
        "site show", "facility year", "simulate", "report", "serve", "study run",
        "study report", "compare",
    }  # fmt: skip


def _shown_default(opt: Any) -> bool:
    """typer prints ``[default: X]`` for a shown default that is not None or False."""
    shown = opt.default is not None and opt.default is not False
    return bool(opt.show_default) and shown and not opt.is_flag


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_option_names_its_default(path: tuple[str, ...]):
    cmd = _command(path)
    missing = [
        opt.opts[0]
        for opt in cmd.params
        if opt.param_type_name == "option"
        and opt.name != "help"
        and not _shown_default(opt)
        and "default" not in (opt.help or "").lower()
    ]
    assert missing == [], f"narvik {' '.join(path)}: options without a default in --help"


def test_policy_help_lists_every_policy():
    assert list(POLICIES) == policy_names()
    result = CliRunner().invoke(app, ["simulate", "--help"], env={"COLUMNS": "250"})
    text = " ".join(result.output.split())
    assert "Scheduling policy: easy, fcfs, kueue, narvik, slurm (default: the scenario's)" in text
    assert "Trace format: swf, csv or parquet (default: from the file name)" in text
