"""``GET /api/v1/events/stream`` against a real ``narvik serve`` on both databases.

A tenant opens the stream (httpx, streaming), submits a job and sees it go
queued -> running; another tenant's job never shows; a fleet summary comes at once;
every batch carries an ``id:``; after a reconnect with ``Last-Event-ID`` the stream
resumes (the cancel made while it was away arrives); the server stops promptly with a
stream open.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.service.conftest import SCENARIO

from narvik.service.api.events_stream import Cursor
from narvik.service.launch import ServerProcess

pytestmark = pytest.mark.slow

OPERATOR = "operator-stream-secret"
A, B = "sigma2", "no-startups"


@dataclass
class Message:
    event: str = "message"
    data: Any = None
    id: str | None = None


@dataclass
class Reader:
    """SSE messages of one streaming response, read up to a deadline."""

    lines: Iterator[str]
    seen: list[Message] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    last_id: str | None = None

    def next(self) -> Message:
        msg = Message()
        data: list[str] = []
        for line in self.lines:
            if line == "":
                if data or msg.id is not None:
                    msg.data = json.loads("\n".join(data)) if data else None
                    self.seen.append(msg)
                    return msg
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                msg.id = self.last_id = value
            elif name == "event":
                msg.event = value
            elif name == "data":
                data.append(value)
        raise EOFError("the stream ended")

    def until(self, pred: Any, timeout_s: float = 30.0) -> Message:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = self.next()
            if pred(m):
                return m
        raise AssertionError(f"not seen in {timeout_s} s: {[(m.event, m.data) for m in self.seen]}")


def start_server(db: str, tmp: Path) -> ServerProcess:
    args = ["--db", db, "--scenario", SCENARIO, "--clock-speed", "60"]
    args += ["--clock-start", "2027-01-01T12:00:00", "--pass-interval-s", "0.1"]
    env = {"NARVIK_OPERATOR_TOKEN": OPERATOR, "NARVIK_TOKEN_FILE": str(tmp / "op.token")}
    return ServerProcess(args, cwd=tmp, env=env).start()


def token(client: httpx.Client, tenant: str) -> dict[str, str]:
    r = client.post("/api/v1/tokens", json={"role": "tenant", "tenant": tenant})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_stream_jobs_events_fleet_resume_and_shutdown(db_url: str, tmp_path: Path) -> None:
    server = start_server(db_url.replace("+psycopg", ""), tmp_path)
    try:
        op = {"Authorization": f"Bearer {OPERATOR}"}
        with httpx.Client(base_url=server.url, headers=op, timeout=30) as client:
            ha, hb = token(client, A), token(client, B)
            timeout = httpx.Timeout(30, read=20)
            with client.stream("GET", "/api/v1/events/stream", headers=ha, timeout=timeout) as r:
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
                sse = Reader(r.iter_lines())
                fleet = sse.until(lambda m: m.event == "fleet")
                assert fleet.data["gpus"] == 64 and "busy_gpus" in fleet.data
                mine = client.post("/api/v1/jobs", json={"gpus": 4, "runtime_s": 7200}, headers=ha)
                other = client.post("/api/v1/jobs", json={"gpus": 2, "runtime_s": 60}, headers=hb)
                assert mine.status_code == other.status_code == 201
                job, their = mine.json()["id"], other.json()["id"]
                queued = sse.until(lambda m: m.event == "job" and m.data["to"] == "queued")
                assert queued.data["job"] == job and queued.data["from"] is None
                running = sse.until(lambda m: m.event == "job" and m.data["to"] == "running")
                assert running.data == {**running.data, "job": job, "from": "queued", "gpus": 4}
                assert sse.last_id is not None and Cursor.parse(sse.last_id) is not None
                # a later fleet summary counts its running job
                later = sse.until(lambda m: m.event == "fleet", timeout_s=15)
                assert later.data["running_jobs"] == 1 and later.data["queued_jobs"] == 0
                resume_from = sse.last_id
                seen_jobs = {m.data["job"] for m in sse.seen if m.event == "job"}
                assert their not in seen_jobs
                tenants = {m.data["tenant"] for m in sse.seen if m.event == "event"}
                assert tenants <= {None, A}, tenants
            # away: cancel the job; then resume from the last id
            assert client.delete(f"/api/v1/jobs/{job}", headers=ha).status_code == 200
            deadline = time.monotonic() + 20
            while client.get(f"/api/v1/jobs/{job}", headers=ha).json()["state"] != "cancelled":
                assert time.monotonic() < deadline, "the cancel was not carried out"
                time.sleep(0.1)
            back = {**ha, "Last-Event-ID": resume_from}
            with client.stream("GET", "/api/v1/events/stream", headers=back, timeout=timeout) as r:
                sse = Reader(r.iter_lines())
                ended = sse.until(lambda m: m.event == "job" and m.data["to"] == "cancelled")
                assert ended.data["job"] == job and ended.data["from"] == "running"
                # nothing from before the cursor (it lags the clock by the commit lag, so
                # transitions just before it may come again: at least once)
                cursor = Cursor.parse(resume_from)
                assert cursor is not None
                for m in sse.seen:
                    if m.event == "job":
                        at = datetime.datetime.fromisoformat(m.data["at"]).timestamp()
                        assert at > cursor.t_s, (m, cursor)
                    if m.event == "event":
                        assert m.data["id"] > cursor.event_id, (m, cursor)
            # operators see every tenant's jobs
            with client.stream("GET", "/api/v1/events/stream", timeout=timeout) as r:
                sse = Reader(r.iter_lines())
                sse.until(lambda m: m.event == "fleet")
                third = client.post(
                    "/api/v1/jobs", json={"gpus": 1, "runtime_s": 60, "tenant": B}
                ).json()["id"]
                sse.until(lambda m: m.event == "job" and m.data["job"] == third)
            # the client went away: the server still answers; a stream is refused without
            # a token
            assert client.get("/healthz").status_code == 200
            bare = httpx.get(f"{server.url}/api/v1/events/stream", timeout=10)
            assert bare.status_code == 401
            # shutdown with a stream open: the stream ends and the server exits promptly
            with client.stream("GET", "/api/v1/events/stream", headers=hb, timeout=timeout) as r:
                sse = Reader(r.iter_lines())
                sse.until(lambda m: m.event == "fleet")
                t0 = time.monotonic()
                assert server.proc is not None
                server.proc.terminate()
                server.proc.wait(timeout=15)
                assert time.monotonic() - t0 < 10
                with pytest.raises((EOFError, httpx.HTTPError)):
                    while True:
                        sse.next()
    finally:
        server.stop()
