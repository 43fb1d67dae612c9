"""The light MIME parts give every view the stdlib `Message` tree gave.

The reference is tests/mime_reference.py: the MIME layer as it was (walk_parts and the Context
views over `email.message_from_bytes(..., policy=compat32)`). For every corpus message, its
CRLF variant and mutated and generated messages, the Parts and the Context views (raw_headers,
header names, decoded headers, Received, original fields, status blocks, the inline original,
the report-type parameter) must come out the same, from bytes and from a given Message.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import random
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mime_reference as ref
from smtpdiag.bounce import fastmime
from smtpdiag.bounce.formats.base import Context
from smtpdiag.bounce.mime import parse_bytes, walk_parts

CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"
EMAILS = sorted(CORPUS.glob("*.eml"))

# asked of every message besides its own field names (absent ones, odd spellings)
NAMES = ("Subject", "FROM", "to", "X-SPASIGN", "X-Apple-Unsubscribe", "Auto-Submitted", "Received", "Missing")


def _safely(compute: object) -> object:
    """A view's value, or the name of the exception computing it raised (the same one either way)."""
    try:
        return compute()  # type: ignore[operator]
    except Exception as exc:
        return f"raised {type(exc).__name__}"


def _parts_views(ctx: Context) -> dict[str, object]:
    """The views computed from the Parts alone."""
    parts = dataclasses.asdict(ctx.parts)
    # the fields views walk_parts fills (the reference leaves it None): compared as original_fields
    parts.pop("original_fields")
    parts.pop("status_fields")  # (the same for status_blocks)
    return {
        "parts": parts,
        "original_fields": _safely(lambda: ctx.original_fields),
        "status_blocks": _safely(lambda: ctx.status_blocks),
        "inline_original": _safely(lambda: ctx.inline_original),
    }


def new_views(msg: fastmime.Part | Message) -> object:
    parts = _safely(lambda: walk_parts(msg))
    if isinstance(parts, str):
        return parts
    ctx = Context(msg, parts)  # type: ignore[arg-type]
    names = sorted(ctx.header_names) + list(NAMES)
    return {
        **_parts_views(ctx),
        "raw_headers": ctx.raw_headers,
        "header_names": ctx.header_names,
        "headers": [_safely(lambda n=n: ctx.header(n)) for n in names],
        "received": _safely(lambda: ctx.received),
        "report_type": _safely(lambda: fastmime.get_param(ctx.msg, "report-type")),
    }


def old_views(msg: Message) -> object:
    parts = _safely(lambda: ref.walk_parts(msg))
    if isinstance(parts, str):
        return parts
    ctx = Context(msg, parts)  # type: ignore[arg-type]  # for the views of the Parts alone
    raw = ref.raw_headers(msg)
    names = sorted(raw) + list(NAMES)
    return {
        **_parts_views(ctx),
        "raw_headers": raw,
        "header_names": frozenset(raw),
        "headers": [_safely(lambda n=n: ref.header(msg, n)) for n in names],
        "received": _safely(lambda: ref.received(msg)),
        "report_type": _safely(lambda: ref.report_type(msg)),
    }


def check(data: bytes) -> None:
    expected = old_views(ref.parse_bytes(data))
    assert new_views(parse_bytes(data)) == expected
    # analyze(Message): the Message a caller gives is converted
    given = email.message_from_bytes(data, policy=compat32)
    assert new_views(given) == old_views(email.message_from_bytes(data, policy=compat32))


def test_corpus_messages() -> None:
    assert len(EMAILS) > 400
    for path in EMAILS:
        data = path.read_bytes()
        expected = old_views(ref.parse_bytes(data))
        assert new_views(parse_bytes(data)) == expected, path.name


def test_corpus_messages_given_as_message_objects() -> None:
    for path in EMAILS[::3]:
        data = path.read_bytes()
        given = email.message_from_bytes(data, policy=compat32)
        assert new_views(given) == old_views(given), path.name


def test_messages_parsed_under_another_policy() -> None:
    """A caller's Message may come from policy.default (header objects, another fetch)."""
    for path in EMAILS[::9]:
        data = path.read_bytes()
        given = email.message_from_bytes(data, policy=email.policy.default)
        assert new_views(given) == old_views(given), path.name


