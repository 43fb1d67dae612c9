"""What every format module shares: the per-message context and the per-recipient facts.

A format module is a small Python module with:

    NAME: str                              # "postfix", "rfc3464", ...
    def detect(ctx: Context) -> bool       # cheap: headers and a few substrings
    def parse(ctx: Context) -> list[Facts] # the recipients it found ([] = not mine after all)

Modules are tried in the order of `formats.MODULES`; the first one that returns facts wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any, Generic, TypeVar, overload

from smtpdiag.bounce.fields import parse_field_blocks
from smtpdiag.bounce.mime import Parts, decode_header


@dataclass(slots=True)
class Facts:
    """What a bounce says about one recipient, before classification."""

    recipient: str = ""
    original_recipient: str = ""
    action: str = ""
    status: str = ""
    replycode: str = ""
    diagnostic: str = ""
    diagnostic_type: str = ""  # "smtp", "x-unix", "x-postfix", ...
    command: str = ""
    reporting_mta: str = ""
    remote_mta: str = ""
    date: str = ""
    reason: str = ""  # set by a format module that knows better than the classifier
    feedbacktype: str = ""
    hardbounce: bool | None = None  # set only when a format knows it
    vendor: str = ""


_T = TypeVar("_T")


class cached_property(Generic[_T]):
    """`functools.cached_property` without its lock (Python 3.11 takes an RLock on every first
    access; a Context is used by one thread and builds about ten of these per message).

    The value is stored in the instance's __dict__ under the function's name, so later reads
    find it there and never call the descriptor again (it defines no __set__).
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name: str = func.__name__
        self.__doc__ = func.__doc__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value


MAX_INLINE_HEADER_LINES = 200  # lines of an inline returned message's header block read


class Context:
    """One parsed message plus lazily computed views of it (each computed at most once)."""

    def __init__(self, msg: Message, parts: Parts) -> None:
        self.msg = msg
        self.parts = parts

    @cached_property
    def raw_headers(self) -> dict[str, str]:
        """The first raw value of each of the bounce's own header fields, by lower-cased name.

        Built in one pass: `Message.get` lower-cases every field name on every call, and the
        format modules ask for a dozen fields per message.
        """
        first: dict[str, str] = {}
        for k, v in self.msg.raw_items():
            first.setdefault(k.lower(), v)
        return first

    @cached_property
    def header_names(self) -> frozenset[str]:
        """The (lower-cased) names of the bounce's own header fields."""
        return frozenset(self.raw_headers)

    @cached_property
    def _decoded(self) -> dict[str, str]:
        return {}

    def header(self, name: str) -> str:
        key = name.lower()
        done = self._decoded.get(key)
        if done is not None:
            return done
        v: object = self.raw_headers.get(key)
        if v is None:
            return ""
        if not (isinstance(v, str) and v.isascii()):
            # 8-bit bytes (surrogate escapes): compat32's fetch turns them into a Header object
            v = self.msg.get(name)
        out = self._decoded[key] = decode_header(v) if v is not None else ""
        return out

    @cached_property
    def subject(self) -> str:
        return self.header("Subject")

    @cached_property
    def subject_lower(self) -> str:
        return self.subject.lower()

    @cached_property
    def from_(self) -> str:
        return self.header("From")

    @cached_property
    def from_lower(self) -> str:
        return self.from_.lower()

    @cached_property
    def text(self) -> str:
        return self.parts.text

    @cached_property
    def text_lower(self) -> str:
        return self.parts.text.lower()

    @cached_property
    def lines(self) -> list[str]:
        return self.parts.text.splitlines()

    @cached_property
    def status_blocks(self) -> list[dict[str, str]]:
        """RFC 3464 field blocks: from message/delivery-status parts, else embedded in the text."""
        blocks: list[dict[str, str]] = []
        for raw in self.parts.status_blocks:
            blocks.extend(parse_field_blocks(raw))
        if not blocks:
            low = self.text_lower
            if "final-recipient:" in low or ("action:" in low and "status:" in low and "recipient" in low):
                blocks = [b for b in parse_field_blocks(self.text) if _is_status_block(b)]
        return blocks

    @cached_property
    def original_fields(self) -> dict[str, str]:
        """Message-ID/From/To/Subject of the returned message (attached or inline)."""
        out: dict[str, str] = {}
        src = self.parts.original_headers or self.inline_original
        if not src:
            return out
        for block in parse_field_blocks(src)[:1]:
            for key in ("message-id", "from", "to", "subject"):
                if key in block:
                    out[key] = decode_header(block[key])
        return out

    @cached_property
    def inline_original(self) -> str:
        """The header block of an original message returned inline in the text, after a marker."""
        from smtpdiag.bounce.formats.generic import original_start

        start = original_start(self.lines)
        if start is None:
            return ""
        block: list[str] = []
        for line in self.lines[start : start + MAX_INLINE_HEADER_LINES]:
            if not line.strip():
                if block:
                    break
                continue
            block.append(line)
        return "\n".join(block)

    @cached_property
    def received(self) -> list[str]:
        return [decode_header(v) for v in (self.msg.get_all("Received") or [])[:30]]


def _is_status_block(b: dict[str, str]) -> bool:
    if "final-recipient" in b or "original-recipient" in b:
        return "action" in b or "status" in b
    return "reporting-mta" in b
