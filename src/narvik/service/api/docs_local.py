"""Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from files shipped in the package.

FastAPI's own pages load their scripts from a CDN, so they are blank on a control
plane without Internet access. :func:`install` replaces them with pages that load only
``/docs/static/...``: the npm packages ``swagger-ui-dist`` and ``redoc`` (its
standalone bundle), vendored in ``narvik/service/api/static`` with their licences (see
the README there).
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

STATIC = "/docs/static"
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".html": "text/html",
    ".txt": "text/plain",
}
#: The files served under STATIC (nothing else of the folder is reachable).
FILES = {
    "swagger-ui/swagger-ui-bundle.js",
    "swagger-ui/swagger-ui.css",
    "swagger-ui/favicon-32x32.png",
    "swagger-ui/oauth2-redirect.js",
    "swagger-ui/LICENSE",
    "swagger-ui/NOTICE",
    "redoc/redoc.standalone.js",
    "redoc/LICENSE",
}

router = APIRouter(include_in_schema=False)


#: Remote URLs inside the vendored bundles, replaced as they are served (the files stay
#: as the packages ship them): ReDoc's "API docs by Redocly" logo, an empty image here.
_OFFLINE = {
    "redoc/redoc.standalone.js": [
        (
            b"https://cdn.redoc.ly/redoc/logo-mini.svg",
            b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E",
        )
    ]
}


@lru_cache(maxsize=16)
def _read(path: str) -> bytes:
    folder, name = path.split("/", 1)
    data = resources.files("narvik.service.api").joinpath("static", folder, name).read_bytes()
    for remote, local in _OFFLINE.get(path, []):
        data = data.replace(remote, local)
    return data


def _swagger_page(title: str, openapi_url: str) -> str:
    config = json.dumps(
        {
            "url": openapi_url,
            "dom_id": "#swagger-ui",
            "layout": "BaseLayout",
            "deepLinking": True,
            "showExtensions": True,
            "showCommonExtensions": True,
            "oauth2RedirectUrl": "/docs/oauth2-redirect",
            "persistAuthorization": True,
        }
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - Swagger UI</title>
<link rel="stylesheet" href="{STATIC}/swagger-ui/swagger-ui.css">
<link rel="icon" type="image/png" href="{STATIC}/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC}/swagger-ui/swagger-ui-bundle.js"></script>
<script>
const ui = SwaggerUIBundle(Object.assign({config}, {{
  presets: [SwaggerUIBundle.presets.apis]
}}));
</script>
</body>
</html>
"""


def _redoc_page(title: str, openapi_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<redoc spec-url="{html.escape(openapi_url)}"></redoc>
<script src="{STATIC}/redoc/redoc.standalone.js"></script>
</body>
</html>
"""


_REDIRECT = f"""<!doctype html>
<html lang="en"><head><title>Swagger UI: OAuth2 Redirect</title></head>
<body><script src="{STATIC}/swagger-ui/oauth2-redirect.js"></script></body></html>
"""


@router.get(STATIC + "/{folder}/{name}")
def static_file(folder: str, name: str) -> Response:
    path = f"{folder}/{name}"
    if path not in FILES:
        raise HTTPException(404, "not found")
    kind = next((t for ext, t in _TYPES.items() if name.endswith(ext)), "text/plain")
    return Response(_read(path), media_type=kind, headers={"Cache-Control": "max-age=86400"})


def install(app: FastAPI) -> None:
    """Replace FastAPI's CDN pages at ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc``."""
    title, openapi_url = app.title, app.openapi_url or "/openapi.json"
    ours = {"/docs", "/docs/oauth2-redirect", "/redoc"}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in ours]
    swagger, redoc = _swagger_page(title, openapi_url), _redoc_page(title, openapi_url)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(swagger)

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return HTMLResponse(_REDIRECT)

    @app.get("/redoc", include_in_schema=False)
    def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc)

    app.include_router(router)
