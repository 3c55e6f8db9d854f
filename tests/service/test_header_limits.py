"""Header blocks past ``max_header_bytes`` or ``max_headers`` get 431 from a real
``narvik serve`` as they arrive: a 64 MB header does not stall the server.

The limits are enforced in uvicorn's HTTP protocol (narvik.service.http_limits), so
these tests drive a real server process over raw sockets. The database plays no part
(SQLite only).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from tests.service.conftest import OPERATOR, SCENARIO

from narvik.service.launch import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("headers")
    args = ["--db", f"sqlite:///{tmp / 'narvik.db'}", "--scenario", SCENARIO]
    env = {"NARVIK_OPERATOR_TOKEN": OPERATOR, "NARVIK_TOKEN_FILE": str(tmp / "op.token")}
    with ServerProcess(args, cwd=tmp, env=env) as srv:
        yield srv


def _connect(srv: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=10)


def _read_answer(s: socket.socket, timeout_s: float = 5.0) -> bytes:
    """Everything the server sends until it closes (or the answer is complete)."""
    s.settimeout(timeout_s)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep and b"content-length:" in head.lower():
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= length:
                break
    return data


def _status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _healthz_s(srv: ServerProcess) -> float:
    t0 = time.monotonic()
    with urllib.request.urlopen(f"{srv.url}/healthz", timeout=5) as r:
        assert r.status == 200
    return time.monotonic() - t0


def test_a_64_mb_header_gets_431_and_does_not_stall_the_server(server: ServerProcess) -> None:
    total = 64 * 1024 * 1024
    piece = b"a" * 65536
    result: dict[str, object] = {}

    def send_huge() -> None:
        s = _connect(server)
        sent = 0
        t0 = time.monotonic()
        try:
            s.sendall(b"GET /api/v1/fleet HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
            while sent < total:
                s.sendall(piece)
                sent += len(piece)
                readable, _, _ = select.select([s], [], [], 0)
                if readable:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        result["answer"] = _read_answer(s)
        result["sent"] = sent
        result["seconds"] = time.monotonic() - t0
        s.close()

    sender = threading.Thread(target=send_huge)
    sender.start()
    waits = []
    while sender.is_alive() and len(waits) < 50:
        waits.append(_healthz_s(server))
    sender.join(timeout=30)
    assert not sender.is_alive()
    waits.append(_healthz_s(server))
    assert max(waits) < 1.0, waits
    answer = result["answer"]
    assert isinstance(answer, bytes)
    status, body = _status_and_body(answer)
    assert status == 431, answer[:300]
    problem = json.loads(body)
    assert problem["status"] == 431 and problem["field"] == "headers", problem
    assert result["sent"] < total // 4, result["sent"]  # refused early, not read through
    assert result["seconds"] < 10, result["seconds"]


def test_too_large_header_block_sent_at_once(server: ServerProcess) -> None:
    with _connect(server) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n")
        status, body = _status_and_body(_read_answer(s))
    assert status == 431
    assert json.loads(body)["type"] == "https://narvik.dev/problems/headers-too-large"


def test_too_many_headers_get_431(server: ServerProcess) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
    with _connect(server) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        status, body = _status_and_body(_read_answer(s))
    assert status == 431, body
    assert "100 headers" in json.loads(body)["detail"]


def test_requests_within_the_limits_are_served(server: ServerProcess) -> None:
    """90 headers and 12 KB of them pass; a large body on a kept-alive connection is not
    counted as header bytes, and the next request on it is served."""
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 120) for i in range(88))
    with _connect(server) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        status, _ = _status_and_body(_read_answer(s))
        assert status == 200
        body = json.dumps({"gpus": 1, "runtime_s": 60, "name": "n" * 150}).encode()
        body = body + b" " * (60_000 - len(body))
        auth = b"Authorization: Bearer " + OPERATOR.encode() + b"\r\n"
        s.sendall(
            b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        for i in range(0, len(body), 4096):
            s.sendall(body[i : i + 4096])
            time.sleep(0.001)
        status, answer = _status_and_body(_read_answer(s))
        assert status in (201, 422), answer  # an operator job names no tenant: 422 is fine
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _ = _status_and_body(_read_answer(s))
        assert status == 200


def test_a_header_block_ending_in_a_later_piece_is_served(server: ServerProcess) -> None:
    with _connect(server) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ")
        for _ in range(10):
            s.sendall(b"c" * 1000)
            time.sleep(0.01)
        s.sendall(b"\r\n\r\n")
        status, _ = _status_and_body(_read_answer(s))
    assert status == 200
