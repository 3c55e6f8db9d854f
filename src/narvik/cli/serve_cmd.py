"""`narvik serve`: the live control plane (FastAPI under uvicorn) on SQLite or PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from narvik.cli.common import err_console, plain, user_errors


def serve(
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default sqlite:///narvik.db in this folder)."
    ),
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (default: 127.0.0.1)."
    ),
    port: int | None = typer.Option(None, "--port", help="TCP port (default: 8080)."),
    scenario: str | None = typer.Option(
        None,
        "--scenario",
        help="Scenario name or file: the tenancy policy and the site (default: stargate-norway).",
    ),
    site: str | None = typer.Option(
        None, "--site", help="Site override (catalogue, flat:N; default: the scenario's)."
    ),
    clock_speed: float | None = typer.Option(
        None,
        "--clock-speed",
        help="Service seconds per wall second, for demos and tests (default: 1).",
    ),
    clock_start: dt.datetime | None = typer.Option(
        None,
        "--clock-start",
        help="Service time at start, UTC (default: now, or the scenario's start_date if "
        "now precedes it).",
    ),
    pass_interval_s: float | None = typer.Option(
        None, "--pass-interval-s", help="Wall seconds between scheduling passes (default: 1)."
    ),
) -> None:
    """Serve the API, the scheduler and the dashboard. Settings also come from NARVIK_* vars."""
    import sys

    import uvicorn

    # The scheduling passes run in a thread beside the event loop; hand the interpreter
    # over every millisecond (not every 5) so requests wait less behind a long pass.
    sys.setswitchinterval(0.001)

    given: dict[str, Any] = {
        "db_url": db,
        "host": host,
        "port": port,
        "scenario": scenario,
        "site": site,
        "clock_speed": clock_speed,
        "clock_start": clock_start.replace(tzinfo=dt.UTC) if clock_start else None,
        "pass_interval_s": pass_interval_s,
    }
    with user_errors():
        settings = _settings(given)
        app = _app(settings)
    err_console.print(
        f"narvik serve: http://{settings.host}:{settings.port}/dashboard "
        f"(API docs at /docs, database {app.state.ctx.db.dialect})"
    )
    if app.state.ctx.clock_notice:
        err_console.print(
            f"narvik serve: {plain(app.state.ctx.clock_notice)}", highlight=False, soft_wrap=True
        )
    from narvik.service.http_limits import limited_protocol

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        # header blocks past max_header_bytes or max_headers: 431 as they arrive
        http=limited_protocol(settings.max_header_bytes, settings.max_headers),
    )


#: The options of the command by setting, to name them in errors.
_OPTION = {
    "db_url": "--db",
    "host": "--host",
    "port": "--port",
    "scenario": "--scenario",
    "site": "--site",
    "clock_speed": "--clock-speed",
    "clock_start": "--clock-start",
    "pass_interval_s": "--pass-interval-s",
}


def _settings(given: dict[str, Any]) -> Any:
    """The service's settings; a bad one is one line naming its option (or NARVIK_ var)."""
    from pydantic import ValidationError

    from narvik.service.settings import ServiceSettings

    try:
        return ServiceSettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            option = _OPTION.get(name, name)
            where = option if given.get(name) is not None else f"{option} (NARVIK_{name.upper()})"
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise ValueError("; ".join(problems)) from exc


def _app(settings: Any) -> Any:
    """The app, with a database that cannot be opened said in one line (password hidden)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from narvik.service.api.app import create_app

    try:
        shown = make_url(settings.db_url).render_as_string(hide_password=True)
    except ArgumentError as exc:
        raise ValueError(f"--db {settings.db_url!r}: not a database URL") from exc
    from narvik.scenario import load_scenario

    try:
        load_scenario(settings.scenario)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise ValueError(f"--scenario {_message(exc)}") from exc
    try:
        return create_app(settings)
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)  # the driver's error, when there is one
        reason = str(orig if orig is not None else exc).strip().splitlines()[0]
        raise ValueError(f"--db {shown}: cannot open the database: {reason}") from exc
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = _message(exc)
        if settings.site and message.startswith(f"{settings.site}:"):
            raise ValueError(f"--site {message}") from exc  # the site cannot be loaded
        raise


def _message(exc: BaseException) -> str:
    return str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
