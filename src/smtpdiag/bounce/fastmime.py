"""A faster route to the same `email.message.Message` tree the stdlib feed parser builds.

    message_from_bytes(data) -> Message      # same tree as email.message_from_bytes(data, policy=compat32)

Why: the stdlib `FeedParser` reads every line of every part through a generator, a line queue
and a stack of boundary matchers; for a bounce that returns the original message (often with its
own attachments and a long Received trail) most of the analysis time went there. Here the body
of a part is one slice of the text and the parts of a multipart are found with `str.find` on
their boundary, so only header lines are visited one by one.

What stays with the stdlib: the message objects (`Message`), the splitting of a header field
into name and value (`compat32.header_source_parse`), content types, parameters and boundaries
(`get_content_type`, `get_boundary`), and everything done later with the tree (transfer and
RFC 2047 decoding, charsets). What this module does is only the structure, following the feed
parser's rules to the letter: where a header block ends, which lines are boundaries (RFC 2046:
the line break before a boundary belongs to it), preambles, epilogues, repeated boundaries,
missing start or close boundaries, message/delivery-status blocks, multipart/digest defaults.
Parse defects are not recorded (nothing in smtpdiag reads them).

Anything outside the well-trodden cases (bare CR line ends, a "From " line ending a header
block, more than `MAX_ENTITIES` parts or `MAX_DEPTH` levels of nesting, a structured type inside
a delivery-status block) is handed to the stdlib parser whole, so the result is always the
stdlib's. tests/test_fastmime.py compares the two trees on the corpus and on mutated messages.
"""

from __future__ import annotations

import email
import email.feedparser
import re
from email.message import Message
from email.policy import compat32
from typing import Final, cast

MAX_ENTITIES: Final = 1000  # message objects built for one message before the stdlib takes over
MAX_DEPTH: Final = 40  # nesting of multiparts and message/* parts before the stdlib takes over

_source_parse = compat32.header_source_parse
# The feed parser's own test for "still a header line": taken from it so the two never disagree.
_HEADER_LINE: Final = cast("re.Pattern[str]", email.feedparser.headerRE)  # type: ignore[attr-defined]
# The first line of a body: any line the feed parser's test rejects (one linear scan of the block).
_BODY_LINE: Final = re.compile("^(?!" + _HEADER_LINE.pattern.removeprefix("^") + ")", re.MULTILINE)
_BARE_CR: Final = re.compile("\r(?!\n)")
# Where a header field starts: a line that does not continue the previous one.
_FIELD_START: Final = re.compile(r"\n(?=[^ \t])")


# Attribute under which `_entity` leaves the content type it computed on each message it built.
# The trees are private to the bounce pipeline and never edited after parsing, so it cannot go
# stale; messages from elsewhere lack it and `content_type` asks the message itself.
CTYPE_ATTR: Final = "_smtpdiag_ctype"


def content_type(msg: Message) -> str:
    """`msg.get_content_type()`, from the value remembered at parse time when there is one."""
    ctype = vars(msg).get(CTYPE_ATTR)
    return ctype if isinstance(ctype, str) else msg.get_content_type()


def _content_type_of(msg: Message) -> str:
    """`msg.get_content_type()` for a message just parsed, without the fetch-policy round trip.

    The same steps on the first Content-Type field: the part before ";", stripped and
    lower-cased, "text/plain" unless it has exactly one "/", the default type when the field is
    missing. A non-ASCII value (8-bit bytes, which compat32 fetches as a Header) is left to
    `get_content_type` itself.
    """
    for name, value in vars(msg)["_headers"]:
        if name.lower() == "content-type":
            if not (isinstance(value, str) and value.isascii()):
                return msg.get_content_type()
            ctype: str = value.partition(";")[0].strip().lower()
            return ctype if ctype.count("/") == 1 else "text/plain"
    return msg.get_default_type()


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


def _boundary_of(msg: Message) -> str | None:
    """`msg.get_boundary()`: for a plain Content-Type, its boundary parameter less trailing blanks."""
    raw = None
    for name, value in vars(msg)["_headers"]:
        if name.lower() == "content-type":
            raw = value
            break
    plain, boundary = plain_param(raw, "boundary")
    if not plain:
        return msg.get_boundary()
    return None if boundary is None else boundary.rstrip()


class _Fallback(Exception):
    """The message needs the stdlib parser (a case this module does not reproduce)."""


def message_from_bytes(data: bytes) -> Message:
    """Parse like `email.message_from_bytes(data, policy=compat32)`, faster on large bodies."""
    text = data.decode("ascii", "surrogateescape")
    if "\r" in text and _BARE_CR.search(text):
        # bare CR line ends: the feed parser splits lines on them too; not reproduced here
        return email.message_from_bytes(data, policy=compat32)
    try:
        return _Parser(text).message()
    except (_Fallback, RecursionError):
        return email.message_from_bytes(data, policy=compat32)


def _strip_eol(value: str) -> str:
    if value.endswith("\r\n"):
        return value[:-2]
    if value.endswith("\n") or value.endswith("\r"):
        return value[:-1]
    return value


