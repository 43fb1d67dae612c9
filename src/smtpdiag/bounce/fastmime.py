"""A MIME tree of our own, built the way the stdlib feed parser builds `email.message.Message`s.

    parse(data) -> Part      # the structure email.message_from_bytes(data, policy=compat32) finds
    from_message(msg) -> Part  # the same light tree for a Message built elsewhere

Why: the stdlib `FeedParser` reads every line of every part through a generator, a line queue
and a stack of boundary matchers, and then every question asked of a `Message` (its content
type, a header, its payload) goes through the policy again. A bounce only needs a few answers:
each part's header fields, content type and body text, and its children. Here the body of a
part is one slice of the text and the parts of a multipart are found with `str.find` on their
boundary, so only header lines are visited one by one, and each part is one small slots object.

The structure follows the feed parser's rules to the letter: where a header block ends, which
lines are boundaries (RFC 2046: the line break before a boundary belongs to it), repeated
boundaries, missing start or close boundaries, message/delivery-status blocks, multipart/digest
defaults. What a bounce never reads is not kept: preambles, epilogues, the "From " envelope line,
parse defects. tests/test_fastmime.py compares the trees with the stdlib's on the corpus and on
mutated messages.

A message of more than `MAX_ENTITIES` parts is an attack, not a bounce: it is read as its header
and one text body (`_flat`), not parsed part by part. Anything else outside the well-trodden
cases (bare CR line ends, a "From " line ending a header block, more than `MAX_DEPTH` levels of
nesting, a structured type inside a delivery-status block) is handed to the stdlib parser whole
and its tree converted: such parts keep their `Message` (`Part.source`) and every payload or
parameter question goes to it, so the answers are always the stdlib's. The few questions a
light part cannot answer exactly by itself (8-bit bytes in a Content-Type or transfer-encoding
value, RFC 2231 parameters, uuencode) are asked of a `Message` rebuilt from the part
(`as_message`).
"""

from __future__ import annotations

import email
import email.feedparser
import importlib
import quopri
import re
from email.message import Message
from email.policy import compat32
from typing import Any, Final, cast

MAX_ENTITIES: Final = 1000  # parts followed in one message; a message with more is read as one text
MAX_DEPTH: Final = 40  # nesting of multiparts and message/* parts before the stdlib takes over

# The feed parser's own test for "still a header line": taken from it so the two never disagree.
_HEADER_LINE: Final = cast("re.Pattern[str]", email.feedparser.headerRE)  # type: ignore[attr-defined]
# A header block: the lines the feed parser's test accepts, one after the other (each line
# consumes at least one character). Possessive "*+": a field name never gives characters back
# (":" is not one of them), so a long line without ":" is read once, not once per character.
_HEADER_BLOCK: Final = re.compile(
    "(?:" + _HEADER_LINE.pattern.removeprefix("^").replace("]*:", "]*+:") + r"[^\n]*+\n?)*+"
)
# The fields of a header block, each (name, value): the name (the feed parser's name characters,
# up to the first ":"), the value without its leading blanks, continuation lines included.
# compat32 drops a line with an empty name and a continuation line with no field before it: so
# does this (neither starts a match). Any other line starting ("From ", a line that is no header
# line) gives a last ("", "") that takes in the rest: the block ends earlier than thought.
_FIELDS: Final = re.compile(
    r"^(?:([\041-\071\073-\176]++):[ \t]*+([^\n]*+(?:\n[ \t][^\n]*+)*+)"
    r"|(?![\041-\071\073-\176]*+:|[\t ])[\s\S]+)",
    re.MULTILINE,
)
# The lines of a delivery-status body, each (name, value, empty line, dropped line): a field as
# in _FIELDS; an empty line (it ends a block); a line compat32 drops (a continuation line with
# no field before it, an empty name); anything else gives ("", "", "", "") and takes in the rest.
_STATUS_LINES: Final = re.compile(
    r"^(?:([\041-\071\073-\176]++):[ \t]*+([^\n]*+(?:\n[ \t][^\n]*+)*+)"
    r"|(\r?\n)|([\t :])[^\n]*+|[\s\S]+)",
    re.MULTILINE,
)
_BARE_CR: Final = re.compile("\r(?!\n)")
# Whether this module runs compiled (mypyc): its loops then run as C, and reading header lines
# with str.find beats the _FIELDS regex; interpreted, the regex is the faster of the two (both
# give the same fields: tests/test_fastmime.py).
COMPILED: Final = not __file__.endswith(".py")
_UUENCODE: Final = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
# What Message.get_payload(decode=True) decodes base64 with (a private module: no stubs).
_decode_b: Final[Any] = importlib.import_module("email._encoded_words").decode_b

