"""The bounce pipeline's speed shortcuts give what the stdlib calls they skip would give.

Each shortcut (pre-checks on a raw Content-Type, header values read from the raw fields, the
content type computed at parse time) is compared with the `email.message.Message` answer.
"""

from __future__ import annotations

import email
import random
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest

from smtpdiag.bounce import fastmime
from smtpdiag.bounce.fields import parse_field_blocks
from smtpdiag.bounce.formats import arf
from smtpdiag.bounce.formats.base import Context, _inline_original_fields, _original_fields_of
from smtpdiag.bounce.mime import (
    _headers_text,
    _original_headers,
    _status_text,
    _status_text_and_fields,
    decode_header,
    part_text,
    walk_parts,
)


def _stdlib(data: bytes) -> Message:
    return email.message_from_bytes(data, policy=compat32)


REPORT_TYPES = [
    'multipart/report; report-type=feedback-report; boundary="b"',
    'multipart/report; report-type="feedback-report"; boundary="b"',
    'multipart/report; REPORT-TYPE=feedback-report; boundary="b"',
    'multipart/report; report-type="feedback\\-report"; boundary="b"',  # quoted-pair
    'multipart/report; report-type*0="feedback-"; report-type*1="report"; boundary="b"',  # RFC 2231
    "multipart/report; report-type*=us-ascii''feedback%2Dreport; boundary=\"b\"",
    'multipart/report; report-type=delivery-status; boundary="b"',
    'multipart/report; boundary="b"',
    'multipart/report; report-type=Feedback-Report; boundary="b"',
]


def _report(content_type: str) -> bytes:
    return (
        f"From: a@example.org\nContent-Type: {content_type}\n\n"
        "--b\nContent-Type: text/plain\n\nhello\n--b--\n"
    ).encode()


@pytest.mark.parametrize("ctype", REPORT_TYPES)
def test_arf_detect_agrees_with_get_param(ctype: str) -> None:
    msg = fastmime.parse(_report(ctype))
    ctx = Context(msg, walk_parts(msg))
    expected = (_stdlib(_report(ctype)).get_param("report-type") or "") == "feedback-report"
    assert arf.detect(ctx) is expected or (not expected and arf.is_unsubscribe_request(ctx))


@pytest.mark.parametrize(
    "ctype",
    [
        None,
        "text/plain",
        "text/plain; charset=koi8-r",
        'text/plain; CHARSET="utf-8"',
        "text/plain; charset*=utf-8''utf-8",
        "text/plain; format=flowed",
        'text/plain; charset="KOI8-R"; format=flowed',
        "text/plain; charset=",
        'text/plain; charset=""',
        'text/plain; name="a;b"; charset=koi8-r',
        "text/plain; charset=koi8-r; charset=utf-8",
    ],
)
def test_part_text_charset_shortcut(ctype: str | None) -> None:
    body = "Привет".encode("koi8-r")
    head = b"" if ctype is None else f"Content-Type: {ctype}\n".encode()
    data = head + b"Content-Transfer-Encoding: 8bit\n\n" + body
    part = _stdlib(data)
    cs = part.get_content_charset() or part.get_param("charset")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    from smtpdiag.bounce.mime import decode_bytes

    assert part_text(fastmime.parse(data)) == decode_bytes(payload, cs if isinstance(cs, str) else None)


def test_context_headers_match_message_get() -> None:
    raw = (
        b"From: =?utf-8?b?0J/RgNC40LLQtdGC?= <a@example.org>\n"
        b"Subject: caf\xc3\xa9 au lait\n"
        b"X-Mailer: One\nX-Mailer: Two\n"
        b"To:  b@example.org,\n  c@example.org\n\nbody\n"
    )
    parsed = fastmime.parse(raw)
    ctx = Context(parsed, walk_parts(parsed))
    msg = _stdlib(raw)
    from smtpdiag.bounce.mime import decode_header

    for name in ("From", "subject", "X-Mailer", "To", "Missing"):
        value = msg.get(name)
        assert ctx.header(name) == (decode_header(value) if value is not None else "")
        assert ctx.header(name) == ctx.header(name)  # memoised answer stays the same
    assert ctx.header_names == frozenset(k.lower() for k in msg)


