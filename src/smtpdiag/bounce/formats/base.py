"""What every format module shares: the per-message context and the per-recipient facts.

A format module is a small Python module with:

    NAME: str                              # "postfix", "rfc3464", ...
    def detect(ctx: Context) -> bool       # cheap: headers and a few substrings
    def parse(ctx: Context) -> list[Facts] # the recipients it found ([] = not mine after all)

Modules are tried in the order of `formats.MODULES`; the first one that returns facts wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import Any, Final

from smtpdiag.bounce import fastmime
from smtpdiag.bounce.fastmime import Part
from smtpdiag.bounce.fields import FIELD_LINE_RE, MAX_FIELD_CHARS, parse_field_blocks
from smtpdiag.bounce.mime import MAX_HEADER_CHARS, Parts, decode_header


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


MAX_INLINE_HEADER_LINES = 200  # lines of an inline returned message's header block read


class Context:
    """One parsed message plus lazily computed views of it (each computed at most once).

    `msg` is the message's light MIME tree (a stdlib `Message` given is converted to one).

    The views are plain attributes filled on first use (None = not computed yet) rather than
    cached_property: no per-instance __dict__ and no lock, and the class compiles as is.
    """

    __slots__ = (
        "_decoded",
        "_header_names",
        "_inline_original",
        "_lines",
        "_original_fields",
        "_raw_headers",
        "_received",
        "_status_blocks",
        "_text_lower",
        "msg",
        "parts",
    )

    def __init__(self, msg: Part | Message, parts: Parts) -> None:
        self.msg: Part = msg if isinstance(msg, Part) else fastmime.from_message(msg)
        self.parts = parts
        self._raw_headers: dict[str, str] | None = None
        self._header_names: frozenset[str] | None = None
        self._decoded: dict[str, str] = {}
        self._text_lower: str | None = None
        self._lines: list[str] | None = None
        self._status_blocks: list[dict[str, str]] | None = None
        self._original_fields: dict[str, str] | None = None
        self._inline_original: str | None = None
        self._received: list[str] | None = None

    @property
    def raw_headers(self) -> dict[str, str]:
        """The first raw value of each of the bounce's own header fields, by lower-cased name.

        Built in one pass: a lookup by name lower-cases every field name on every call, and
        the format modules ask for a dozen fields per message.
        """
        if self._raw_headers is None:
            first: dict[str, str] = {}
            for k, v in self.msg.fields:
                first.setdefault(k.lower(), v)
            self._raw_headers = first
        return self._raw_headers

    @property
    def header_names(self) -> frozenset[str]:
        """The (lower-cased) names of the bounce's own header fields."""
        if self._header_names is None:
            self._header_names = frozenset(self.raw_headers)
        return self._header_names

    def header(self, name: str) -> str:
        """The decoded value of the bounce's first `name` field ("" when it has none)."""
        done = self._decoded.get(name)  # by the name as asked: callers use constant spellings
        if done is not None:
            return done
        raw = self._raw_headers if self._raw_headers is not None else self.raw_headers
        v: Any = raw.get(name.lower())
        if v is None:
            out = ""
        elif v.isascii() and "=?" not in v:
            out = " ".join(v[:MAX_HEADER_CHARS].split())  # decode_header(v), the usual case in short
        else:
            if not v.isascii():
                # 8-bit bytes (surrogate escapes): compat32's fetch turns them into a Header object
                # (typeshed says str: read it through Any so compiled code does not insist on str)
                source: Any = self.msg.source
                v = source.get(name) if source is not None else fastmime.compat32_fetch(name, v)
            out = decode_header(v) if v is not None else ""
        self._decoded[name] = out
        return out

    @property
    def subject(self) -> str:
        return self.header("Subject")

    @property
    def subject_lower(self) -> str:
        return self.header("Subject").lower()

    @property
    def from_(self) -> str:
        return self.header("From")

    @property
    def from_lower(self) -> str:
        return self.header("From").lower()

    @property
    def text(self) -> str:
        return self.parts.text

    @property
    def text_lower(self) -> str:
        if self._text_lower is None:
            self._text_lower = self.parts.text.lower()
        return self._text_lower

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.parts.text.splitlines()
        return self._lines

    @property
    def status_blocks(self) -> list[dict[str, str]]:
        """RFC 3464 field blocks: from message/delivery-status parts, else embedded in the text."""
        if self._status_blocks is None:
            blocks: list[dict[str, str]] = []
            known = self.parts.status_fields  # read from the parts' fields already, if not None
            if known is not None:
                blocks.extend(known)
            else:
                for raw in self.parts.status_blocks:
                    blocks.extend(parse_field_blocks(raw))
            if not blocks:
                low = self.text_lower
                embedded = "action:" in low and "status:" in low and "recipient" in low
                if "final-recipient:" in low or embedded:
                    blocks = [b for b in parse_field_blocks(self.text) if _is_status_block(b)]
            self._status_blocks = blocks
        return self._status_blocks

    @property
    def original_fields(self) -> dict[str, str]:
        """Message-ID/From/To/Subject of the returned message (attached or inline)."""
        if self._original_fields is None:
            if self.parts.original_headers and self.parts.original_fields is not None:
                # read from the returned message's fields already (mime._original_headers)
                self._original_fields = self.parts.original_fields
                return self._original_fields
            if self.parts.original_headers:
                self._original_fields = _original_fields_of(
                    parse_field_blocks(self.parts.original_headers)[:1]
                )
            else:
                inline = self.inline_original
                # (the inline block: lines without line breaks, none blank, joined by "\n")
                self._original_fields = _inline_original_fields(inline.split("\n")) if inline else {}
        return self._original_fields

    @property
    def inline_original(self) -> str:
        """The header block of an original message returned inline in the text, after a marker."""
        if self._inline_original is None:
            self._inline_original = self._find_inline_original()
        return self._inline_original

    def _find_inline_original(self) -> str:
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

    @property
    def received(self) -> list[str]:
        if self._received is None:
            msg = self.msg
            source: Any = msg.source  # compat32 may give Header objects, not typeshed's str
            if source is not None:
                values: list[Any] = source.get_all("Received") or []
            else:
                values = [msg.fetch(k, v) for k, v in msg.fields if len(k) == 8 and k.lower() == "received"]
            self._received = [decode_header(v) for v in values[:30]]
        return self._received


