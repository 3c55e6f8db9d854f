"""Shared helpers of the command line: clear errors and a rich console."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

# No emoji codes: user text such as "flat:abc:" must print as written (rich would turn
# ":abc:" into an emoji); user text inside markup goes through plain().
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

T = TypeVar("T")

#: Exit status for bad input (a file, a field, an option).
EXIT_BAD_INPUT = 2


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's input errors into one clear line on stderr and exit status 2."""
    try:
        yield
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc


def plain(text: object) -> str:
    """User text (names, paths, messages) made safe to print inside rich markup."""
    return escape(str(text))


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def guarded(fn: Callable[[], T]) -> T:
    with user_errors():
        return fn()