#: How compat32 fetches a raw header value (a `Header` for 8-bit bytes, else the value itself).
#: Typed Any: typeshed says str, but compiled code must not insist on it.
compat32_fetch: Final[Any] = compat32.header_fetch_parse


class Part:
    """One MIME entity: what a `Message` from the feed parser holds that a bounce reads.

    fields: the raw (name, value) header fields in order, as `Message.raw_items()` gives them.
    ctype: `Message.get_content_type()`.
    body: the raw payload text of a part without children (8-bit bytes surrogate-escaped).
    children: the sub-parts when the stdlib's payload is a list (multipart with a start
        boundary, message/*, delivery-status blocks), else None.
    source: the stdlib `Message` this part was converted from, if any; it answers payload
        and parameter questions for it.
    """

    __slots__ = ("body", "children", "ctype", "fields", "source")

    def __init__(
        self,
        fields: list[tuple[str, str]],
        ctype: str,
        body: str = "",
        children: list[Part] | None = None,
        source: Message | None = None,
    ) -> None:
        self.fields = fields
        self.ctype = ctype
        self.body = body
        self.children = children
        self.source = source

    def first(self, name: str) -> str | None:
        """The first raw value of field `name` (lower case), as `Message.get` finds it, unfetched."""
        size = len(name)  # (a field name of another length cannot lower-case to an ASCII `name`)
        for key, value in self.fields:
            if len(key) == size and key.lower() == name:
                return value
        return None

    def fetch(self, name: str, raw: str) -> Any:
        """The value `Message.get` would return for a field with this raw value.

        compat32 gives an `email.header.Header` for values with 8-bit bytes (hence Any).
        """
        if self.source is not None:
            policy: Any = self.source.policy  # (typeshed's str would be checked by compiled code)
            return policy.header_fetch_parse(name, raw)
        if raw.isascii():
            return raw  # compat32 changes only values with 8-bit bytes
        return compat32_fetch(name, raw)


def headers_message(fields: list[tuple[str, str]], default_type: str = "text/plain") -> Message:
    """A stdlib `Message` with these header fields, to ask it what only it answers exactly."""
    msg = Message()
    for name, value in fields:
        msg.set_raw(name, value)
    if default_type != "text/plain":
        msg.set_default_type(default_type)
    return msg


def as_message(part: Part) -> Message:
    """The stdlib `Message` for a part (its own source, or rebuilt from a part without children)."""
    if part.source is not None:
        return part.source
    msg = headers_message(part.fields)
    msg.set_payload(part.body)
    return msg


def get_param(part: Part, name: str) -> Any:
    """`Message.get_param(name)` for a part (a str, an RFC 2231 tuple or None)."""
    if part.source is not None:
        return part.source.get_param(name)
    return headers_message(part.fields).get_param(name)


def payload_text(part: Part) -> str | None:
    """`Message.get_payload()` of a part without children when it is a str (8-bit bytes decoded)."""
    if part.source is not None:
        payload: Any = part.source.get_payload()
        return payload if isinstance(payload, str) else None
    if part.children is not None:
        return None
    if part.body.isascii():
        return part.body
    # 8-bit bytes: the stdlib decodes them with the charset parameter (or fails as it fails)
    payload = as_message(part).get_payload()
    return payload if isinstance(payload, str) else None


def decoded_payload(part: Part) -> Any:
    """`Message.get_payload(decode=True)`: the transfer-decoded bytes (None for a part with children)."""
    if part.source is not None:
        return part.source.get_payload(decode=True)
    if part.children is not None:
        return None
    raw_cte = part.first("content-transfer-encoding")
    if raw_cte is not None and not raw_cte.isascii():
        return as_message(part).get_payload(decode=True)  # fetched as a Header: the stdlib's str() of it
    cte = "" if raw_cte is None else raw_cte.lower()
    # the body holds ASCII and surrogate escapes only: both of the stdlib's encodings give these bytes
    data = part.body.encode("ascii", "surrogateescape")
    if cte == "quoted-printable":
        return quopri.decodestring(data)
    if cte == "base64":
        return _decode_b(b"".join(data.splitlines()))[0]
    if cte in _UUENCODE:
        return as_message(part).get_payload(decode=True)
    return data