def test_status_and_original_fields_match_items() -> None:
    raw = (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.example.org\n\n"
        b"Final-Recipient: rfc822; b\xc3\xa9@example.org\nAction: failed\n"
        b"Diagnostic-Code: smtp; 550 5.1.1\n  user   unknown\n\n"
        b"--b\nContent-Type: message/rfc822\n\n"
        b"Received: from a\nReceived: from b\nSubject: =?utf-8?q?caf=C3=A9?=\nFrom: a@example.org\n\nhi\n"
        b"--b--\n"
    )
    children = fastmime.parse(raw).children
    assert children is not None
    status, original = children[0], children[1]
    from smtpdiag.bounce.mime import _unescape, decode_header

    blocks = _stdlib(raw).get_payload()[0].get_payload()
    expected = "\n\n".join(
        "\n".join(f"{k}: {_unescape(decode_header(v))}" for k, v in b.items()) for b in blocks
    )
    assert _status_text(status) == expected
    assert "Diagnostic-Code: smtp; 550 5.1.1 user unknown" in expected
    assert original.children is not None
    assert _headers_text(original.children[0]) == "Subject: café\nFrom: a@example.org"


CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"


def _parts(part: fastmime.Part) -> list[fastmime.Part]:
    """The part and all parts below it, in the order of `Message.walk()`."""
    return [part] + [p for child in part.children or [] for p in _parts(child)]


def test_content_type_is_the_messages_own() -> None:
    odd = [
        _report('multipart/report; report-type=delivery-status; boundary="b"'),
        b"Content-Type: TEXT/Plain ; charset=x\n\nbody\n",
        b"Content-Type: text\n\nbody\n",
        b"Content-Type: a/b/c\n\nbody\n",
        b"Content-Type:\n  text/html\n\nbody\n",
        b"Content-Type: text/h\xc3\xa9ml\n\nbody\n",
        b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nFrom: x\n\nhi\n--d--\n",
    ]
    for raw in odd + [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]:
        expected = [part.get_content_type() for part in _stdlib(raw).walk()]
        assert [part.ctype for part in _parts(fastmime.parse(raw))] == expected
    built = Message()  # built elsewhere and given to analyze(): converted
    built["Content-Type"] = "text/html"
    assert fastmime.from_message(built).ctype == "text/html"


BOUNDARY_TYPES = [
    'multipart/mixed; boundary="abc"',
    "multipart/mixed; boundary=abc",
    "multipart/mixed;\n\tBOUNDARY = abc ",
    'multipart/mixed; boundary="a b; c"',
    'multipart/mixed; boundary=""',
    'multipart/mixed; boundary="ab\\"c"',
    'multipart/mixed; boundary="abc  "',
    "multipart/mixed; boundary=<abc>",
    "multipart/mixed; boundary*0=ab; boundary*1=c",
    "multipart/mixed; charset=x; boundary=a=b",
    'multipart/mixed; x="q"; boundary=abc',
    'multipart/mixed; boundary=ab"c"',
    "multipart/mixed; boundary",
    "multipart/mixed; boundary=one; boundary=two",
    "multipart/mixed",
    "multipart/mixed;;boundary=abc;",
]


@pytest.mark.parametrize("ctype", BOUNDARY_TYPES)
def test_boundary_shortcut_agrees_with_get_boundary(ctype: str) -> None:
    msg = email.message_from_string(f"Content-Type: {ctype}\n\nbody\n", policy=compat32)
    assert fastmime._boundary_of(list(msg.raw_items())) == msg.get_boundary()


def test_boundary_shortcut_on_the_corpus() -> None:
    for path in sorted(CORPUS.glob("*.eml")):
        for part in _stdlib(path.read_bytes()).walk():
            assert fastmime._boundary_of(list(part.raw_items())) == part.get_boundary(), path.name