def test_corpus_with_crlf_line_ends() -> None:
    for path in EMAILS[::4]:
        check(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


# Lines that steer the MIME layer: transfer encodings, charsets (plain, RFC 2231, unknown),
# 8-bit bytes in fields and bodies, encoded words, structure, a line the parser cannot split.
INSERTS = [
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: Quoted-Printable",
    b"Content-Transfer-Encoding: x-uuencode",
    b"Content-Transfer-Encoding: 8bit \xe9",
    b'Content-Type: text/plain; charset="iso-8859-1"',
    b"Content-Type: text/plain; charset*=utf-8''koi8-r",
    b"Content-Type: text/plain; charset=x-unknown-thing",
    b"Content-Type: text/h\xe9ml",
    b"Content-Type: text/html",
    b"Content-Type: message/rfc822",
    b"Content-Type: message/delivery-status",
    b"Content-Type: multipart/report; report-type=feedback-report; boundary=b",
    b"Content-Type: multipart/mixed; boundary*0=b",
    b"Content-Type: text/rfc822-headers",
    b"Subject: =?utf-8?b?w6k=?= caf\xc3\xa9",
    b"Received: from h\xe9st by x",
    b"X-Apple-Unsubscribe: true",
    b"Final-Recipient: rfc822; u\xe9@example.org",
    b"caf\xe9 \xff body",
    b"SGVsbG8gd29ybGQ=",
    b"caf=E9=\r",
    b"begin 644 x",
    b"boundary=b",
    b"--b",
    b"--b--",
    b"From x",
    b" folded",
    b"",
    b"\r",
]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 6)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        op = rng.randrange(5)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        else:
            lines.insert(i, rng.choice(INSERTS))
    return b"\n".join(lines)


def test_mutated_corpus_messages() -> None:
    rng = random.Random(20261204)
    corpus = [p.read_bytes() for p in EMAILS]
    for _ in range(500):
        check(_mutate(rng.choice(corpus), rng))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"Subject: only a header",
        b"Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n\xf0\xd2\xc9\n",
        b"Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 a\n#86)C\n`\nend\n",
        b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nw6k=\n=\n",
        b"Content-Type: message/rfc822\n\nSubject: caf\xc3\xa9\n"
        b"Content-Type: text/plain; charset=utf-8\n\n\xc3\xa9\n",
        b"Content-Type: message/rfc822\nContent-Type: x\n\nbody \xe9",
        b"Content-Type: multipart/mixed\n\n boundary=zz\n\n--zz\n"
        b"Content-Type: text/plain\n\nhidden\n--zz--\n",
        b"Content-Type: multipart/mixed\n\nboundary=zz\n--zz\nSubject: caf\xc3\xa9\n\nb\xe9dy\n--zz--\n",
        b"Content-Type: text/plain; charset*=utf-8''koi8-r\n\n\xf0\xd2\n",
        b"Content-Type: message/delivery-status\n\nA: caf\xc3\xa9\nB: =?utf-8?q?x?=\n\n\xe9 not a field\n",
    ],
)
def test_edge_cases(data: bytes) -> None:
    check(data)


LINES = [
    b"Content-Type: multipart/mixed; boundary=b",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=c",
    b"Content-Type: message/rfc822",
    b"Content-Type: message/delivery-status",
    b"Content-Type: text/plain; charset=iso-8859-1",
    b"Content-Type: text/html",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"Subject: =?iso-8859-1?q?caf=E9?=",
    b"From: a@example.org",
    b"To: u@example.org",
    b"Action: failed",
    b"Final-Recipient: rfc822; u@example.org",
    b"X-Caf\xe9: \xe9",
    b" folded",
    b"",
    b"--b",
    b"--b--",
    b"--c",
    b"--c--",
    b"From x",
    b"text \xe9",
    b"w6k=",
    b"<p>html</p>",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(LINES), max_size=30), st.sampled_from([b"\n", b"\r\n"]))
def test_generated_messages(lines: list[bytes], eol: bytes) -> None:
    check(eol.join(lines))