def from_message(msg: Message) -> Part:
    """The light tree of a stdlib `Message` tree (each part keeps its Message as `source`)."""
    items: Any = msg.raw_items()  # values are not always str (other policies store header objects)
    fields = [(k, v if isinstance(v, str) else str(v)) for k, v in items]
    children: list[Part] | None = None
    if msg.is_multipart():
        payload: Any = msg.get_payload()
        children = [from_message(p) for p in payload if isinstance(p, Message)]
    return Part(fields, msg.get_content_type(), "", children, msg)


def _content_type_of(fields: list[tuple[str, str]], default_type: str) -> str:
    """`Message.get_content_type()` for these fields, without the fetch-policy round trip.

    The same steps on the first Content-Type field: the part before ";", stripped and
    lower-cased, "text/plain" unless it has exactly one "/", the default type when the field is
    missing. A non-ASCII value (8-bit bytes, which compat32 fetches as a Header) is left to
    `get_content_type` itself.
    """
    for name, value in fields:
        if len(name) == 12 and name.lower() == "content-type":  # (the length test is cheaper)
            if not value.isascii():
                return headers_message(fields, default_type).get_content_type()
            ctype: str = value.partition(";")[0].strip().lower()
            return ctype if ctype.count("/") == 1 else "text/plain"
    return default_type


def plain_param(raw: object, name: str) -> tuple[bool, str | None]:
    """(True, `Message.get_param(name)`) read directly from a plain Content-Type value `raw`.

    get_param parses, RFC 2231-decodes, quotes and unquotes every parameter. For an ASCII
    value without backslashes, "*", "<" and with at most one quoted string that holds no ";",
    that all reduces to: split on ";", the first parameter called `name` (lower case), its
    value stripped and its surrounding quotes removed; None when there is none. For any other
    value: (False, None), and the caller asks the message (tests/test_bounce_shortcuts.py
    compares the two).
    """
    if not (isinstance(raw, str) and raw.isascii()) or "\\" in raw or "*" in raw or "<" in raw:
        return False, None
    quotes = raw.count('"')
    if quotes == 2:
        first = raw.find('"')
        if ";" in raw[first : raw.find('"', first + 1)]:
            return False, None
    elif quotes:
        return False, None
    for param in raw.split(";")[1:]:
        key, eq, value = param.partition("=")
        if key.strip().lower() != name:
            continue
        value = value.strip()
        if not eq or ('"' in value and not (len(value) >= 2 and value[0] == value[-1] == '"')):
            return False, None
        return True, value[1:-1] if value[:1] == '"' else value
    return True, None


def _boundary_of(fields: list[tuple[str, str]]) -> str | None:
    """`Message.get_boundary()`: for a plain Content-Type, its boundary parameter less trailing blanks."""
    raw = None
    for name, value in fields:
        if len(name) == 12 and name.lower() == "content-type":  # (the length test is cheaper)
            raw = value
            break
    plain, boundary = plain_param(raw, "boundary")
    if not plain:
        found: Any = headers_message(fields).get_boundary()
        return found if isinstance(found, str) else None
    return None if boundary is None else boundary.rstrip()


