"""Limits on a request's header block, enforced where uvicorn parses HTTP.

uvicorn hands the app a request only once its headers are complete, and its parser
(httptools) buffers a header of any size: a client sending a 64 MB ``Authorization``
header in pieces would hold memory and parsing time. :func:`limited_protocol` gives
uvicorn's httptools protocol with two limits: the bytes received before the headers
end (``max_header_bytes``: request line and headers) and the number of headers
(``max_headers``). Past either it answers ``431 Request Header Fields Too Large`` (an
RFC 9457 problem), stops reading the request and closes the connection.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Wall seconds a refused connection is kept open, its input discarded, so the client
#: reads the 431 (closing with unread input would reset the connection at once).
LINGER_S = 1.0


def _answer_431(detail: str, field: str) -> bytes:
    body = json.dumps(
        {
            "type": "https://narvik.dev/problems/headers-too-large",
            "title": "Request Header Fields Too Large",
            "status": 431,
            "detail": f"{field}: {detail}",
            "field": field,
        }
    ).encode()
    head = (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/problem+json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n"
    )
    return head + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that refuses header blocks too large or too many."""

    max_header_bytes = 16 * 1024
    max_headers = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the next bytes are a request line and headers
        self._head_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # discarded until the connection closes
        if self._in_head:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except _RefusedError as exc:
            self._refuse(str(exc))
            return
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, _RefusedError):
                self._refuse(str(cause))
                return
            self._bad_request()
            return
        except httptools.HttpParserError:
            self._bad_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head and self._head_bytes > self.max_header_bytes:
            self._refuse(self._too_large())

    def _bad_request(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    def _too_large(self) -> str:
        return f"the header block is limited to {self.max_header_bytes} bytes"

    def _refuse(self, detail: str) -> None:
        self._refused = True
        self.transport.write(_answer_431(detail, "headers"))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            asyncio.get_running_loop().call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()

    def on_message_begin(self) -> None:
        self._in_head = True
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self.max_headers:
            raise _RefusedError(f"at most {self.max_headers} headers")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # A head that came whole in one piece: its size from what was parsed.
        size = len(self.url) + 16 + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self.max_header_bytes:
            raise _RefusedError(self._too_large())
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True  # the connection's next bytes are the next request's head
        super().on_message_complete()


class _RefusedError(Exception):
    """The head breaks a limit (the message says which)."""


def limited_protocol(max_header_bytes: int, max_headers: int) -> type[asyncio.Protocol]:
    """The protocol class to give ``uvicorn.run(http=...)``."""
    return type(
        "NarvikHttpProtocol",
        (LimitedHttpToolsProtocol,),
        {"max_header_bytes": max_header_bytes, "max_headers": max_headers},
    )
