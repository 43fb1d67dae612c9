"""The per-recipient verdict of bounce analysis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True, init=False)
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

    # A hand-written __init__ (init=False above): mypyc compiles it to native code, whereas the
    # one dataclasses generates stays interpreted (~8k instructions per result, measured).
    def __init__(
        self,
        recipient: str,
        reason: str,
        hardbounce: bool,
        status: str = "",
        replycode: str = "",
        action: str = "",
        diagnostic: str = "",
        command: str = "",
        original_recipient: str = "",
        reporting_mta: str = "",
        remote_mta: str = "",
        date: str = "",
        format: str = "",
        feedbacktype: str = "",
        original_message_id: str = "",
        original_from: str = "",
        original_to: str = "",
        original_subject: str = "",
    ) -> None:
        self.recipient = recipient
        self.reason = reason
        self.hardbounce = hardbounce
        self.status = status
        self.replycode = replycode
        self.action = action
        self.diagnostic = diagnostic
        self.command = command
        self.original_recipient = original_recipient
        self.reporting_mta = reporting_mta
        self.remote_mta = remote_mta
        self.date = date
        self.format = format
        self.feedbacktype = feedbacktype
        self.original_message_id = original_message_id
        self.original_from = original_from
        self.original_to = original_to
        self.original_subject = original_subject

    def __reduce__(self) -> tuple[type[BounceResult], tuple[Any, ...]]:
        # Pickled through the constructor: compiled by mypyc, a class with a hand-written
        # __init__ cannot be rebuilt the default way (its __new__ calls __init__ with no arguments).
        # to_json lists every field, in the constructor's order.
        return (BounceResult, tuple(self.to_json().values()))

    def to_json(self) -> dict[str, Any]:
        # every field is a str or a bool: a flat copy is what dataclasses.asdict gives, 10x faster.
        # Spelled out (same keys, same order as the fields, tested): mypyc reads each field
        # natively, where getattr(self, name) is a generic look-up.
        return {
            "recipient": self.recipient,
            "reason": self.reason,
            "hardbounce": self.hardbounce,
            "status": self.status,
            "replycode": self.replycode,
            "action": self.action,
            "diagnostic": self.diagnostic,
            "command": self.command,
            "original_recipient": self.original_recipient,
            "reporting_mta": self.reporting_mta,
            "remote_mta": self.remote_mta,
            "date": self.date,
            "format": self.format,
            "feedbacktype": self.feedbacktype,
            "original_message_id": self.original_message_id,
            "original_from": self.original_from,
            "original_to": self.original_to,
            "original_subject": self.original_subject,
        }

