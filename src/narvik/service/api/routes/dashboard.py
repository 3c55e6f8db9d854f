"""The web dashboard: a static page (no data) whose script calls the API with a token."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

router = APIRouter(include_in_schema=False)


def _asset(name: str) -> str:
    return resources.files("narvik.service.api").joinpath("dashboard", name).read_text("utf-8")


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard")
def page() -> HTMLResponse:
    return HTMLResponse(_asset("index.html"))


@router.get("/dashboard/app.js")
def script() -> Response:
    return Response(_asset("app.js"), media_type="text/javascript")


@router.get("/dashboard/plotly.js")
def plotly() -> Response:
    return Response(
        _plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
    )