class _Parser:
    __slots__ = ("entities", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.entities = 0

    def message(self) -> Message:
        msg, _last, _multipart = self._entity(0, len(self.text), False, 0)
        return msg

    def _new(self, digest_child: bool) -> Message:
        self.entities += 1
        if self.entities > MAX_ENTITIES:
            raise _Fallback
        msg = Message()
        if digest_child:
            msg.set_default_type("message/rfc822")
        return msg

    def _headers(self, msg: Message, pos: int, end: int) -> int:
        """Read the header block at `pos` into `msg`; return where the body starts."""
        text = self.text
        found = _BODY_LINE.search(text, pos, end)
        if found is None or found.start() >= end:
            block_end = body = end
        else:
            block_end = body = found.start()
            if text[block_end] in "\r\n":  # the empty line between header and body
                nl = text.find("\n", block_end, end)
                body = end if nl < 0 else nl + 1
        block = text[pos:block_end]
        if block.startswith("From ") or "\nFrom " in block:
            return self._headers_by_line(msg, pos, end)
        # Each chunk is a field with its continuation lines; one opening with blanks or ":" is
        # dropped. Appending to the field list is what compat32's Message.set_raw does.
        # Splitting name and value is compat32's header_source_parse inlined (a call per field
        # was a tenth of the parse): name up to the first ":", value with leading blanks of its
        # first line and the final line break stripped; every chunk here has a ":" (_HEADER_LINE).
        fields = vars(msg)["_headers"]
        for c in _FIELD_START.split(block):
            if c and c[0] not in " \t:":
                name, colon, value = c.partition(":")
                if not colon:
                    raise _Fallback
                fields.append((name, value.lstrip(" \t").rstrip("\r\n")))
        return body

    def _headers_by_line(self, msg: Message, pos: int, end: int) -> int:
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
                msg.set_raw(*_source_parse(value))
                value = []
            if line.startswith("From "):
                if lineno == 0:
                    msg.set_unixfrom(_strip_eol(line))
                    continue
                if lineno == last:
                    raise _Fallback  # the feed parser pushes it back into a body it reorders
                continue
            if line.find(":") == 0:
                continue
            value = [line]
        if value:
            msg.set_raw(*_source_parse(value))
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

    def _boundary_line(self, sep: str, pos: int, end: int) -> tuple[int, int, bool] | None:
        """The first line in [pos, end) that is the boundary `sep`: (start, end, is_close)."""
        text = self.text
        if pos < end and (pos == 0 or text[pos - 1] == "\n"):  # `pos` itself starts a line
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

    def _entity(self, pos: int, end: int, digest_child: bool, depth: int) -> tuple[Message, Message, bool]:
        """Parse the entity in [pos, end).

        Returns it, the last message created inside it (the one whose final line break belongs to
        the next boundary) and whether that last message is a multipart.
        """
        if depth > MAX_DEPTH:
            raise _Fallback
        msg = self._new(digest_child)
        body = self._headers(msg, pos, end)
        ctype = _content_type_of(msg)
        # remembered for mime.walk_parts, which would otherwise look it up again (see content_type)
        vars(msg)[CTYPE_ATTR] = ctype
        if ctype == "message/delivery-status":
            return msg, self._status_blocks(msg, body, end), False
        maintype = ctype.partition("/")[0]
        if maintype == "message":
            inner, last, last_multipart = self._entity(body, end, False, depth + 1)
            msg.attach(inner)
            return msg, last, last_multipart
        if maintype == "multipart":
            self._multipart(msg, ctype, body, end, depth)
            return msg, msg, True
        msg.set_payload(self.text[body:end])
        return msg, msg, False

    def _multipart(self, msg: Message, ctype: str, pos: int, end: int, depth: int) -> None:
        text = self.text
        boundary = _boundary_of(msg)
        if boundary is None:
            msg.set_payload(text[pos:end])
            return
        if "\n" in boundary or "\r" in boundary:
            raise _Fallback  # a folded parameter: the feed parser's line-by-line test never matches it
        sep = "--" + boundary
        hit = self._boundary_line(sep, pos, end)
        if hit is None or hit[2]:
            # no start boundary: everything before the close boundary (or the end) is the payload
            msg.set_payload(text[pos : hit[0] if hit else end])
            msg.epilogue = ""
            return
        if hit[0] > pos:
            msg.preamble = _strip_eol(text[pos : hit[0]])
        digest = ctype == "multipart/digest"
        while True:
            start = hit[1]
            while start < end:  # repeated boundary lines (even a close one) open no empty parts
                again = self._boundary_at(sep, start)
                if again is None:
                    break
                start = again[1]
            hit = self._boundary_line(sep, start, end)
            part_end = hit[0] if hit else end
            part, last, last_multipart = self._entity(start, part_end, digest, depth + 1)
            msg.attach(part)
            _drop_final_eol(last, last_multipart)
            if hit is None:
                return  # no close boundary
            if hit[2]:
                msg.epilogue = text[hit[1] : end]
                return

    def _status_blocks(self, msg: Message, pos: int, end: int) -> Message:
        """message/delivery-status: header blocks separated by empty lines, each a Message."""
        text = self.text
        last = msg
        while True:
            block = self._new(False)
            msg.attach(block)
            last = block
            # the block ends at the first empty line (or the end)
            stop = pos
            while stop < end and text[stop] not in "\r\n":
                nl = text.find("\n", stop, end)
                stop = end if nl < 0 else nl + 1
            body = self._headers(block, pos, stop)
            if block.get_content_maintype() in ("multipart", "message"):
                raise _Fallback
            block.set_payload(text[body:stop])
            pos = stop
            if pos < end:  # consume the empty line
                nl = text.find("\n", pos, end)
                pos = end if nl < 0 else nl + 1
            if pos >= end:
                return last


def _drop_final_eol(last: Message, multipart: bool) -> None:
    """RFC 2046: the line break before a boundary belongs to the boundary, not the part."""
    if multipart:
        epilogue = last.epilogue
        if epilogue == "":
            last.epilogue = None
        elif epilogue is not None:
            last.epilogue = _strip_eol(epilogue)
        return
    fields = vars(last)  # the feed parser edits the raw payload in place too
    payload = fields.get("_payload")
    if isinstance(payload, str):
        fields["_payload"] = _strip_eol(payload)
