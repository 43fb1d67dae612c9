"""The reply model: one SMTP server reply (RFC 5321 §4.2), possibly multi-line.

The strict parser (`parse_reply`) and the lenient extractor live in `smtpdiag.parse`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reply:
    """A server reply: a three-digit code, an optional RFC 2034 enhanced status code, text lines."""

    code: int  # 200..599
    lines: tuple[str, ...]  # the text of each line, without code, separator and enhanced code
    enhanced: str | None = None  # "5.1.1" (RFC 3463), None when the server gave none

    @property
    def text(self) -> str:
        return " ".join(line.strip() for line in self.lines if line.strip())

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return 500 <= self.code < 600

    def to_wire(self) -> bytes:
        """Render as it goes on the wire: `550-5.1.1 text\\r\\n550 5.1.1 last\\r\\n`."""
        lines = self.lines or ("",)
        out = []
        for i, line in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            esc = f"{self.enhanced} " if self.enhanced else ""
            out.append(f"{self.code}{sep}{esc}{line}".rstrip() + "\r\n")
        return "".join(out).encode("utf-8", "replace")

    def __str__(self) -> str:
        esc = f" {self.enhanced}" if self.enhanced else ""
        return f"{self.code}{esc} {self.text}".rstrip()
