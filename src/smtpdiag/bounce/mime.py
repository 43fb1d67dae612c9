"""Reading a bounce email: bytes -> a parsed MIME tree -> the parts the format modules need.

fastmime parses the message into light `Part`s with the structure the stdlib `email` package
(policy compat32: it never raises on broken headers) would find; the stdlib still does the odd
cases, RFC 2047 and charset work. This module adds what bounces need on top of it: decoding
text in any charset (declared, mis-declared or undeclared), finding the delivery-status part,
the returned original message, and the human-readable text, all within fixed size limits.
"""

from __future__ import annotations

import codecs
import email
import email.header
import itertools
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Final

from smtpdiag.bounce import fastmime
from smtpdiag.bounce.fastmime import Part
from smtpdiag.bounce.fields import FIELD_LINE_RE, MAX_FIELD_CHARS

MAX_MESSAGE_BYTES: Final = 2 * 1024 * 1024  # bytes of a message parsed; the rest is not needed to judge it
MAX_TEXT_CHARS: Final = 256 * 1024  # characters of human-readable text kept for the format modules
MAX_PARTS: Final = 64  # MIME parts walked per message
MAX_HEADER_CHARS: Final = 8192  # characters of one decoded header value

# Charset names seen in the wild that Python does not know, mapped to what they mean.
CHARSET_ALIASES: Final[dict[str, str]] = {
    "iso-2022-jp-ms": "iso2022_jp_ext",
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "us-ascii": "utf-8",  # 8-bit bytes under a us-ascii label are usually UTF-8
    "ascii": "utf-8",
    "ks_c_5601-1987": "cp949",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "utf8": "utf-8",
    "cp-850": "cp850",
}

MBOX_FROM_RE: Final = re.compile(rb"\AFrom [^\r\n]{0,1000}\r?\n")


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    name = CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Text from bytes: the declared charset if it works, else UTF-8, else a Japanese guess, else Latin-1."""
    codec = _codec(charset)
    if codec:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x1b$" in data:
        try:
            return data.decode("iso2022_jp_ext")
        except UnicodeDecodeError:
            pass
    for guess in ("shift_jis", "euc_jp") if codec in ("shift_jis", "euc_jp", None) else ():
        try:
            return data.decode(guess)
        except UnicodeDecodeError:
            pass
    return data.decode(codec or "latin-1", errors="replace")


def decode_header(value: object) -> str:
    """A header value as text: RFC 2047 encoded-words decoded, unknown charsets tolerated."""
    if value is None:
        return ""
    raw = str(value)
    raw = raw[:MAX_HEADER_CHARS]
    if "=?" not in raw:
        return " ".join(raw.split())
    try:
        parts = email.header.decode_header(raw)
    except Exception:
        return " ".join(raw.split())
    out: list[str] = []
    for chunk, cs in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, cs))
        else:
            out.append(chunk)
    return " ".join("".join(out).split())


def _first_raw(msg: Message, name: str) -> object:
    """The first raw value of a header field (what `Message.get` fetches), without the fetch policy."""
    items: Any = msg.raw_items()  # values are not always str (other policies store header objects)
    for k, v in items:
        if k.lower() == name:
            return v
    return None


def part_text(part: Part) -> str:
    """The decoded text of one non-multipart MIME part."""
    try:
        payload = fastmime.decoded_payload(part)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        # Both lookups parse every Content-Type parameter; a plain value is read directly
        # (for an ASCII name, get_content_charset is get_param lower-cased).
        source = part.source
        ctype_raw = part.first("content-type") if source is None else _first_raw(source, "content-type")
        plain, charset = (True, None) if ctype_raw is None else fastmime.plain_param(ctype_raw, "charset")
        cs: object
        if plain:
            cs = (charset.lower() or charset) if charset is not None else None
        else:
            msg = source if source is not None else fastmime.headers_message(part.fields)
            cs = msg.get_content_charset() or msg.get_param("charset")
        text = decode_bytes(payload, cs if isinstance(cs, str) else None)
    else:
        text = fastmime.payload_text(part) or ""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[:MAX_TEXT_CHARS]


#: What the pipeline holds: our tree from `parse_bytes`, or a stdlib Message a caller gave
#: (`walk_parts` and `Context` take both and convert the latter).
ParsedMessage = Part | Message


def parse_bytes(data: bytes) -> ParsedMessage:
    data = data[:MAX_MESSAGE_BYTES]
    m = MBOX_FROM_RE.match(data)
    if m:
        data = data[m.end() :]
    if b"lobal-delivery-status" in data:
        # RFC 6533 reports carry UTF-8 fields; parsed as message/* the stdlib replaces those bytes.
        # Read them as a text part instead and decode the bytes ourselves.
        data = GLOBAL_DSN_RE.sub(GLOBAL_DSN_TEXT_TYPE.encode(), data)
    return fastmime.parse(data)  # the stdlib's tree, built faster and lighter


GLOBAL_DSN_RE: Final = re.compile(rb"(?i)message/global-delivery-status")
GLOBAL_DSN_TEXT_TYPE: Final = "text/x-global-delivery-status"


@dataclass(slots=True)
class OriginalMessage:
    message_id: str = ""
    from_: str = ""
    to: str = ""
    subject: str = ""


@dataclass(slots=True)
class Parts:
    """What the walk over a message's MIME tree found."""

    text: str = ""  # human-readable text (text/plain parts; text/html when there is no plain)
    status_blocks: list[str] = field(default_factory=list)  # message/(global-)delivery-status texts
    feedback_report: str = ""  # message/feedback-report text (ARF)
    original_headers: str = ""  # headers of the returned message (message/rfc822 or text/rfc822-headers)
    original_body: str = ""
    # Context.original_fields of `original_headers` when walk_parts wrote that text from the
    # returned message's fields (None: the text has to be parsed, as for any other source)
    original_fields: dict[str, str] | None = None
    # Context.status_blocks of `status_blocks` when walk_parts could read them from the parts'
    # fields (None: the texts have to be parsed, as for any other source)
    status_fields: list[dict[str, str]] | None = None
    json_parts: list[str] = field(default_factory=list)  # application/json parts (Amazon SES)
    content_types: list[str] = field(default_factory=list)


