"""Every error answer as an RFC 9457 problem (``application/problem+json``).

A problem has a ``type`` (a URI naming the kind of problem, or ``about:blank``), a
``title`` (the status's phrase), the ``status``, a ``detail`` sentence ("field:
message" when one field is at fault) and the ``field``. Requests that do not fit the
schema also list every fault in ``errors`` (``field``, a JSON ``pointer`` into the body
for body fields, ``message``). An unexpected exception is logged and answered 500
without its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from narvik.service.api.errors import ApiError

log = logging.getLogger("narvik.service.api")

MEDIA_TYPE = "application/problem+json"
BASE = "https://narvik.dev/problems/"
#: The kind of problem of each status narvik's own errors answer with.
KINDS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-large",
    422: "invalid",
    429: "rate-limited",
    431: "headers-too-large",
    500: "internal",
}
VALIDATION = BASE + "validation"


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def title_of(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def type_of(status: int) -> str:
    kind = KINDS.get(status)
    return BASE + kind if kind else "about:blank"


def problem(
    status: int,
    detail: str,
    *,
    type_: str | None = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": type_ or type_of(status),
        "title": title_of(status),
        "status": status,
        "detail": detail,
        "field": field,
        **extra,
    }
    return ProblemResponse(body, status_code=status, headers=headers)


def _text(value: object) -> str:
    """Text safe to put in a JSON answer: no lone surrogates (shown as U+FFFD)."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors as problem ``errors``: where (``loc``, ``field``, ``pointer``
    for body fields) and what (``message``, ``type``)."""
    out = []
    for err in errors:
        loc = [p if isinstance(p, int) else _text(p) for p in err.get("loc", ())]
        where, path = (loc[0], loc[1:]) if loc else ("body", [])
        if err.get("type") == "json_invalid":
            path = []  # the position in the text, not a field: the body is at fault
        field = ".".join(str(p) for p in path) or str(where)
        entry: dict[str, Any] = {
            "field": field,
            "in": where,
            "message": _text(err.get("msg", "invalid")),
            "type": _text(err.get("type", "value_error")),
            "loc": loc,
        }
        if where == "body":
            escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in path)
            entry["pointer"] = "#/" + "/".join(escaped) if path else "#"
        out.append(entry)
    return out


async def _api_error(_request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    detail = exc.body()["detail"] or exc.message
    return problem(exc.status, _text(detail), field=exc.field, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    if not errors:
        return problem(422, "the request is invalid", type_=VALIDATION)
    first = errors[0]
    msg = first["message"].removeprefix("Value error, ")
    # A model check that names its field itself ("end: ...") keeps that name.
    if ": " in msg and first["field"] in ("body", ""):
        name, _, rest = msg.partition(": ")
        field, detail = name, f"{name}: {rest}"
    else:
        field, detail = first["field"], f"{first['field']}: {msg}"
    return problem(422, detail, type_=VALIDATION, field=field, errors=errors)


async def _http_error(_request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else title_of(status)
    headers = dict(exc.headers) if exc.headers else None
    field = "body" if status == 413 else None
    return problem(status, _text(detail), type_="about:blank", field=field, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(500, "the server failed to answer; the error is logged")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem and say so in its OpenAPI document."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.openapi = _problem_openapi(app, app.openapi)  # type: ignore[method-assign]
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: _TooLargeAsProblem(build())  # type: ignore[method-assign]


class _TooLargeAsProblem:
    """Starlette's body limit answers a body announced too large in plain text, outside
    every exception handler: say it as a problem too."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replacing = False

        async def send_problem(message: Any) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 413:
                types = [v for k, v in message.get("headers", ()) if k.lower() == b"content-type"]
                if types and types[0].startswith(b"text/plain"):
                    replacing = True
                    body = problem(413, "the request body is too large", field="body").body
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 413,
                            "headers": [
                                (b"content-type", MEDIA_TYPE.encode()),
                                (b"content-length", str(len(body)).encode()),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
            if replacing:
                return  # the plain-text body
            await send(message)

        await self.app(scope, receive, send_problem)


def _problem_openapi(app: FastAPI, generate: Callable[[], dict[str, Any]]) -> Any:
    """The OpenAPI document with every 4xx/5xx answer as ``application/problem+json``
    (FastAPI documents a response model under ``application/json`` only)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        for item in doc.get("paths", {}).values():
            for op in item.values():
                if not isinstance(op, dict):
                    continue
                for code, resp in op.get("responses", {}).items():
                    if str(code)[0] not in "45" or "content" not in resp:
                        continue
                    content = resp["content"]
                    schema = content.pop("application/json", None)
                    if schema is not None:
                        ref = schema.get("schema", {}).get("$ref", "")
                        if ref.endswith("/HTTPValidationError"):
                            schema = {"schema": {"$ref": "#/components/schemas/ProblemOut"}}
                        content.setdefault(MEDIA_TYPE, schema)
        app.openapi_schema = doc
        return doc

    return openapi
