"""What the protocol core gives back: events (what happened) and outputs (what the runtime must do).

`ServerConnection.receive_data()` and friends return a list of these, in order. The runtime walks the
list from start to end: it writes `Send.data`, waits `Delay.seconds` before going on, upgrades the
transport on `StartTLS`, closes it on `Close`, streams `DataChunk.data` to storage, and answers each
`MessageComplete` with `ServerConnection.complete_message()`. Everything is small, frozen and typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from smtpdiag.reply import Reply

__all__ = [
    "AuthAttempt",
    "Close",
    "CommandReceived",
    "DataChunk",
    "DataStart",
    "Delay",
    "Envelope",
    "Event",
    "Helo",
    "MailFrom",
    "MessageAborted",
    "MessageComplete",
    "MessageRejected",
    "Output",
    "PlaintextDiscarded",
    "ProtocolError",
    "Quit",
    "RcptTo",
    "Reset",
    "Send",
    "StartTLS",
]

Params = Mapping[str, str | None]  # ESMTP parameters, keys upper-cased: {"SIZE": "1000", "SMTPUTF8": None}


# --- actions -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Send:
    """Write `data` (the wire form of `reply`) to the client."""

    data: bytes
    reply: Reply


@dataclass(frozen=True, slots=True)
class Delay:
    """Wait this long before carrying out the outputs that follow (policy or error throttling)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class StartTLS:
    """Start the TLS handshake now (after writing the 220 before it); then call `tls_started()`."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection after writing everything before it. Nothing more will be produced."""

    reason: str = ""


# --- events --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CommandReceived:
    """A command line as received (only when the connection was made with `trace=True`).

    AUTH secrets are replaced by `***`, so the line may be written to a transcript as is.
    """

    verb: str
    line: str


@dataclass(frozen=True, slots=True)
class Helo:
    hostname: str
    esmtp: bool


@dataclass(frozen=True, slots=True)
class AuthAttempt:
    mechanism: str
    username: str
    success: bool


@dataclass(frozen=True, slots=True)
class MailFrom:
    """MAIL was accepted: a new transaction starts. `sender` is "" for the null reverse-path."""

    sender: str
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RcptTo:
    """A recipient was accepted."""

    recipient: str
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DataStart:
    """The message content begins (354 sent for DATA, or the first BDAT chunk arrives)."""

    kind: Literal["DATA", "BDAT"]


@dataclass(frozen=True, slots=True)
class DataChunk:
    """A piece of message content, dot-unstuffed, in order. The runtime appends it to storage."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    """Everything known about a message besides its content."""

    sender: str
    recipients: tuple[str, ...]
    mail_params: Params
    rcpt_params: tuple[Params, ...]
    helo: str
    peer: str
    tls: bool
    auth_user: str | None
    size: int  # octets of content handed out in DataChunk events


@dataclass(frozen=True, slots=True)
class MessageComplete:
    """The content ended well. The core now waits for `complete_message(decision)`.

    Until then no further input is processed (it is buffered, bounded by `max_input_buffer`), so the
    reply to the end of data goes out in order, after storage has committed the message. It is
    always the last output of the call that produced it.
    """

    envelope: Envelope


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """The core refused the message being received (size, bare LF, long line); `reply` was sent.

    Storage discards what it wrote for this message.
    """

    reply: Reply
    reason: str


@dataclass(frozen=True, slots=True)
class MessageAborted:
    """The message being received was abandoned (RSET between BDAT chunks, disconnect, shutdown)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reset:
    """The transaction was cleared (RSET, EHLO/HELO, STARTTLS, or a refused BDAT chunk)."""


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The client broke a protocol rule; `reply` (already in the outputs) says which."""

    reply: Reply
    reason: str


@dataclass(frozen=True, slots=True)
class PlaintextDiscarded:
    """Octets pipelined after STARTTLS, before the handshake, were thrown away (RFC 3207 §4.2)."""

    octets: int


Event = (
    CommandReceived
    | Helo
    | AuthAttempt
    | MailFrom
    | RcptTo
    | DataStart
    | DataChunk
    | MessageComplete
    | MessageRejected
    | MessageAborted
    | Reset
    | Quit
    | ProtocolError
    | PlaintextDiscarded
)
Output = Send | Delay | StartTLS | Close | Event