def _field_lines(text: str, pos: int, end: int) -> tuple[list[tuple[str, str]] | None, int]:
    """The header block at `pos`: (its fields, where its first empty line starts, or `end`).

    The fields are `_FIELDS.findall(text, pos, block_end)` when every line up to the empty
    line is a header line; else None (and the second item is not meaningful). An empty line
    is one with nothing or only "\r" before its "\n" (bare CRs never get here), as for
    `_Parser._empty_line`.

    `pos` starts a line. Each line is a field "name:value" (the name printable ASCII without
    blanks, up to the first ":"; blanks after the ":" are not part of the value), a
    continuation line (blank first: the value of the field before it goes on, line break
    included; with no field before it the line is dropped) or a line with an empty name
    (dropped). Any other line (no ":", a name with other characters) ends the header block
    where _FIELDS finds a last ("", "") match: None, for the caller's exact way. The lines are
    found with str.find rather than a regex: several times faster on long header blocks.
    """
    found: list[tuple[str, str]] = []
    name = ""  # the open field ("" = none)
    value_start = value_end = 0
    while pos < end:
        nl = text.find("\n", pos, end)
        line_end = end if nl < 0 else nl
        if line_end == pos or (line_end == pos + 1 and text[pos] == "\r"):
            break  # the empty line that ends the block
        first = text[pos]
        if first == " " or first == "\t":
            if name:
                value_end = line_end  # a continuation line
        else:
            if name:
                found.append((name, text[value_start:value_end]))
                name = ""
            colon = text.find(":", pos, line_end)
            if colon < 0:
                return None, end
            if colon > pos:
                name = text[pos:colon]
                if not (name.isascii() and name.isprintable()) or " " in name:
                    return None, end
                value_start = colon + 1
                while value_start < line_end and text[value_start] in " \t":
                    value_start += 1
                value_end = line_end
        pos = line_end + 1
    if name:
        found.append((name, text[value_start:value_end]))
    return found, min(pos, end)


class _Fallback(Exception):
    """The message needs the stdlib parser (a case this module does not reproduce)."""


class _TooManyParts(Exception):
    """More than `MAX_ENTITIES` parts: the structure is not followed (see `_flat`)."""


def parse(data: bytes) -> Part:
    """The tree `email.message_from_bytes(data, policy=compat32)` would give, as light parts.

    Except for a message of more than `MAX_ENTITIES` parts, read as one text (`_flat`).
    """
    text = data.decode("ascii", "surrogateescape")
    part = _parse_text(text)
    return part if part is not None else _without_us(text, data)


def parse_text(text: str) -> Part:
    """`parse` for text: the tree `email.message_from_string(text, policy=compat32)` would give."""
    # ASCII text is what `parse` makes of the same bytes (the stdlib parses that text too)
    part = _parse_text(text) if text.isascii() else None
    return part if part is not None else _without_us(text, text)


def _without_us(text: str, source: bytes | str) -> Part:
    """The tree of a message this module does not parse: the stdlib's, or one text if too big."""
    if _may_have_too_many_parts(text):
        return _flat(text)
    if isinstance(source, bytes):
        return from_message(email.message_from_bytes(source, policy=compat32))
    return from_message(email.message_from_string(source, policy=compat32))


def _flat(text: str) -> Part:
    """A message of more than `MAX_ENTITIES` parts, read as its header fields and one text body.

    Real bounces have a handful of parts; thousands are an attack on time and memory (the
    stdlib parser builds an object per part or status block: 1 MB of empty lines in a
    delivery-status part took 8 s and 480 MB). Read as text, what the message says is still
    scanned, within the text limits.
    """
    if "\r" in text:  # (bare CRs end lines too; the flat text needs no exact line ends)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    fields: list[tuple[str, str]] = []
    try:
        body = _Parser(text)._headers(fields, 0, len(text))
    except _Fallback:
        fields, body = [], 0
    return Part(fields, "text/plain", text[body:])


def _may_have_too_many_parts(text: str) -> bool:
    """Whether the stdlib might build more than `MAX_ENTITIES` parts of `text` (a cheap ceiling).

    Parts start at boundary lines ("--" at a line start); in a delivery-status part every block
    after an empty line is one; bare CRs end lines too.
    """
    starts = text.count("\n--") + text.count("\r--")
    if "delivery-status" in text or "Delivery-Status" in text:
        starts += text.count("\n\n") + text.count("\r\r") + text.count("\n\r\n")
    return starts > MAX_ENTITIES


def _parse_text(text: str) -> Part | None:
    """The tree of an ASCII (or surrogate-escaped) text; None for the cases left to the stdlib."""
    if "\r" in text and _BARE_CR.search(text):
        # bare CR line ends: the feed parser splits lines on them too; not reproduced here
        return None
    try:
        return _Parser(text).message()
    except _TooManyParts:
        return _flat(text)
    except (_Fallback, RecursionError):
        return None


