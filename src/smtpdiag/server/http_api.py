"""A small HTTP JSON API to steer a running `smtpdiag serve` (loopback by default).

    GET    /rules              the fault rules, with counters
    POST   /rules              add one rule (JSON object) or several (JSON array) -> {"ids": [...]}
    PUT    /rules              replace all rules with the JSON array given
    DELETE /rules              remove all rules
    DELETE /rules/{id}         remove one rule
    GET    /scenarios          the named scenarios
    POST   /scenario/{name}    replace the rules with the scenario's
    GET    /messages           the stored messages (summaries; ?limit=N, default 100)
    GET    /messages/{id}      one message: summary plus "data" (the raw message, UTF-8 with replacement)
    GET    /messages/{id}/raw  the raw message as message/rfc822
    DELETE /messages           delete all stored messages
    GET    /sessions           recent session transcripts (?limit=N, default 50)
    GET    /status             settings (passwords masked) and counters
    GET    /health             {"status": "ok"}

Plain asyncio streams: one request per connection (Connection: close), bounded request line,
headers and body, a timeout for the whole request; every error is a JSON body
`{"error": "..."}` with a 4xx/5xx status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Final, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from smtpdiag.server.faults import MAX_RULES, FaultEngine, FaultRule, FaultRuleError
from smtpdiag.server.scenarios import SCENARIOS, get_scenario
from smtpdiag.server.storage import MessageStore
from smtpdiag.server.transcript import TranscriptLog

# Limits
MAX_REQUEST_LINE: Final = 4096
MAX_HEADERS: Final = 64
MAX_HEADER_BYTES: Final = 16 * 1024
MAX_BODY: Final = 256 * 1024
REQUEST_TIMEOUT: Final = 10.0
MAX_CONNECTIONS: Final = 64

_REASONS: Final = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Controlled(Protocol):
    """What the API steers: the running server's rule engine, message store and transcripts."""

    @property
    def faults(self) -> FaultEngine: ...

    @property
    def store(self) -> MessageStore: ...

    @property
    def transcripts(self) -> TranscriptLog: ...

    def status(self) -> dict[str, Any]:
        """Settings (passwords masked) and counters, for GET /status."""
        ...


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HttpApi:
    """Serve the API for `target` on host:port. `await start()`, then `await close()`."""

    def __init__(self, target: Controlled, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.target = target
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, limit=MAX_HEADER_BYTES)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._slots.locked():
            await self._send(writer, 503, {"error": "too many connections"})
            writer.close()
            return
        async with self._slots:
            try:
                try:
                    method, target, body = await asyncio.wait_for(self._read_request(reader), REQUEST_TIMEOUT)
                    status, payload = self.dispatch(method, target, body)
                except HttpError as exc:
                    status, payload = exc.status, {"error": exc.message}
                except TimeoutError:
                    status, payload = 408, {"error": "request not received in time"}
                except (ConnectionError, asyncio.IncompleteReadError):
                    return
                except Exception as exc:  # a bug or an I/O error: say so, keep serving
                    status, payload = 500, {"error": f"internal error: {type(exc).__name__}: {exc}"[:500]}
                await self._send(writer, status, payload)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _read_request(self, reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise HttpError(431, "request line too long") from None
        if len(line) > MAX_REQUEST_LINE:
            raise HttpError(431, "request line too long")
        parts = line.decode("latin-1").strip().split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise HttpError(400, "malformed request line")
        method, target = parts[0].upper(), parts[1]
        headers: dict[str, str] = {}
        total = 0
        while True:
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                raise HttpError(431, "header line too long") from None
            total += len(raw)
            if total > MAX_HEADER_BYTES or len(headers) >= MAX_HEADERS:
                raise HttpError(431, "request headers too large")
            text = raw.decode("latin-1").strip()
            if not text:
                break
            name, sep, value = text.partition(":")
            if not sep:
                raise HttpError(400, "malformed header line")
            headers[name.strip().lower()] = value.strip()
        if "transfer-encoding" in headers:
            raise HttpError(411, "chunked bodies are not accepted; send Content-Length")
        body = b""
        length_text = headers.get("content-length")
        if length_text is not None:
            if not length_text.isdigit() or len(length_text) > 9:
                raise HttpError(400, "bad Content-Length")
            length = int(length_text)
            if length > MAX_BODY:
                raise HttpError(413, f"body larger than {MAX_BODY} bytes")
            body = await reader.readexactly(length)
        elif method in ("POST", "PUT"):
            body = b""
        return method, target, body

    async def _send(self, writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
        if isinstance(payload, RawBody):
            data, ctype = payload.data, payload.content_type
        else:
            data = (json.dumps(payload, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
            ctype = "application/json; charset=utf-8"
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\nCache-Control: no-store\r\n\r\n"
        ).encode("latin-1")
        with contextlib.suppress(ConnectionError):
            writer.write(head + data)
            await writer.drain()

    # --- routing (synchronous, testable without sockets) ------------------------------------------

    def dispatch(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        url = urlsplit(target)
        path = [unquote(p) for p in url.path.strip("/").split("/") if p]
        query = parse_qs(url.query, max_num_fields=10)
        t = self.target
        if path == ["health"] and method == "GET":
            return 200, {"status": "ok"}
        if path == ["status"] and method == "GET":
            return 200, t.status()
        if path[:1] == ["rules"]:
            if len(path) == 1:
                if method == "GET":
                    return 200, {"rules": t.faults.rules()}
                if method == "POST":
                    data = _json(body)
                    items = data if isinstance(data, list) else [data]
                    if len(t.faults) + len(items) > MAX_RULES:
                        raise HttpError(400, f"too many rules (limit {MAX_RULES})")
                    try:
                        for item in items:
                            FaultRule.from_dict(item)  # validate all before adding any
                        ids = [t.faults.add(item) for item in items]
                    except (FaultRuleError, TypeError) as exc:
                        raise HttpError(400, str(exc)) from None
                    return 201, {"ids": ids}
                if method == "PUT":
                    data = _json(body)
                    if not isinstance(data, list):
                        raise HttpError(400, "PUT /rules takes a JSON array of rules")
                    try:
                        ids = t.faults.replace_all(data)
                    except (FaultRuleError, TypeError) as exc:
                        raise HttpError(400, str(exc)) from None
                    return 200, {"ids": ids}
                if method == "DELETE":
                    t.faults.clear()
                    return 200, {"deleted": "all"}
                raise HttpError(405, f"{method} not allowed on /rules")
            if len(path) == 2 and method == "DELETE":
                if not path[1].isdigit() or len(path[1]) > 9:
                    raise HttpError(400, "rule id must be a number")
                if not t.faults.remove(int(path[1])):
                    raise HttpError(404, f"no rule {path[1]}")
                return 200, {"deleted": int(path[1])}
            raise HttpError(405 if len(path) == 2 else 404, "use DELETE /rules/{id}")
        if path == ["scenarios"] and method == "GET":
            return 200, {"scenarios": [s.to_dict() for s in SCENARIOS.values()]}
        if len(path) == 2 and path[0] == "scenario":
            if method != "POST":
                raise HttpError(405, "use POST /scenario/{name}")
            try:
                scenario = get_scenario(path[1])
            except KeyError as exc:
                raise HttpError(404, str(exc.args[0])) from None
            ids = t.faults.replace_all(scenario.rules)
            return 200, {"scenario": scenario.name, "ids": ids}
        if path[:1] == ["messages"]:
            if len(path) == 1:
                if method == "GET":
                    limit = _int_param(query, "limit", 100)
                    msgs = t.store.list(limit)
                    return 200, {"count": t.store.count(), "messages": [m.summary() for m in msgs]}
                if method == "DELETE":
                    return 200, {"deleted": t.store.clear()}
                raise HttpError(405, f"{method} not allowed on /messages")
            if method != "GET" or len(path) > 3 or (len(path) == 3 and path[2] != "raw"):
                raise HttpError(405 if len(path) <= 3 else 404, "use GET /messages/{id}[/raw]")
            msg = t.store.get(path[1])
            if msg is None or msg.data is None:
                raise HttpError(404, f"no message {path[1]}")
            if len(path) == 3:
                return 200, RawBody(msg.data, "message/rfc822")
            return 200, {**msg.summary(), "data": msg.data.decode("utf-8", "replace")}
        if path == ["sessions"] and method == "GET":
            return 200, {"sessions": t.transcripts.sessions(_int_param(query, "limit", 50))}
        raise HttpError(404, f"no such resource: {method} {url.path}")


class RawBody:
    __slots__ = ("content_type", "data")

    def __init__(self, data: bytes, content_type: str) -> None:
        self.data = data
        self.content_type = content_type


def _json(body: bytes) -> Any:
    if not body:
        raise HttpError(400, "a JSON body is required")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HttpError(400, f"body is not valid JSON: {exc}") from None


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    value = values[0]
    if not value.isdigit() or len(value) > 6:
        raise HttpError(400, f"{name} must be a non-negative integer")
    return int(value)