HTML_TAG_RE: Final = re.compile(r"<[^<>]{0,2000}>")
HTML_BREAK_RE: Final = re.compile(r"(?i)<(?:br|/p|/div|/tr|p|div|tr)\b[^<>]{0,200}>")


def html_to_text(html: str) -> str:
    import html as html_mod

    text = HTML_BREAK_RE.sub("\n", html)
    text = HTML_TAG_RE.sub("", text)
    return html_mod.unescape(text)


ORIGINAL_FIELDS: Final = frozenset({"message-id", "from", "to", "subject", "date", "cc"})


def _headers_text(msg: Part) -> str:
    """The fields of a returned message that bounce analysis reports (not its Received trail)."""
    return _original_headers(msg)[0]


#: The fields Context.original_fields reports, in the order it reads them.
ORIGINAL_VIEW_FIELDS: Final = ("message-id", "from", "to", "subject")


def _original_headers(msg: Part) -> tuple[str, dict[str, str]]:
    """`_headers_text(msg)` and what Context.original_fields makes of that text.

    The text is one line "Name: value" per field, the value decoded with its blanks collapsed
    (no line break left in it). fields.parse_field_blocks reads such a line as the name and
    the value cut where the line is cut (MAX_FIELD_CHARS characters), stripped; the first of
    each name counts; there is no blank line, so it is all one block. original_fields then
    decodes the values again. Doing the same here saves splitting and matching the text again.
    """
    lines: list[str] = []
    first: dict[str, str] = {}
    # the raw fields + the policy's fetch for the few fields kept is what items() gives for
    # them, without fetching (sanitizing) every field of a long Received trail
    for k, v in itertools.islice(msg.fields, 200):
        key = k.lower()
        if key in ORIGINAL_FIELDS:
            value = decode_header(msg.fetch(k, v))
            lines.append(f"{k}: {value}")
            if key not in first:
                first[key] = value[: MAX_FIELD_CHARS - len(k) - 2].strip()
    view: dict[str, str] = {}
    for key in ORIGINAL_VIEW_FIELDS:
        if key in first:
            view[key] = decode_header(first[key])
    return "\n".join(lines), view


