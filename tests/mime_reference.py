"""The bounce MIME layer as it was before fastmime built its own parts: the reference its
replacement is compared with (tests/test_mime_equivalence.py).

A frozen copy of smtpdiag.bounce.mime's functions over stdlib `email.message.Message` trees
(fastmime then built exactly the stdlib's tree) and of the Context views that read the message.
Shared helpers that did not change (charset and header decoding, Parts) come from the package.
"""

from __future__ import annotations

import email
import itertools
from email.message import Message
from email.policy import compat32
from typing import Any

from smtpdiag.bounce.fastmime import plain_param
from smtpdiag.bounce.mime import (
    BOUNDARY_RE,
    GLOBAL_DSN_RE,
    GLOBAL_DSN_TEXT_TYPE,
    MAX_MESSAGE_BYTES,
    MAX_PARTS,
    MAX_TEXT_CHARS,
    MBOX_FROM_RE,
    ORIGINAL_FIELDS,
    Parts,
    _unescape,
    decode_bytes,
    decode_header,
    html_to_text,
)


def _first_raw(msg: Message, name: str) -> str | None:
    """The first raw value of a header field (what `Message.get` fetches), without the fetch policy."""
    for k, v in msg.raw_items():
        if k.lower() == name:
            return v
    return None


def part_text(part: Message) -> str:
    """The decoded text of one non-multipart MIME part."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        # Both lookups parse every Content-Type parameter; a plain value is read directly
        # (for an ASCII name, get_content_charset is get_param lower-cased).
        ctype_raw = _first_raw(part, "content-type")
        plain, charset = (True, None) if ctype_raw is None else plain_param(ctype_raw, "charset")
        cs: object
        if plain:
            cs = (charset.lower() or charset) if charset is not None else None
        else:
            cs = part.get_content_charset() or part.get_param("charset")
        text = decode_bytes(payload, cs if isinstance(cs, str) else None)
    else:
        raw = part.get_payload()
        text = raw if isinstance(raw, str) else ""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[:MAX_TEXT_CHARS]


def parse_bytes(data: bytes) -> Message:
    data = data[:MAX_MESSAGE_BYTES]
    m = MBOX_FROM_RE.match(data)
    if m:
        data = data[m.end() :]
    if b"lobal-delivery-status" in data:
        # RFC 6533 reports carry UTF-8 fields; parsed as message/* the stdlib replaces those bytes.
        # Read them as a text part instead and decode the bytes ourselves.
        data = GLOBAL_DSN_RE.sub(GLOBAL_DSN_TEXT_TYPE.encode(), data)
    return email.message_from_bytes(data, policy=compat32)


def _headers_text(msg: Message) -> str:
    """The fields of a returned message that bounce analysis reports (not its Received trail)."""
    lines = []
    # raw_items + the policy's fetch for the few fields kept is what items() gives for them,
    # without fetching (sanitizing) every field of a long Received trail.
    # (Any: compat32's fetch may return an email.header.Header, not the str typeshed promises)
    fetch: Any = msg.policy.header_fetch_parse
    for k, v in itertools.islice(msg.raw_items(), 200):
        if k.lower() in ORIGINAL_FIELDS:
            lines.append(f"{k}: {decode_header(fetch(k, v))}")
    return "\n".join(lines)


def walk_parts(msg: Message) -> Parts:
    out = Parts()
    texts: list[str] = []
    htmls: list[str] = []
    stack: list[Message] = [msg]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop(0)
        seen += 1
        ctype = part.get_content_type()
        out.content_types.append(ctype)
        if ctype in ("message/delivery-status", "message/global-delivery-status", GLOBAL_DSN_TEXT_TYPE):
            out.status_blocks.append(_status_text(part))
            continue
        if ctype in ("message/rfc822", "message/global", "message/partial"):
            if not out.original_headers:
                inner = part.get_payload()
                if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                    out.original_headers = _headers_text(inner[0])
                    body = inner[0].get_payload()
                    if isinstance(body, str):
                        out.original_body = body[:4096]
                elif isinstance(inner, str):
                    out.original_headers = inner[:MAX_TEXT_CHARS]
            continue
        if ctype in ("text/rfc822-headers", "text/global-headers", "text/rfc822"):
            if not out.original_headers:
                out.original_headers = part_text(part)
            continue
        if ctype == "message/feedback-report":
            out.feedback_report = _status_text(part)
            continue
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack[0:0] = [p for p in payload if isinstance(p, Message)]
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
        elif part is msg:
            texts.append(part_text(part))
    if not texts and htmls:
        texts = [html_to_text(h) for h in htmls]
    out.text = "\n".join(texts)[:MAX_TEXT_CHARS]
    return out


def _split_unparsed_multipart(part: Message) -> list[Message]:
    """Parts of a multipart whose boundary parameter sits on an unfolded header line.

    Some mail systems write `boundary=...` on a line of its own without the leading whitespace
    that would continue the Content-Type header; the parser then sees no boundary at all.
    """
    payload = part.get_payload()
    if not isinstance(payload, str):
        return []
    m = BOUNDARY_RE.search(payload[:2000])
    if not m:
        return []
    delim = "--" + m.group(1)
    chunks = payload[m.end() :].split(delim)
    out: list[Message] = []
    for chunk in chunks[1 : MAX_PARTS + 1]:
        if chunk.startswith("--"):
            break
        out.append(email.message_from_string(chunk.lstrip("\r\n"), policy=compat32))
    return out


def _status_text(part: Message) -> str:
    """The raw text of a message/delivery-status (or feedback-report) part.

    compat32 parses delivery-status payloads into a list of header blocks; turning them back into
    text keeps one parser (fields.py) for both this and status blocks embedded in plain text.
    """
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = []
        for block in payload:
            if isinstance(block, Message):
                blocks.append("\n".join([f"{k}: {_field_text(block, k, v)}" for k, v in block.raw_items()]))
                rest = block.get_payload()
                if isinstance(rest, str) and rest.strip():
                    # Blocks the parser did not split (non-ASCII fields, odd line ends) end up as a body.
                    blocks.append(_unescape(rest).replace("\r\n", "\n"))
        return "\n\n".join(blocks)[:MAX_TEXT_CHARS]
    return part_text(part)


def _field_text(block: Message, name: str, raw: Any) -> str:
    """The decoded value of one field of a status block (as read through `block.items()`)."""
    if isinstance(raw, str) and raw.isascii() and "=?" not in raw:
        # ASCII: the fetch policy returns it unchanged; without encoded-words decoding adds no
        # 8-bit text either, so there is nothing to unescape
        return decode_header(raw)
    policy: Any = block.policy  # its fetch may return an email.header.Header, not the str typeshed says
    return _unescape(decode_header(policy.header_fetch_parse(name, raw)))


def raw_headers(msg: Message) -> dict[str, str]:
    """Context.raw_headers as it was."""
    first: dict[str, str] = {}
    for k, v in msg.raw_items():
        first.setdefault(k.lower(), v)
    return first


def header(msg: Message, name: str) -> str:
    """Context.header as it was."""
    v: Any = raw_headers(msg).get(name.lower())
    if v is None:
        return ""
    if not (isinstance(v, str) and v.isascii()):
        message: Any = msg
        v = message.get(name)
    return decode_header(v) if v is not None else ""


def received(msg: Message) -> list[str]:
    """Context.received as it was."""
    return [decode_header(v) for v in (msg.get_all("Received") or [])[:30]]


def report_type(msg: Message) -> Any:
    """What arf.detect asked the message."""
    return msg.get_param("report-type")
