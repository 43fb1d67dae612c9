"""Incremental reader of server replies for the client side (sans-I/O).

Bytes go in with `ReplyReader.feed`; complete `Reply` objects come out. Nothing here touches a
socket or a clock, so the asyncio session, a test, or any other transport drives it the same way.

Rules kept (RFC 5321 §4.2, RFC 2034):

* A reply line is ``Reply-code [ SP / "-" textstring ] CRLF``; ``-`` after the code means more
  lines follow, ``SP`` (or nothing) ends the reply.
* Every line of a multi-line reply carries the same three-digit code; a change is an error.
* A code is three digits, the first 2-5, the second 0-5 (RFC 5321 §4.2.1 admits no others).
* An RFC 2034 enhanced status code (``5.1.1``) may start each line's text; it is taken out of the
  text and kept once on the `Reply` (from the first line that has one). Its class must match the
  reply code's first digit, otherwise it is left in the text.
* Lines end with CRLF; a bare LF is tolerated (many broken servers send it), a bare CR is not a
  line end.

Limits, each with a reason:

* `MAX_LINE_OCTETS` (2048): RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers
  sometimes exceed it, so we allow four times that and stop there so a peer cannot make us buffer
  without bound.
* `MAX_REPLY_LINES` (256): an EHLO reply lists a few dozen extensions; more than this is not SMTP.

Malformed input raises `ReplyError` whose message says what was wrong in the words a human meets
in mail logs ("3-digit code not found"), plus the offending line.
"""

from __future__ import annotations

import re

from smtpdiag.reply import Reply

MAX_LINE_OCTETS = 2048
MAX_REPLY_LINES = 256

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?: |$)")


class ReplyError(Exception):
    """The server sent something that is not a valid SMTP reply."""

    def __init__(self, message: str, line: bytes = b"") -> None:
        self.problem = message
        self.line = line[:200]
        shown = self.line.decode("utf-8", "replace")
        super().__init__(f"{message}: {shown!r}" if line else message)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def split_enhanced(code: int, text: str) -> tuple[str | None, str]:
    """Take an RFC 2034 enhanced status code off the front of `text` when it matches `code`'s class."""
    match = _ENHANCED.match(text)
    if match is None or match.group(1) != str(code)[0]:
        return None, text
    return match.group(0).strip(), text[match.end() :]


class ReplyReader:
    """Feeds bytes, yields complete replies. One instance per connection."""

    def __init__(self, *, max_line: int = MAX_LINE_OCTETS, max_lines: int = MAX_REPLY_LINES) -> None:
        self._buffer = bytearray()
        self._max_line = max_line
        self._max_lines = max_lines
        self._code: int | None = None
        self._lines: list[str] = []
        self._enhanced: str | None = None

    @property
    def pending(self) -> bool:
        """True while a reply is partly read (bytes buffered or continuation lines seen)."""
        return bool(self._buffer) or self._code is not None

    def feed(self, data: bytes) -> list[Reply]:
        """Add bytes from the server; return the replies they complete (possibly none)."""
        self._buffer += data
        replies: list[Reply] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self._max_line:
                    raise ReplyError(
                        f"reply line longer than {self._max_line} octets", bytes(self._buffer[:200])
                    )
                return replies
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if len(raw) > self._max_line:
                raise ReplyError(f"reply line longer than {self._max_line} octets", raw)
            reply = self._line(raw)
            if reply is not None:
                replies.append(reply)

    def eof(self) -> None:
        """The connection closed: raise if a reply was cut short."""
        if self.pending:
            raise ReplyError("connection closed in the middle of a reply", bytes(self._buffer))

    def _line(self, raw: bytes) -> Reply | None:
        if (
            len(raw) < 3
            or not raw[:3].isdigit()
            or raw[0:1] not in b"2345"
            or raw[1:2] not in b"012345"
            or (len(raw) > 3 and raw[3:4] not in b" -")
        ):
            raise ReplyError("3-digit code not found", raw)
        code = int(raw[:3])
        if self._code is not None and code != self._code:
            raise ReplyError(f"reply code changed from {self._code} to {code} within a multi-line reply", raw)
        more = raw[3:4] == b"-"
        enhanced, text = split_enhanced(code, _decode(raw[4:]))
        if self._enhanced is None and enhanced is not None:
            self._enhanced = enhanced
        self._lines.append(text)
        if len(self._lines) > self._max_lines:
            raise ReplyError(f"reply has more than {self._max_lines} lines", raw)
        if more:
            self._code = code
            return None
        reply = Reply(code=code, lines=tuple(self._lines), enhanced=self._enhanced)
        self._code = None
        self._lines = []
        self._enhanced = None
        return reply


def parse_replies(data: bytes) -> list[Reply]:
    """Parse bytes holding whole replies (convenience for tests and transcripts)."""
    reader = ReplyReader()
    replies = reader.feed(data)
    reader.eof()
    return replies