def walk_parts(msg: Part | Message) -> Parts:
    """What the format modules need from a message's MIME tree (a stdlib tree is converted)."""
    root = msg if isinstance(msg, Part) else fastmime.from_message(msg)
    out = Parts()
    texts: list[str] = []
    htmls: list[str] = []
    stack: list[Part] = [root]
    status_fields: list[dict[str, str]] | None = []  # None once a status part's text must be parsed
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop(0)
        seen += 1
        ctype = part.ctype
        out.content_types.append(ctype)
        if ctype in ("message/delivery-status", "message/global-delivery-status", GLOBAL_DSN_TEXT_TYPE):
            text, blocks = _status_text_and_fields(part)
            out.status_blocks.append(text)
            if status_fields is not None:
                if blocks is None:
                    status_fields = None
                else:
                    status_fields.extend(blocks)
            continue
        if ctype in ("message/rfc822", "message/global", "message/partial"):
            if not out.original_headers:
                inner = part.children
                if inner:
                    out.original_headers, fields_view = _original_headers(inner[0])
                    if out.original_headers:
                        out.original_fields = fields_view
                    body = fastmime.payload_text(inner[0])
                    if body is not None:
                        out.original_body = body[:4096]
                elif inner is None:
                    unparsed = fastmime.payload_text(part)
                    if unparsed is not None:
                        out.original_headers = unparsed[:MAX_TEXT_CHARS]
            continue
        if ctype in ("text/rfc822-headers", "text/global-headers", "text/rfc822"):
            if not out.original_headers:
                out.original_headers = part_text(part)
            continue
        if ctype == "message/feedback-report":
            out.feedback_report = _status_text(part)
            continue
        if part.children is not None:  # the stdlib's is_multipart(): a list payload
            stack[0:0] = part.children
            continue
        if ctype.startswith("multipart/"):
            inner_parts = _split_unparsed_multipart(part)
            if inner_parts:
                stack[0:0] = inner_parts
                continue
        if (
            ctype == "text/plain"
            or ctype == "text/plain-bounce"
            or (ctype.startswith("text/") and ctype != "text/html")
        ):
            texts.append(part_text(part))
        elif ctype == "text/html":
            htmls.append(part_text(part))
        elif ctype == "application/json":
            out.json_parts.append(part_text(part))
        elif part is root:
            texts.append(part_text(part))
    if not texts and htmls:
        texts = [html_to_text(h) for h in htmls]
    out.text = "\n".join(texts)[:MAX_TEXT_CHARS]
    out.status_fields = status_fields
    return out


BOUNDARY_RE: Final = re.compile(r'(?im)^\s{0,8}boundary\s{0,4}=\s{0,4}"?([^"\s;]{1,200})"?')


def _split_unparsed_multipart(part: Part) -> list[Part]:
    """Parts of a multipart whose boundary parameter sits on an unfolded header line.

    Some mail systems write `boundary=...` on a line of its own without the leading whitespace
    that would continue the Content-Type header; the parser then sees no boundary at all.
    """
    payload = fastmime.payload_text(part)
    if payload is None:
        return []
    m = BOUNDARY_RE.search(payload[:2000])
    if not m:
        return []
    delim = "--" + m.group(1)
    chunks = payload[m.end() :].split(delim)
    out: list[Part] = []
    for chunk in chunks[1 : MAX_PARTS + 1]:
        if chunk.startswith("--"):
            break
        out.append(fastmime.parse_text(chunk.lstrip("\r\n")))
    return out


def _status_text(part: Part) -> str:
    """The raw text of a message/delivery-status (or feedback-report) part.

    compat32 parses delivery-status payloads into a list of header blocks; turning them back into
    text keeps one parser (fields.py) for both this and status blocks embedded in plain text.
    """
    return _status_text_and_fields(part)[0]