def _strip_eol(value: str) -> str:
    if value.endswith("\r\n"):
        return value[:-2]
    if value.endswith("\n") or value.endswith("\r"):
        return value[:-1]
    return value


def _source_parse(lines: list[str]) -> tuple[str, str]:
    """compat32's `header_source_parse`: name up to the first ":", value with its line ends stripped."""
    name, value = lines[0].split(":", 1)
    value = value.lstrip(" \t") + "".join(lines[1:])
    return name, value.rstrip("\r\n")


class _Parser:
    __slots__ = ("entities", "has_cr", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.entities = 0
        self.has_cr = "\r" in text  # CRLF line ends: values to strip of their "\r"

    def message(self) -> Part:
        part, _last, _multipart = self._entity(0, len(self.text), "text/plain", 0)
        return part

    def _count(self) -> None:
        self.entities += 1
        if self.entities > MAX_ENTITIES:
            raise _TooManyParts

    def _empty_line(self, pos: int, end: int) -> int:
        """Where the first empty line in [pos, end) starts (`pos` starts a line); `end` if none."""
        text = self.text
        if pos >= end or text[pos] in "\r\n":
            return pos if pos < end else end
        if self.has_cr:  # "\r" opens a line only as "\r\n" (bare CRs never get here)
            i = text.find("\n\r", pos, end)
            # (LF ends among CRLF ones: rare; up to i + 1: an LF empty line right before the CRLF one)
            j = text.find("\n\n", pos, end if i < 0 else i + 1)
            if j >= 0:
                i = j
        else:
            i = text.find("\n\n", pos, end)
        return end if i < 0 else i + 1

    def _headers(self, fields: list[tuple[str, str]], pos: int, end: int) -> int:
        """Read the header block at `pos` (a line start) into `fields`; return where the body starts.

        The usual block is header lines up to an empty line: one regex pass over them reads the
        fields and notices any line that would end the block earlier ("From " lines, a body
        without the empty line), which `_headers_exact` then handles.
        """
        if not COMPILED:
            return self._header_block(fields, pos, self._empty_line(pos, end), end)
        text = self.text
        if pos and text[pos - 1] != "\n":
            raise _Fallback  # not reached: entities start on a line
        found, block_end = _field_lines(text, pos, end)  # (one pass: lines up to the empty one)
        return self._block_fields(fields, found, pos, block_end, end)

    def _block_fields(
        self,
        fields: list[tuple[str, str]],
        found: list[tuple[str, str]] | None,
        pos: int,
        block_end: int,
        end: int,
    ) -> int:
        """Keep the fields `found` of the header block [pos, block_end); return where the body starts.

        found=None: a line of the block is no header line, `_headers_exact` reads it.
        """
        if found is None:
            return self._headers_exact(fields, pos, end)
        if self.has_cr:
            found = [(name, value.rstrip("\r\n")) for name, value in found]
        fields.extend(found)
        if block_end >= end:
            return end
        nl = self.text.find("\n", block_end, end)  # the empty line between header and body
        return end if nl < 0 else nl + 1

    def _header_block(self, fields: list[tuple[str, str]], pos: int, block_end: int, end: int) -> int:
        """`_headers` once the first empty line (or the end), `block_end`, is known."""
        text = self.text
        if pos and text[pos - 1] != "\n":
            raise _Fallback  # not reached: entities start on a line (the "^" of _FIELDS relies on it)
        if COMPILED:
            found, lines_end = _field_lines(text, pos, block_end)
            if lines_end < block_end:  # (not reached: `block_end` is the first empty line)
                found = None  # where _FIELDS would find its last ("", ""): the exact way
        else:
            found = _FIELDS.findall(text, pos, block_end)
            if found and not found[-1][0]:
                found = None  # a line that is no header line: the exact way
        return self._block_fields(fields, found, pos, block_end, end)

    def _headers_exact(self, fields: list[tuple[str, str]], pos: int, end: int) -> int:
        """`_headers` for a block that does not simply run up to an empty line."""
        text = self.text
        # the header lines, as far as the feed parser's line test accepts them
        lines = _HEADER_BLOCK.match(text, pos, end)
        block_end = body = lines.end() if lines else pos
        if block_end < end and text[block_end] in "\r\n":  # the empty line between header and body
            nl = text.find("\n", block_end, end)
            body = end if nl < 0 else nl + 1
        if text.startswith("From ", pos) or text.find("\nFrom ", pos, block_end) >= 0:
            return self._headers_by_line(fields, pos, end)
        found = _FIELDS.findall(text, pos, block_end)
        if self.has_cr:
            found = [(name, value.rstrip("\r\n")) for name, value in found]
        fields.extend(found)
        return body

    def _headers_by_line(self, fields: list[tuple[str, str]], pos: int, end: int) -> int:
        """`_headers` line by line, for blocks with "From " lines (an envelope line or worse)."""
        text = self.text
        lines: list[str] = []
        body = end
        while pos < end:
            nl = text.find("\n", pos, end)
            line_end = end if nl < 0 else nl + 1
            line = text[pos:line_end]
            if not _HEADER_LINE.match(line):
                # an empty line separates header and body; any other line already is body
                body = line_end if line[0] in "\r\n" else pos
                break
            lines.append(line)
            pos = line_end
        value: list[str] = []
        last = len(lines) - 1
        for lineno, line in enumerate(lines):
            if line[0] in " \t":
                if value:  # a continuation line; one with no field before it is dropped
                    value.append(line)
                continue
            if value:
                fields.append(_source_parse(value))
                value = []
            if line.startswith("From "):
                if lineno == last and lineno:
                    raise _Fallback  # the feed parser pushes it back into a body it reorders
                continue  # the envelope line (the stdlib's unixfrom, unused here) or a dropped line
            if line.find(":") == 0:
                continue
            value = [line]
        if value:
            fields.append(_source_parse(value))
        return body

    def _boundary_at(self, sep: str, i: int) -> tuple[int, int, bool] | None:
        """Whether the line starting at `i` is the boundary `sep`: (start, end, is_close)."""
        text = self.text
        if not text.startswith(sep, i):
            return None
        j = i + len(sep)
        close = text.startswith("--", j)
        if close:
            j += 2
        n = len(text)
        while j < n and text[j] in " \t":
            j += 1
        if j >= n:
            return i, j, close
        if text[j] == "\n":
            return i, j + 1, close
        if text.startswith("\r\n", j):
            return i, j + 2, close
        # anything else on the line: not a boundary (a failed close marker cannot backtrack into
        # a plain boundary either, as "-" is neither blank nor a line end)
        return None

    def _boundary_line(
        self, sep: str, pos: int, end: int, at_pos: bool = True
    ) -> tuple[int, int, bool] | None:
        """The first line in [pos, end) that is the boundary `sep`: (start, end, is_close).

        at_pos=False: the caller already found that the line at `pos` is not the boundary.
        """
        text = self.text
        if at_pos and pos < end and (pos == 0 or text[pos - 1] == "\n"):  # `pos` itself starts a line
            hit = self._boundary_at(sep, pos)
            if hit is not None and pos + len(sep) <= end:
                return hit
        line_sep = "\n" + sep  # elsewhere a boundary follows a line break (bare CRs never get here)
        while True:
            i = text.find(line_sep, pos, end)
            if i < 0:
                return None
            pos = i + 1
            hit = self._boundary_at(sep, i + 1)
            if hit is not None:
                return hit

    def _entity(self, pos: int, end: int, default_type: str, depth: int) -> tuple[Part, Part, bool]:
        """Parse the entity in [pos, end).

        Returns it, the last part created inside it (the one whose final line break belongs to
        the next boundary) and whether that last part is a multipart (whose final line break
        goes to its epilogue, which is not kept).
        """
        if depth > MAX_DEPTH:
            raise _Fallback
        self._count()
        fields: list[tuple[str, str]] = []
        body = self._headers(fields, pos, end)
        ctype = _content_type_of(fields, default_type)
        part = Part(fields, ctype)
        if ctype == "message/delivery-status":
            return part, self._status_blocks(part, body, end), False
        maintype = ctype.partition("/")[0]
        if maintype == "message":
            inner, last, last_multipart = self._entity(body, end, "text/plain", depth + 1)
            part.children = [inner]
            return part, last, last_multipart
        if maintype == "multipart":
            self._multipart(part, body, end, depth)
            return part, part, True
        part.body = self.text[body:end]
        return part, part, False

    def _multipart(self, part: Part, pos: int, end: int, depth: int) -> None:
        text = self.text
        boundary = _boundary_of(part.fields)
        if boundary is None:
            part.body = text[pos:end]
            return
        if "\n" in boundary or "\r" in boundary:
            raise _Fallback  # a folded parameter: the feed parser's line-by-line test never matches it
        sep = "--" + boundary
        hit = self._boundary_line(sep, pos, end)
        if hit is None or hit[2]:
            # no start boundary: everything before the close boundary (or the end) is the payload
            part.body = text[pos : hit[0] if hit else end]
            return
        child_type = "message/rfc822" if part.ctype == "multipart/digest" else "text/plain"
        children: list[Part] = []
        part.children = children
        while True:
            start = hit[1]
            while start < end:  # repeated boundary lines (even a close one) open no empty parts
                again = self._boundary_at(sep, start)
                if again is None:
                    break
                start = again[1]
            hit = self._boundary_line(sep, start, end, False)
            part_end = hit[0] if hit else end
            child, last, last_multipart = self._entity(start, part_end, child_type, depth + 1)
            children.append(child)
            if not last_multipart:
                # RFC 2046: the line break before a boundary belongs to the boundary, not the part
                last.body = _strip_eol(last.body)
            if hit is None or hit[2]:
                return  # no close boundary, or the close boundary (the epilogue is not kept)

    def _status_blocks(self, part: Part, pos: int, end: int) -> Part:
        """message/delivery-status: header blocks separated by empty lines, each a part.

        Returns the last block. Usually every line is a field, a line compat32 drops or an
        empty line: one regex pass then reads them all; otherwise `_status_blocks_exact`.
        """
        text = self.text
        if pos and text[pos - 1] != "\n":
            raise _Fallback  # not reached: entities start on a line (the "^" of _STATUS_LINES relies on it)
        if self.entities + text.count("\n\n", pos, end) > MAX_ENTITIES:
            raise _TooManyParts  # (blocks are at least as many as "\n\n"s: no need to read them first)
        lines = _STATUS_LINES.findall(text, pos, end)
        if lines and not any(lines[-1]):  # a line that is none of those: the exact way
            return self._status_blocks_exact(part, pos, end)
        has_cr = self.has_cr
        maybe_typed = False  # whether a field name has the length of "Content-Type"
        block_fields: list[list[tuple[str, str]]] = []
        fields: list[tuple[str, str]] | None = []  # those of the open block (None: none open)
        for name, value, empty_line, _dropped in lines:
            if fields is None:  # a line after an empty line opens the next block
                fields = []
            if name:
                fields.append((name, value.rstrip("\r\n") if has_cr else value))
                maybe_typed = maybe_typed or len(name) == 12
            elif empty_line:  # ends the block (one after it only opens if a line follows)
                block_fields.append(fields)
                fields = None
        if fields is not None:
            block_fields.append(fields)
        self.entities += len(block_fields)
        if self.entities > MAX_ENTITIES:
            raise _TooManyParts
        blocks = [Part(f, _status_block_type(f) if maybe_typed else "text/plain") for f in block_fields]
        part.children = blocks
        return blocks[-1]

    def _status_blocks_exact(self, part: Part, pos: int, end: int) -> Part:
        """`_status_blocks` block by block, for blocks with lines that end their header early."""
        text = self.text
        blocks: list[Part] = []
        part.children = blocks
        while True:
            self._count()
            fields: list[tuple[str, str]] = []
            stop = self._empty_line(pos, end)  # the block ends at the first empty line (or the end)
            body = self._header_block(fields, pos, stop, stop)
            block = Part(fields, _status_block_type(fields), text[body:stop])
            blocks.append(block)
            pos = stop
            if pos < end:  # consume the empty line
                nl = text.find("\n", pos, end)
                pos = end if nl < 0 else nl + 1
            if pos >= end:
                return block


def _status_block_type(fields: list[tuple[str, str]]) -> str:
    """The content type of a delivery-status block; a structured one is left to the stdlib."""
    ctype = _content_type_of(fields, "text/plain")
    if ctype.startswith("multipart/") or ctype.startswith("message/"):
        raise _Fallback
    return ctype
