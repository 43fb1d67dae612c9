"""DATA content scanning: find the end (CRLF.CRLF only), unstuff dots, spot bare LF/CR and long lines.

Rules (RFC 5321 §4.1.1.4, §4.5.2, §2.3.8):
- The content ends only at `<CRLF>.<CRLF>` (or a first line that is just `.`). A bare LF or bare CR
  never ends a line for that purpose, so the SMTP-smuggling sequences (`\\n.\\n`, `\\n.\\r\\n`,
  `\\r.\\n`, `\\r.\\r`, `\\r\\n.\\r`, `\\r\\n\\x00.\\r\\n`) are content, whatever the read boundaries.
- A line starting with a dot loses that dot (dot-unstuffing).
- Bare LF/CR in the content: the message is doomed ("reject", the rest is read and discarded), or
  they become CRLF ("normalize"; then a bare LF ends a line for unstuffing and length, never for the
  end of data).
- A line longer than `max_line` octets including CRLF, or content larger than `max_size`: doomed.
  When several apply, the reason is chosen by weight (bare-lf, long-line, too-big), never by the
  order in which the input happened to arrive.

Work is done on whole regions with `bytes.find/count/replace/split` (C speed), never per byte in
Python. Memory: at most one partial line (up to `_HOLD_LIMIT` octets) is held between reads; a doomed
message's content is dropped as it arrives.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["DotReader"]

_MARK: Final = b"\r\n.\r\n"
_FIRST_LINE_MARK: Final = b".\r\n"
_HOLD_LIMIT: Final = 1024  # longest partial line held back waiting for its CRLF (copied on each read)
_LINE_ENDING = re.compile(rb"\r\n|\r|\n")


class DotReader:
    """Incremental reader for one message's DATA content."""

    __slots__ = (
        "_crlf_start",
        "_line_len",
        "_line_start",
        "_max_line",
        "_max_size",
        "_normalize",
        "_pending",
        "doom",
        "size",
    )

    def __init__(self, *, max_size: int, max_line: int, normalize: bool) -> None:
        self._max_size = max_size
        self._max_line = max_line - 2 if max_line else 0  # limit without the CRLF
        self._normalize = normalize
        self._pending = b""
        self._crlf_start = True  # the held bytes start right after a CRLF (end-mark detection)
        self._line_start = True  # ...after a line ending, bare LF included when normalising
        self._line_len = 0  # octets of the current line already processed
        self.size = 0  # octets of content handed out (after unstuffing)
        self.doom: str | None = None  # "bare-lf" | "long-line" | "too-big": the message will be refused

    def feed(self, data: bytes) -> tuple[list[bytes], bytes | None]:
        """Consume `data`; return (content chunks, None) or, at the end mark, (chunks, rest after it)."""
        buf = self._pending + data if self._pending else data
        chunks: list[bytes] = []
        if self._crlf_start and buf[:3] == _FIRST_LINE_MARK:
            self._pending = b""
            return chunks, buf[3:]
        end = buf.find(_MARK)
        if end >= 0:
            self._region(buf[: end + 2], chunks)
            self._pending = b""
            return chunks, buf[end + 5 :]
        last_crlf = buf.rfind(b"\r\n")
        cut = last_crlf + 2 if last_crlf >= 0 else 0
        if len(buf) - cut > _HOLD_LIMIT:
            # A very long partial line: process all of it but a 4-octet tail that could begin the
            # end mark. The cut cannot fall inside a CRLF: there is none in the last _HOLD_LIMIT.
            cut = len(buf) - 4
        if cut:
            self._region(buf[:cut], chunks)
        self._pending = buf[cut:]
        return chunks, None

    @property
    def held(self) -> int:
        """Octets held back (a partial line); bounded by `_HOLD_LIMIT` + the last read."""
        return len(self._pending)

    def _region(self, raw: bytes, chunks: list[bytes]) -> None:
        """Process `raw`, which starts where the previous region ended and never ends inside CRLF.

        Once doomed, content is no longer handed out, but the scan for a weightier reason goes on
        (bare-lf > long-line > too-big), so the refusal never depends on how the input was cut.
        """
        self._crlf_start = raw.endswith(b"\r\n")
        doom = self.doom
        if doom == "bare-lf":
            return
        crlf = raw.count(b"\r\n")
        bad = raw.count(b"\n") != crlf or raw.count(b"\r") != crlf
        text = raw
        if bad:
            if not self._normalize:
                self.doom = "bare-lf"
                return
            text = _LINE_ENDING.sub(b"\r\n", raw)
        if doom == "long-line":
            return
        if self._max_line:
            if self._line_len + len(text) > self._max_line:
                parts = text.split(b"\r\n")
                first = self._line_len + len(parts[0])
                longest = max(map(len, parts[1:])) if len(parts) > 1 else 0
                if first > self._max_line or longest > self._max_line:
                    self.doom = "long-line"
                    return
                self._line_len = len(parts[-1]) if len(parts) > 1 else first
            else:
                k = text.rfind(b"\r\n")
                self._line_len = len(text) - k - 2 if k >= 0 else self._line_len + len(text)
        if doom is not None:  # too-big: nothing more to hand out
            return
        ends_line = text.endswith(b"\r\n")
        if self._line_start and text[:1] == b".":
            text = text[1:]
        if b"\r\n." in text:
            text = text.replace(b"\r\n.", b"\r\n")
        self._line_start = ends_line
        self.size += len(text)
        if self.size > self._max_size:
            self.doom = "too-big"
            return
        if text:
            chunks.append(text)