def _status_text_and_fields(part: Part) -> tuple[str, list[dict[str, str]] | None]:
    """`_status_text(part)` and fields.parse_field_blocks of that text, read from the fields.

    When every block is fields only and every value is ASCII without encoded-words, the text
    is the blocks' lines "Name: value" (the value's blanks collapsed: no line break in it),
    blank lines between the blocks, and parse_field_blocks' reading of it is known line by
    line (`_add_status_field`). Otherwise, or for a text cut at MAX_TEXT_CHARS, the blocks are
    None: the text has to be parsed.
    """
    if part.children is None:
        return part_text(part), None
    blocks: list[str] = []
    view: list[dict[str, str]] | None = []
    for block in part.children:
        lines: list[str] = []
        cur: dict[str, str] = {}
        for name, raw in block.fields:
            if raw.isascii() and "=?" not in raw:
                # decode_header(raw) in short (the usual field; one call per field less)
                value = " ".join(raw[:MAX_HEADER_CHARS].split())
                lines.append(f"{name}: {value}")
                if view is not None:
                    cur = _add_status_field(view, cur, name, value)
            else:
                lines.append(f"{name}: {_field_text(block, name, raw)}")
                view = None
        blocks.append("\n".join(lines))
        if view is not None and cur:
            view.append(cur)
        if not block.body and block.source is None:
            continue  # all fields (the usual block): no text after them
        view = None
        rest = fastmime.payload_text(block)
        if rest is not None and rest.strip():
            # Blocks the parser did not split (non-ASCII fields, odd line ends) end up as a body.
            blocks.append(_unescape(rest).replace("\r\n", "\n"))
    text = "\n\n".join(blocks)[:MAX_TEXT_CHARS]
    if len(text) >= MAX_TEXT_CHARS:
        view = None
    return text, view


# Field names of delivery-status blocks (all of them names FIELD_LINE_RE takes whole): looked up
# before the character tests of `_plain_field_name`.
STATUS_FIELD_NAMES: Final = frozenset(
    {
        "reporting-mta", "received-from-mta", "arrival-date", "original-envelope-id", "dsn-gateway",
        "final-recipient", "original-recipient", "action", "status", "remote-mta", "diagnostic-code",
        "last-attempt-date", "will-retry-until", "final-log-id", "x-postfix-queue-id",
        "x-postfix-sender", "x-actual-recipient", "x-display-name", "x-original-message-id",
    }
)  # fmt: skip


def _add_status_field(
    view: list[dict[str, str]], cur: dict[str, str], name: str, value: str
) -> dict[str, str]:
    """Read the line "name: value" of a status block as fields.parse_field_blocks reads it.

    `cur` is the open block; returns the open block after the line (a second Final-Recipient
    closes `cur` into `view` and opens another). The value has no line break and no blanks at
    either end: for a name FIELD_LINE_RE takes whole, the field is the lower-cased name and the
    value cut where the line is cut (MAX_FIELD_CHARS), stripped; for any other name the regex
    itself says. The first of a name in a block counts.
    """
    key = name.lower()
    if (key in STATUS_FIELD_NAMES and name.isascii()) or _plain_field_name(name):
        value = value[: MAX_FIELD_CHARS - len(name) - 2].strip()
    else:
        found = FIELD_LINE_RE.match(f"{name}: {value}".rstrip(), 0, MAX_FIELD_CHARS)
        if found is None:
            return cur
        key = found.group(1).lower()
        value = found.group(2).strip()
    if key in cur:
        if key != "final-recipient":
            return cur
        view.append(cur)
        cur = {}
    cur[key] = value
    return cur


def _plain_field_name(name: str) -> bool:
    """Whether FIELD_LINE_RE's name group, [A-Za-z][A-Za-z0-9-]{1,40}, takes all of `name`."""
    return 2 <= len(name) <= 41 and name.isascii() and name[0].isalpha() and name.replace("-", "").isalnum()


def _field_text(block: Part, name: str, raw: str) -> str:
    """The decoded value of one field of a status block (as read through `Message.items()`)."""
    if raw.isascii() and "=?" not in raw:
        # ASCII: compat32's fetch returns it unchanged; without encoded-words decoding adds no
        # 8-bit text either, so there is nothing to unescape
        return decode_header(raw)
    return _unescape(decode_header(block.fetch(name, raw)))  # (Any: may be a Header)


SURROGATE_RE: Final = re.compile("[" + chr(0xDC80) + "-" + chr(0xDCFF) + "]")  # escaped 8-bit bytes


def _unescape(text: str) -> str:
    """Undo the parser's surrogate escapes of 8-bit bytes (UTF-8 in RFC 6533 reports, Latin-1 elsewhere)."""
    if not SURROGATE_RE.search(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    return decode_bytes(raw, "utf-8")
