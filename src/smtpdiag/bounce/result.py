"""The per-recipient verdict of bounce analysis."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(slots=True)
class BounceResult:
    recipient: str
    reason: str  # Sisimai vocabulary
    hardbounce: bool
    status: str = ""  # RFC 3463, e.g. "5.1.1"
    replycode: str = ""  # "550"
    action: str = ""  # failed | delayed | delivered | expanded | relayed
    diagnostic: str = ""
    command: str = ""  # CONN | HELO | EHLO | MAIL | RCPT | DATA | ""
    original_recipient: str = ""
    reporting_mta: str = ""
    remote_mta: str = ""
    date: str = ""
    format: str = ""  # which format module produced it: "rfc3464", "postfix", "arf", ...
    feedbacktype: str = ""  # ARF feedback type
    original_message_id: str = ""
    original_from: str = ""
    original_to: str = ""
    original_subject: str = ""

    def to_json(self) -> dict[str, Any]:
        # every field is a str or a bool: a flat copy is what dataclasses.asdict gives, 10x faster
        return {name: getattr(self, name) for name in _FIELD_NAMES}


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(BounceResult))