@pytest.mark.parametrize("ctype", BOUNDARY_TYPES + REPORT_TYPES)
@pytest.mark.parametrize("name", ["boundary", "charset", "report-type"])
def test_plain_param_agrees_with_get_param(ctype: str, name: str) -> None:
    msg = email.message_from_string(f"Content-Type: {ctype}\n\nbody\n", policy=compat32)
    plain, value = fastmime.plain_param(msg.get("content-type"), name)
    if plain:
        assert value == msg.get_param(name)


# Field names and values the fields-views of walk_parts must read as parse_field_blocks reads text:
# names FIELD_LINE_RE takes whole, names it cuts or refuses, repeated names (a second
# Final-Recipient opens a block), blank and folded values, values longer than MAX_FIELD_CHARS.
FIELD_NAMES = [
    "Final-Recipient",
    "final-recipient",
    "Action",
    "Status",
    "X-1",
    "Diagnostic-Code",
    "Subject",
    "To",
    "FROM",
    "Message-ID",
    "cc",
    "Date",
    "X_Under",
    "1abc",
    "A",
    "X" * 41,
    "Y" * 42,
    "a.b",
    "Z-",
]
FIELD_VALUES = [
    "rfc822; a@example.org",
    "",
    "  spaced   out  ",
    "5.1.1",
    "folded\n\tline",
    "x" * 5000,
    "y " * 2100,
    "=?utf-8?q?caf=C3=A9?=",
    "tail  ",
]


def _random_fields(rng: random.Random) -> list[tuple[str, str]]:
    return [(rng.choice(FIELD_NAMES), rng.choice(FIELD_VALUES)) for _ in range(rng.randint(0, 9))]


def test_status_fields_match_parsing_the_status_text() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        blocks = [
            fastmime.Part(_random_fields(rng), "text/plain", "" if rng.random() < 0.95 else "Rest: x")
            for _ in range(rng.randint(1, 4))
        ]
        part = fastmime.Part([], "message/delivery-status", "", blocks)
        text, found = _status_text_and_fields(part)
        if any("=?" in v for b in blocks for _k, v in b.fields) or any(b.body for b in blocks):
            assert found is None
        else:
            assert found == parse_field_blocks(text), blocks


def test_original_headers_fields_match_parsing_the_text() -> None:
    rng = random.Random(8)
    for _ in range(3000):
        original = fastmime.Part(_random_fields(rng), "text/plain")
        text, view = _original_headers(original)
        assert text == _headers_text(original)
        expected: dict[str, str] = {}
        for block in parse_field_blocks(text)[:1]:
            for key in ("message-id", "from", "to", "subject"):
                if key in block:
                    expected[key] = decode_header(block[key])
        assert view == expected, original.fields


INLINE_LINES = [
    "From: a@example.org",
    "from:b@example.org",
    "TO : c@example.org",
    "To: d@example.org",
    "Subject: hello",
    "subject:",
    "Message-ID: <x@y>",
    "Final-Recipient: rfc822; e@example.org",
    "final-recipient: f@example.org",
    "Received: from x",
    "X-Mailer: y",
    "  folded on",
    "\tmore",
    "From a@example.org Mon",
    "> quoted: x",
    "Date: today",
    "Sender: g@example.org",
    "1From: h",
    "S: short",
    "From_: bad",
    "M" * 50 + ": long",
    "Subject: " + "z" * 5000,
    " " + "w " * 3000,
    "",
    "   ",
    "\u3000x",
]


def test_inline_original_fields_match_parsing_the_block() -> None:
    rng = random.Random(9)
    for _ in range(5000):
        lines = [rng.choice(INLINE_LINES) for _ in range(rng.randint(1, 12))]
        expected = _original_fields_of(parse_field_blocks("\n".join(lines)))
        assert _inline_original_fields(lines) == expected, lines