ORIGINAL_KEYS: Final = ("message-id", "from", "to", "subject")  # the fields original_fields reports
# The first letters of the names that matter to `_inline_original_fields`: ORIGINAL_KEYS and
# final-recipient (a second one ends parse_field_blocks' first block).
_KEY_INITIALS: Final = frozenset("mMfFtTsS")
_KEYS_READ: Final = frozenset({*ORIGINAL_KEYS, "final-recipient"})


def _original_fields_of(blocks: list[dict[str, str]]) -> dict[str, str]:
    """original_fields of the first of these field blocks (none: {})."""
    out: dict[str, str] = {}
    for block in blocks[:1]:
        for key in ORIGINAL_KEYS:
            if key in block:
                out[key] = decode_header(block[key])
    return out


def _inline_original_fields(lines: list[str]) -> dict[str, str]:
    """`_original_fields_of(parse_field_blocks("\n".join(lines)))` for lines none of which is blank.

    parse_field_blocks' loop, keeping only the fields that matter: a line that starts with
    another letter than those of _KEY_INITIALS is no field of a name that matters (that takes a
    letter first), and nothing continuing it matters either; such lines are not matched.
    """
    cur: dict[str, str] = {}
    last = ""  # the field a continuation line continues ("" = none that matters)
    for raw in lines:
        line = raw.rstrip()
        if not line:  # (not for inline blocks): the general way
            return _original_fields_of(parse_field_blocks("\n".join(lines)))
        if line[0] in " \t":
            if last:
                value = cur[last]
                if len(value) < MAX_FIELD_CHARS:
                    cur[last] = (value + " " + line.strip())[:MAX_FIELD_CHARS]
            continue
        last = ""
        if line[0] not in _KEY_INITIALS:
            continue
        found = FIELD_LINE_RE.match(line, 0, MAX_FIELD_CHARS)
        if found is None:
            continue
        key = found.group(1).lower()
        if key not in _KEYS_READ:
            continue
        if key in cur:
            if key == "final-recipient":
                break  # the first block ends here
            continue
        cur[key] = found.group(2).strip()
        last = key
    return _original_fields_of([cur])


def _is_status_block(b: dict[str, str]) -> bool:
    if "final-recipient" in b or "original-recipient" in b:
        return "action" in b or "status" in b
    return "reporting-mta" in b
