"""Per-session transcripts: every command and reply, with timestamps, as JSON lines.

One line per event: `{"t": 1732810000.123, "dir": "c"|"s"|"event", "line": "..."}` (`c` = from the
client, `s` = the server's reply, `event` = something that happened: connect, tls, message stored,
fault fired, close). The first line of a session names the session, client and server addresses.

AUTH secrets never reach a transcript: the initial response of `AUTH PLAIN xxx` / `AUTH LOGIN xxx`
and every client line of a SASL exchange (between the AUTH command and the server's final reply)
are written as "***". Message data is not written, only its size.

Transcripts are kept in a bounded ring in memory (for GET /sessions) and, when a directory is
configured, written to `<dir>/<session id>.jsonl` through a buffered file.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any, Final

# Limits
MAX_LINE_CHARS: Final = 1024  # a logged line is cut to this length
MAX_ENTRIES_PER_SESSION: Final = 2000  # in memory; later entries go to the file only
MAX_SESSIONS_KEPT: Final = 200  # recent sessions kept in memory

REDACTED: Final = "***"


class Transcript:
    """The transcript of one session.

    Entries are kept as tuples (time, direction, line or reply bytes, details) and turned into
    dictionaries only when asked for: recording stays cheap on the hot path.
    """

    __slots__ = ("_file", "_in_sasl", "closed", "entries", "info", "session_id")

    def __init__(self, session_id: str, info: dict[str, Any], file: IO[str] | None) -> None:
        self.session_id = session_id
        self.info = info
        self.entries: list[tuple[float, str, str | bytes, dict[str, Any] | None]] = []
        self._file = file
        self._in_sasl = False
        self.closed = False
        self._emit("event", "connect", info)

    def _emit(self, direction: str, line: str | bytes, details: dict[str, Any] | None = None) -> None:
        entry = (time.time(), direction, line, details)
        if len(self.entries) < MAX_ENTRIES_PER_SESSION:
            self.entries.append(entry)
        if self._file is not None:
            try:
                self._file.write(json.dumps(_as_dict(entry), ensure_ascii=False) + "\n")
            except (OSError, ValueError):
                self._file = None

    def command(self, line: str) -> None:
        """A line from the client (without CRLF)."""
        self._emit("c", self._redact(line)[:MAX_LINE_CHARS])

    def reply(self, data: bytes) -> None:
        """A reply as sent by the server (possibly multi-line, CRLF-separated)."""
        if self._in_sasl and data[:3] != b"334":
            self._in_sasl = False
        self._emit("s", data[: MAX_LINE_CHARS + 2])

    def event(self, what: str, **details: Any) -> None:
        self._emit("event", what[:MAX_LINE_CHARS], details or None)

    def _redact(self, line: str) -> str:
        if self._in_sasl:
            return REDACTED
        head = line[:5].upper()
        if head == "AUTH " or head == "AUTH":
            parts = line.split()
            self._in_sasl = True
            if len(parts) >= 3:
                return f"{parts[0]} {parts[1]} {REDACTED}"
            return line
        return line

    def close(self) -> None:
        if self.closed:
            return
        self.event("close")
        self.closed = True
        if self._file is not None:
            with contextlib.suppress(OSError, ValueError):
                self._file.close()
            self._file = None

    def to_dict(self) -> dict[str, Any]:
        entries = [_as_dict(e) for e in list(self.entries)]
        return {"id": self.session_id, **self.info, "closed": self.closed, "entries": entries}


def _as_dict(entry: tuple[float, str, str | bytes, dict[str, Any] | None]) -> dict[str, Any]:
    t, direction, line, details = entry
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace").rstrip("\r\n")[:MAX_LINE_CHARS]
    out: dict[str, Any] = {"t": t, "dir": direction, "line": line}
    if details:
        out.update(details)
    return out


class TranscriptLog:
    """Creates transcripts and keeps the most recent ones (thread-safe)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, keep: int = MAX_SESSIONS_KEPT):
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._sessions: OrderedDict[str, Transcript] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, session_id: str, **info: Any) -> Transcript:
        file: IO[str] | None = None
        if self.directory is not None:
            try:
                file = open(self.directory / f"{session_id}.jsonl", "w", encoding="utf-8", buffering=16384)  # noqa: SIM115
            except OSError:
                file = None
        transcript = Transcript(session_id, info, file)
        with self._lock:
            self._sessions[session_id] = transcript
            while len(self._sessions) > self.keep:
                self._sessions.popitem(last=False)
        return transcript

    def sessions(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._sessions.values())[-max(0, limit) :] if limit > 0 else []
        return [t.to_dict() for t in items]

    def get(self, session_id: str) -> Transcript | None:
        with self._lock:
            return self._sessions.get(session_id)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
