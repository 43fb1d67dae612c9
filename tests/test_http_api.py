"""The HTTP JSON control API, over a real loopback socket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from smtpdiag.server.faults import FaultEngine
from smtpdiag.server.http_api import MAX_BODY, HttpApi
from smtpdiag.server.scenarios import SCENARIOS
from smtpdiag.server.storage import MemoryStore
from smtpdiag.server.transcript import TranscriptLog


@dataclass
class Target:
    faults: FaultEngine = field(default_factory=FaultEngine)
    store: MemoryStore = field(default_factory=MemoryStore)
    transcripts: TranscriptLog = field(default_factory=TranscriptLog)

    def status(self) -> dict[str, Any]:
        return {"rules": len(self.faults)}


async def request(
    port: int, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}\r\n\r\n"
    writer.write(head.encode() + payload)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    status_line, _, rest = data.partition(b"\r\n")
    headers, _, content = rest.partition(b"\r\n\r\n")
    status = int(status_line.split()[1])
    if b"application/json" in headers:
        return status, json.loads(content)
    return status, content


@pytest.fixture
async def api() -> Any:
    target = Target()
    server = HttpApi(target, "127.0.0.1", 0)
    await server.start()
    yield server, target
    await server.close()


async def test_rules_crud(api: Any) -> None:
    server, target = api
    status, body = await request(server.port, "POST", "/rules", {"stage": "rcpt", "code": 550})
    assert status == 201 and len(body["ids"]) == 1
    status, body = await request(
        server.port, "POST", "/rules", [{"stage": "mail", "code": 451}, {"stage": "connect", "code": 421}]
    )
    assert status == 201 and len(body["ids"]) == 2
    status, body = await request(server.port, "GET", "/rules")
    assert status == 200 and [r["stage"] for r in body["rules"]] == ["rcpt", "mail", "connect"]
    first = body["rules"][0]["id"]
    assert (await request(server.port, "DELETE", f"/rules/{first}"))[0] == 200
    assert (await request(server.port, "DELETE", f"/rules/{first}"))[0] == 404
    assert len(target.faults) == 2
    status, body = await request(server.port, "PUT", "/rules", [{"stage": "rcpt", "code": 452}])
    assert status == 200 and len(target.faults) == 1
    assert (await request(server.port, "DELETE", "/rules"))[0] == 200
    assert len(target.faults) == 0


async def test_bad_rules_are_400_with_reason_and_change_nothing(api: Any) -> None:
    server, target = api
    status, body = await request(
        server.port, "POST", "/rules", [{"stage": "rcpt", "code": 550}, {"stage": "rcpt", "code": 9}]
    )
    assert status == 400 and "code" in body["error"]
    assert len(target.faults) == 0
    status, body = await request(server.port, "POST", "/rules", raw=b"{not json")
    assert status == 400 and "JSON" in body["error"]
    status, body = await request(server.port, "POST", "/rules")
    assert status == 400
    status, body = await request(server.port, "DELETE", "/rules/abc")
    assert status == 400


async def test_scenarios(api: Any) -> None:
    server, target = api
    status, body = await request(server.port, "GET", "/scenarios")
    assert status == 200 and {s["name"] for s in body["scenarios"]} == set(SCENARIOS)
    status, body = await request(server.port, "POST", "/scenario/mailbox-full")
    assert status == 200 and body["scenario"] == "mailbox-full"
    assert target.faults.rules()[0]["code"] == 452
    status, body = await request(server.port, "POST", "/scenario/nope")
    assert status == 404 and "known" in body["error"]
    assert (await request(server.port, "GET", "/scenario/mailbox-full"))[0] == 405


async def test_messages(api: Any) -> None:
    server, target = api
    writer = target.store.begin("a@x.test", ["b@y.test"])
    writer.write(b"Subject: hi\r\n\r\nhello\r\n")
    msg = writer.commit()
    status, body = await request(server.port, "GET", "/messages")
    assert status == 200 and body["count"] == 1
    assert body["messages"][0]["subject"] == "hi" and body["messages"][0]["recipients"] == ["b@y.test"]
    status, body = await request(server.port, "GET", f"/messages/{msg.id}")
    assert status == 200 and body["data"].endswith("hello\r\n")
    status, raw = await request(server.port, "GET", f"/messages/{msg.id}/raw")
    assert status == 200 and raw.endswith(b"hello\r\n")
    assert (await request(server.port, "GET", "/messages/unknown"))[0] == 404
    assert (await request(server.port, "GET", "/messages?limit=x"))[0] == 400
    status, body = await request(server.port, "DELETE", "/messages")
    assert status == 200 and body["deleted"] == 1 and target.store.count() == 0


async def test_sessions(api: Any) -> None:
    server, target = api
    t = target.transcripts.open("s1", client="127.0.0.1:5000")
    t.command("EHLO x")
    t.reply(b"250 ok")
    t.close()
    status, body = await request(server.port, "GET", "/sessions")
    assert status == 200 and body["sessions"][0]["id"] == "s1"
    assert [e["dir"] for e in body["sessions"][0]["entries"]] == ["event", "c", "s", "event"]


async def test_errors_and_limits(api: Any) -> None:
    server, _ = api
    assert (await request(server.port, "GET", "/nothing"))[0] == 404
    status, body = await request(server.port, "PATCH", "/rules", {"stage": "rcpt", "code": 550})
    assert status == 405
    # oversized body: refused by its Content-Length, before it is read
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"POST /rules HTTP/1.1\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    assert data.startswith(b"HTTP/1.1 413")
    writer.close()
    # malformed request line
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"hello\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    assert data.startswith(b"HTTP/1.1 400") and b"error" in data
    writer.close()
    # header line longer than the stream limit
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /rules HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    assert data.startswith(b"HTTP/1.1 431")
    writer.close()
    status, body = await request(server.port, "GET", "/health")
    assert status == 200 and body == {"status": "ok"}
